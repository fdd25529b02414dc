// The DRA kubelet stand-in itself, checked against what reference/kubelet-dra.md says the kubelet does.
import { mkdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import * as grpc from '@grpc/grpc-js';
import { draV1Api, draV1beta1Api, registrationApi } from '../../src/dra/proto.js';
import { FakeApiServer } from '../fakes/apiserver.js';
import { FakeDraKubelet } from '../fakes/kubelet-dra.js';
import { tempDir } from '../helpers/tmp.js';

interface BareOptions {
  type?: string;
  name?: string;
  versions: string[];
  /** Serve the DRA service on the registration socket and leave endpoint empty. */
  oneSocket?: boolean;
  /** Answers NodePrepareResources with this map instead of one empty entry per claim. */
  prepareAnswer?: (uids: string[]) => Record<string, { devices: unknown[]; error: string }>;
}

async function bind(server: grpc.Server, socket: string): Promise<void> {
  await new Promise<void>((r, j) => server.bindAsync(`unix:${socket}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? j(e) : r())));
}

/** A plugin written directly against grpc-js, independent of src/dra: what the stand-in must accept or refuse. */
async function barePlugin(t: ExecutionContext, dir: string, regSocket: string, options: BareOptions) {
  const notified: Array<{ plugin_registered: boolean; error: string }> = [];
  const draSocket = path.join(dir, 'dra.sock');
  const dra = {
    NodePrepareResources: (call: grpc.ServerUnaryCall<{ claims: Array<{ uid: string }> }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      const uids = call.request.claims.map((c) => c.uid);
      cb(null, { claims: options.prepareAnswer ? options.prepareAnswer(uids) : Object.fromEntries(uids.map((u) => [u, { devices: [], error: '' }])) });
    },
    NodeUnprepareResources: (call: grpc.ServerUnaryCall<{ claims: Array<{ uid: string }> }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      cb(null, { claims: Object.fromEntries(call.request.claims.map((c) => [c.uid, { error: '' }])) });
    },
  };
  const registration = {
    GetInfo: (_c: unknown, cb: grpc.sendUnaryData<unknown>) =>
      cb(null, { type: options.type ?? 'DRAPlugin', name: options.name ?? 'bare.example.com', endpoint: options.oneSocket ? '' : draSocket, supported_versions: options.versions }),
    NotifyRegistrationStatus: (call: grpc.ServerUnaryCall<{ plugin_registered: boolean; error: string }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      notified.push(call.request);
      cb(null, {});
    },
  };
  const servers: grpc.Server[] = [];
  const regServer = new grpc.Server();
  regServer.addService(registrationApi().Registration.service, registration);
  if (options.oneSocket) {
    regServer.addService(draV1Api().DRAPlugin.service, dra);
  } else {
    const draServer = new grpc.Server();
    draServer.addService(draV1Api().DRAPlugin.service, dra);
    draServer.addService(draV1beta1Api().DRAPlugin.service, dra);
    await bind(draServer, draSocket);
    servers.push(draServer);
  }
  await mkdir(path.dirname(regSocket), { recursive: true });
  await bind(regServer, regSocket);
  servers.push(regServer);
  t.teardown(() => servers.forEach((s) => s.forceShutdown()));
  return { notified, draSocket };
}

async function kubeletIn(t: ExecutionContext, extra: Partial<ConstructorParameters<typeof FakeDraKubelet>[0]> = {}) {
  const dir = await tempDir(t, 'rrn-fkd-');
  const registryDir = path.join(dir, 'plugins_registry');
  const kubelet = new FakeDraKubelet({ registryDir, nodeName: 'rv-1', scanIntervalMs: 50, unregisterDelayMs: 100, ...extra });
  t.teardown(() => kubelet.stop());
  return { dir, registryDir, kubelet };
}

test('GetInfo with type DRAPlugin and v1 first: registered on v1, Notify(true), the endpoint as given', async (t) => {
  const { dir, registryDir, kubelet } = await kubeletIn(t);
  const plugin = await barePlugin(t, dir, path.join(registryDir, 'bare.example.com-reg.sock'), { versions: ['v1.DRAPlugin', 'v1beta1.DRAPlugin'] });
  await kubelet.start();
  await kubelet.waitFor(() => plugin.notified.length > 0, 5000, 'Notify');
  t.deepEqual(plugin.notified, [{ plugin_registered: true, error: '' }]);
  t.like(kubelet.plugins()[0], { driver: 'bare.example.com', service: 'v1.DRAPlugin', endpoint: plugin.draSocket });
  t.true(kubelet.isRegistered('bare.example.com'));
});

test("the plugin's order decides: v1beta1 listed first is what the kubelet uses", async (t) => {
  const { dir, registryDir, kubelet } = await kubeletIn(t);
  await barePlugin(t, dir, path.join(registryDir, 'x-reg.sock'), { versions: ['v1beta1.DRAPlugin', 'v1.DRAPlugin'] });
  await kubelet.start();
  await kubelet.waitFor(() => kubelet.plugins().length === 1, 5000, 'registration');
  t.is(kubelet.plugins()[0]?.service, 'v1beta1.DRAPlugin');
  // The v1beta1 service answers: the messages are the same on the wire.
  const answer = await kubelet.prepare('bare.example.com', [{ namespace: 'ns', name: 'c', uid: 'u1' }]);
  t.deepEqual(Object.keys(answer), ['u1']);
});

test('versions the kubelet does not know: Notify(false) naming what it accepts, then GetInfo again with backoff', async (t) => {
  const { dir, registryDir, kubelet } = await kubeletIn(t);
  const plugin = await barePlugin(t, dir, path.join(registryDir, 'x-reg.sock'), { versions: ['1.0.0', 'k8s.io.kubelet.pkg.apis.dra.v1.DRAPlugin'] });
  await kubelet.start();
  await kubelet.waitFor(() => kubelet.getInfoCalls.length >= 2, 5000, 'a second GetInfo');
  t.false(plugin.notified[0]?.plugin_registered ?? true);
  t.regex(plugin.notified[0]?.error ?? '', /plugin validation failed.*v1\.DRAPlugin, v1beta1\.DRAPlugin/);
  const [first, second] = kubelet.getInfoCalls;
  t.true((second?.at ?? 0) - (first?.at ?? 0) >= 450, 'the retry waits for the 500 ms backoff');
  t.false(kubelet.isRegistered('bare.example.com'));
});

test('a type other than DRAPlugin: no handler for it', async (t) => {
  const { dir, registryDir, kubelet } = await kubeletIn(t);
  const plugin = await barePlugin(t, dir, path.join(registryDir, 'x-reg.sock'), { type: 'CSIPlugin', versions: ['v1.DRAPlugin'] });
  await kubelet.start();
  await kubelet.waitFor(() => plugin.notified.length > 0, 5000, 'Notify');
  t.regex(plugin.notified[0]?.error ?? '', /no handler registered for plugin type: CSIPlugin/);
});

test('subdirectories are watched, names starting with "." are not; an empty endpoint is the registration socket', async (t) => {
  const { dir, registryDir, kubelet } = await kubeletIn(t);
  await barePlugin(t, dir, path.join(registryDir, '.hidden-reg.sock'), { name: 'hidden.example.com', versions: ['v1.DRAPlugin'] });
  const inSub = path.join(registryDir, 'sub', 'one-reg.sock');
  const plugin = await barePlugin(t, path.join(dir, 'sub'), inSub, { name: 'one.example.com', versions: ['v1.DRAPlugin'], oneSocket: true });
  await kubelet.start();
  await kubelet.waitFor(() => plugin.notified.length > 0, 5000, 'Notify');
  await new Promise((r) => setTimeout(r, 200));
  t.deepEqual(kubelet.plugins().map((p) => [p.driver, p.endpoint]), [['one.example.com', inSub]]);
  t.false(kubelet.getInfoCalls.some((c) => c.socket.includes('.hidden')));
});

test('Prepare: every claim must be answered, an unknown UID is an error, an unregistered driver fails before any RPC', async (t) => {
  const { dir, registryDir, kubelet } = await kubeletIn(t);
  let answer: (uids: string[]) => Record<string, { devices: unknown[]; error: string }> = () => ({});
  await barePlugin(t, dir, path.join(registryDir, 'x-reg.sock'), { versions: ['v1.DRAPlugin'], prepareAnswer: (u) => answer(u) });
  await kubelet.start();
  await kubelet.waitFor(() => kubelet.plugins().length === 1, 5000, 'registration');
  const claims = [{ namespace: 'ns', name: 'a', uid: 'ua' }, { namespace: 'ns', name: 'b', uid: 'ub' }];
  answer = () => ({ ua: { devices: [], error: '' } });
  await t.throwsAsync(kubelet.prepare('bare.example.com', claims), { message: 'NodePrepareResources skipped 1 ResourceClaims' });
  answer = (u) => ({ ...Object.fromEntries(u.map((x) => [x, { devices: [], error: '' }])), other: { devices: [], error: '' } });
  await t.throwsAsync(kubelet.prepare('bare.example.com', claims), { message: /unexpected claim UID other/ });
  await t.throwsAsync(kubelet.prepare('nobody.example.com', claims), { message: 'DRA driver nobody.example.com is not registered' });
});

test("a restart registers the sockets it finds again and deletes every slice of its node, not another node's", async (t) => {
  const api = new FakeApiServer({ tokens: { admin: 'system:admin', n1: 'system:node:rv-1' } });
  const url = await api.start(0);
  t.teardown(() => api.stop());
  const put = (name: string, nodeName: string, driver: string) =>
    fetch(`${url}/apis/resource.k8s.io/v1/resourceslices`, {
      method: 'POST',
      headers: { Authorization: 'Bearer admin', 'Content-Type': 'application/json' },
      body: JSON.stringify({ metadata: { name }, spec: { driver, nodeName, pool: { name: nodeName, generation: 0, resourceSliceCount: 1 }, devices: [] } }),
    });
  const { dir, registryDir, kubelet } = await kubeletIn(t, { api: { url, token: 'n1' } });
  const plugin = await barePlugin(t, dir, path.join(registryDir, 'x-reg.sock'), { versions: ['v1.DRAPlugin'] });
  await kubelet.start();
  await kubelet.waitFor(() => kubelet.wipes.length === 1 && plugin.notified.length === 1, 5000, 'first start');
  for (const [n, node, d] of [['a', 'rv-1', 'bare.example.com'], ['b', 'rv-1', 'other.example.com'], ['c', 'rv-2', 'bare.example.com']] as const) {
    t.is((await put(n, node, d)).status, 201);
  }
  await kubelet.restart();
  // At least: a refused first wipe (and its retry) must fail on its status below, not time out here.
  await kubelet.waitFor(() => kubelet.wipes.length >= 2 && plugin.notified.length >= 2, 5000, () => `the restart (wipes ${JSON.stringify(kubelet.wipes)}, ${plugin.notified.length} notified)`);
  t.is(kubelet.wipes[1]?.selector, 'spec.nodeName=rv-1');
  t.is(kubelet.wipes[1]?.status, 200);
  t.is(plugin.notified.length, 2);
  t.deepEqual([...api.resource.slices.keys()], ['c']);
  const getInfo = kubelet.getInfoCalls[1]?.at ?? 0;
  t.true((kubelet.wipes[1]?.at ?? 0) >= getInfo, 'the wipe follows the GetInfo of the new start');
  t.is(kubelet.plugins()[0]?.generation, 2);
});

test('a removed socket is unregistered with no RPC; the driver slices go after the wiping delay; a recreated socket registers again', async (t) => {
  const api = new FakeApiServer({ tokens: { n1: 'system:node:rv-1' } });
  const url = await api.start(0);
  t.teardown(() => api.stop());
  const { dir, registryDir, kubelet } = await kubeletIn(t, { api: { url, token: 'n1' }, wipingDelayMs: 300 });
  const reg = path.join(registryDir, 'x-reg.sock');
  const plugin = await barePlugin(t, dir, reg, { versions: ['v1.DRAPlugin'] });
  await kubelet.start();
  await kubelet.waitFor(() => kubelet.plugins().length === 1 && kubelet.wipes.length === 1, 5000, 'registration');
  await unlink(reg);
  await kubelet.waitFor(() => !kubelet.isRegistered('bare.example.com'), 5000, 'unregistration');
  t.is(plugin.notified.length, 1, 'no RPC on removal');
  await kubelet.waitFor(() => kubelet.wipes.length === 2, 5000, 'the driver wipe');
  t.is(kubelet.wipes[1]?.selector, 'spec.nodeName=rv-1,spec.driver=bare.example.com');
  await mkdir(path.join(dir, 'again'));
  const again = await barePlugin(t, path.join(dir, 'again'), reg, { versions: ['v1.DRAPlugin'] });
  await kubelet.waitFor(() => again.notified.length === 1, 5000, 'registration of the new socket');
  t.true(again.notified[0]?.plugin_registered ?? false);
});
