// The dra-driver process against the DRA kubelet stand-in and the API server stand-in: registration,
// slices published and repaired, Prepare and Unprepare with the record on disk, a clean stop.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { stringify } from 'yaml';
import { FakeApiServer } from '../fakes/apiserver.js';
import { FakeDraKubelet } from '../fakes/kubelet-dra.js';
import type { FakeClaim } from '../fakes/resource-api.js';
import { buildDevTree } from '../helpers/dev-tree.js';
import { eventually } from '../helpers/eventually.js';
import { NotifyListener } from '../helpers/notify-listener.js';
import { tempDir } from '../helpers/tmp.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const ROOT = path.resolve('test/fixtures/roots/jupiter');
const PKI = path.resolve('test/fixtures/pki');
const DRIVER = 'runner.riseproject.dev';
const NODE = 'rv-01';

function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key === 'NODE_NAME' || key === 'KUBECONFIG' || key === 'NOTIFY_SOCKET' || key.startsWith('RISCV_RUNNER_NODE_')) delete env[key];
  return env;
}

interface Setup {
  api: FakeApiServer;
  kubelet: FakeDraKubelet;
  dir: string;
  registryDir: string;
  pluginsDir: string;
  stateDir: string;
  cdiDir: string;
  config: string;
  start: (env?: Record<string, string>) => Promise<{ child: ChildProcess; stderr: () => string; exited: Promise<number | null> }>;
}

interface Extra {
  /** More device plugin keys, merged over the test's own. */
  deviceplugin?: Record<string, unknown>;
  /** The resources given to DRA, in place of the test's own. */
  dra?: string[];
}

async function setup(t: ExecutionContext, withDev = true, extra: Extra = {}): Promise<Setup> {
  const api = new FakeApiServer({ tokens: { node: `system:node:${NODE}`, admin: 'system:admin' } });
  const url = await api.start(0);
  t.teardown(() => api.stop());
  api.createNode(NODE);
  const dir = await tempDir(t, 'rrn-dra-');
  const kubeconfig = path.join(dir, 'kubelet.conf');
  await writeFile(kubeconfig, api.kubeconfig('node').replace('    token: node', `    token: node\n    client-certificate: ${PKI}/kubelet-rv-01.crt\n    client-key: ${PKI}/kubelet-rv-01.key`));
  const config = path.join(dir, 'config.yaml');
  await writeFile(
    config,
    stringify({
      dra: { resources: extra.dra ?? (withDev ? ['riseproject.com/runner', 'smarter-devices/ttyUSB0'] : ['riseproject.com/runner']) },
      deviceplugin: {
        maintenanceFile: path.join(dir, 'maintenance'),
        ...(withDev ? { dev: { devices: [{ devicematch: '^ttyUSB0$', nummaxdevices: 1 }] } } : {}),
        ...extra.deviceplugin,
      },
    }),
  );
  await buildDevTree(path.join(dir, 'dev'), ['c ttyUSB0']);
  const registryDir = path.join(dir, 'plugins_registry');
  const pluginsDir = path.join(dir, 'plugins');
  const stateDir = path.join(dir, 'state');
  const cdiDir = path.join(dir, 'cdi');
  await buildDevTree(cdiDir, []);
  const kubelet = new FakeDraKubelet({ registryDir, nodeName: NODE, api: { url, token: 'node' }, scanIntervalMs: 100, unregisterDelayMs: 200 });
  t.teardown(() => kubelet.stop());
  const start = async (env: Record<string, string> = {}) => {
    const child = spawn(
      process.execPath,
      [CLI, 'dra-driver', '--config', config, '--root', ROOT, '--dev-dir', path.join(dir, 'dev'), '--kubeconfig', kubeconfig,
        '--registry-dir', registryDir, '--plugins-dir', pluginsDir, '--state-dir', stateDir, '--cdi-dir', cdiDir],
      { env: { ...cleanEnv(), ...env }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    t.teardown(() => child.kill('SIGKILL'));
    return { child, stderr: () => stderr, exited };
  };
  return { api, kubelet, dir, registryDir, pluginsDir, stateDir, cdiDir, config, start };
}

function claim(uid: string, name: string, results: Array<{ request: string; driver: string; pool: string; device: string }>): FakeClaim {
  return { apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim', metadata: { namespace: 'ci', name, uid }, spec: {}, status: { allocation: { devices: { results } } } };
}

const ours = (api: FakeApiServer) => api.resource.slicesOf(NODE, DRIVER);

test('registers through the plugin watcher on v1, publishes every device with every attribute, repairs a wipe, stops removing both sockets', async (t) => {
  const s = await setup(t);
  await s.kubelet.start();
  const driver = await s.start();
  await s.kubelet.waitFor(() => s.kubelet.isRegistered(DRIVER), 15_000, 'registration');
  t.like(s.kubelet.plugins()[0], { service: 'v1.DRAPlugin', endpoint: path.join(s.pluginsDir, DRIVER, 'dra.sock'), socket: path.join(s.registryDir, `${DRIVER}-reg.sock`) });
  t.true(await eventually(() => ours(s.api).length === 1, 10_000), driver.stderr());
  const slice = ours(s.api)[0]!;
  t.deepEqual(slice.spec.devices?.map((d) => d.name), ['runner-0', 'ttyusb0-0']);
  t.deepEqual(slice.metadata.ownerReferences, [{ apiVersion: 'v1', kind: 'Node', name: NODE, uid: `uid-${NODE}`, controller: true }]);
  t.like(slice.spec, { nodeName: NODE, pool: { name: NODE, generation: 0, resourceSliceCount: 1 } });
  for (const d of slice.spec.devices ?? []) {
    t.like(d.attributes, { board: { string: 'cloudv10x-jupiter' }, harts: { int: 8 }, isa_v: { bool: true }, isa_h: { bool: false }, mimpid: { string: '0x1000000049772200' } });
    t.is(Object.keys(d.attributes ?? {}).length, 30);
  }
  // Nothing changed: nothing written.
  const writes = s.api.writes;
  await new Promise((r) => setTimeout(r, 500));
  t.is(s.api.writes, writes);

  // A kubelet restart wipes every slice of the node; the driver puts its own back.
  await s.kubelet.restart();
  await s.kubelet.waitFor(() => s.kubelet.wipes.length === 2, 10_000, 'the wipe');
  t.true(await eventually(() => ours(s.api).length === 1 && ours(s.api)[0]!.metadata.name !== slice.metadata.name, 10_000), 'the slice comes back');
  t.is(ours(s.api)[0]!.spec.pool.generation, 0, 'a repair keeps the generation');
  await s.kubelet.waitFor(() => s.kubelet.plugins().some((p) => p.generation === 2), 10_000, 'registered with the restarted kubelet');

  driver.child.kill('SIGTERM');
  t.is(await driver.exited, 0);
  t.false(existsSync(path.join(s.registryDir, `${DRIVER}-reg.sock`)));
  t.false(existsSync(path.join(s.pluginsDir, DRIVER, 'dra.sock')));
});

test("Prepare: our device with its CDI ID, another driver's results ignored, every claim answered; Unprepare twice, after a restart and with the claim deleted", async (t) => {
  const s = await setup(t);
  await s.kubelet.start();
  let driver = await s.start();
  await s.kubelet.waitFor(() => s.kubelet.isRegistered(DRIVER), 15_000, 'registration');
  s.api.resource.addPod({ namespace: 'ci', name: 'runner', uid: 'pod-1', nodeName: NODE, claims: ['mine', 'theirs'] });
  s.api.resource.putClaim(claim('uid-mine', 'mine', [
    { request: 'runner', driver: DRIVER, pool: NODE, device: 'runner-0' },
    { request: 'serial/first', driver: DRIVER, pool: NODE, device: 'ttyusb0-0' },
    { request: 'gpu', driver: 'gpu.example.com', pool: NODE, device: 'gpu-0' },
  ]));
  s.api.resource.putClaim(claim('uid-theirs', 'theirs', [{ request: 'gpu', driver: 'gpu.example.com', pool: NODE, device: 'gpu-1' }]));
  const answer = await s.kubelet.prepare(DRIVER, [
    { namespace: 'ci', name: 'mine', uid: 'uid-mine' },
    { namespace: 'ci', name: 'theirs', uid: 'uid-theirs' },
  ]);
  t.is(answer['uid-mine']?.error, '');
  t.deepEqual(answer['uid-mine']?.devices, [
    { request_names: ['runner'], pool_name: NODE, device_name: 'runner-0', cdi_device_ids: [] },
    { request_names: ['serial'], pool_name: NODE, device_name: 'ttyusb0-0', cdi_device_ids: [`${DRIVER}/device=uid-mine-ttyusb0-0`] },
  ]);
  t.deepEqual(answer['uid-theirs'], { devices: [], error: '' });
  const spec = JSON.parse(await readFile(path.join(s.cdiDir, `${DRIVER}-uid-mine.json`), 'utf8')) as Record<string, unknown>;
  t.deepEqual(spec, { cdiVersion: '0.3.0', kind: `${DRIVER}/device`, devices: [{ name: 'uid-mine-ttyusb0-0', containerEdits: { deviceNodes: [{ path: '/dev/ttyUSB0' }] } }] });
  t.deepEqual(await readdir(s.stateDir), ['uid-mine.json']);

  // Idempotent: the same answer again, and a wrong UID is the claim's own error.
  t.deepEqual((await s.kubelet.prepareClaim(DRIVER, { namespace: 'ci', name: 'mine', uid: 'uid-mine' })).devices, answer['uid-mine']?.devices);
  const replaced = await s.kubelet.prepareClaim(DRIVER, { namespace: 'ci', name: 'mine', uid: 'uid-old' });
  t.regex(replaced.error, /now has UID uid-mine: it was deleted and created again/);
  // Another claim for the same device is refused while the first holds it.
  s.api.resource.addPod({ namespace: 'ci', name: 'second', uid: 'pod-2', nodeName: NODE, claims: ['dup'] });
  s.api.resource.putClaim(claim('uid-dup', 'dup', [{ request: 'runner', driver: DRIVER, pool: NODE, device: 'runner-0' }]));
  t.regex((await s.kubelet.prepareClaim(DRIVER, { namespace: 'ci', name: 'dup', uid: 'uid-dup' })).error, /runner-0 is already prepared for claim ci\/mine/);

  // The driver restarts and the claim is deleted meanwhile: Unprepare works from our record, twice.
  driver.child.kill('SIGTERM');
  t.is(await driver.exited, 0);
  s.api.resource.deleteClaim('ci', 'mine');
  driver = await s.start();
  await s.kubelet.waitFor(() => s.kubelet.plugins().length === 1 && s.kubelet.registrations.length === 2, 15_000, 'registration again');
  const claims = [{ namespace: 'ci', name: 'mine', uid: 'uid-mine' }, { namespace: 'ci', name: 'never', uid: 'uid-never' }];
  t.deepEqual(await s.kubelet.unprepare(DRIVER, claims), { 'uid-mine': { error: '' }, 'uid-never': { error: '' } });
  t.false(existsSync(path.join(s.cdiDir, `${DRIVER}-uid-mine.json`)));
  t.deepEqual(await readdir(s.stateDir), []);
  t.deepEqual(await s.kubelet.unprepare(DRIVER, claims), { 'uid-mine': { error: '' }, 'uid-never': { error: '' } });
  // Now free: the other claim gets the device.
  t.is((await s.kubelet.prepareClaim(DRIVER, { namespace: 'ci', name: 'dup', uid: 'uid-dup' })).error, '');
  driver.child.kill('SIGTERM');
  t.is(await driver.exited, 0);
});

test("Prepare: a device's environment is what the device plugin's Allocate gives, for all of a request's devices of a resource together", async (t) => {
  const s = await setup(t, true, {
    deviceplugin: {
      allocateEnv: { RUNNER_POOL: 'rise' },
      virtual: { deviceMapping: [{ hosts: [NODE], devices: ['a', 'b'].map((id) => ({ resourceName: 'example.com/licence', instanceID: id, env: { SEAT: `seat-${id}` } })) }] },
    },
    dra: ['riseproject.com/runner', 'smarter-devices/ttyUSB0', 'example.com/licence'],
  });
  await s.kubelet.start();
  const driver = await s.start();
  await s.kubelet.waitFor(() => s.kubelet.isRegistered(DRIVER), 15_000, 'registration');
  t.true(await eventually(() => ours(s.api)[0]?.spec.devices?.length === 4, 10_000), driver.stderr());
  s.api.resource.addPod({ namespace: 'ci', name: 'job', uid: 'pod-env', nodeName: NODE, claims: ['job'] });
  s.api.resource.putClaim(claim('uid-job', 'job', [
    { request: 'runner', driver: DRIVER, pool: NODE, device: 'runner-0' },
    { request: 'seats', driver: DRIVER, pool: NODE, device: 'licence-b' },
    { request: 'seats', driver: DRIVER, pool: NODE, device: 'licence-a' },
    { request: 'serial', driver: DRIVER, pool: NODE, device: 'ttyusb0-0' },
  ]));
  const answer = await s.kubelet.prepareClaim(DRIVER, { namespace: 'ci', name: 'job', uid: 'uid-job' });
  t.is(answer.error, '');
  t.deepEqual(answer.devices.map((d) => [d.device_name, d.cdi_device_ids]), [
    ['runner-0', [`${DRIVER}/device=uid-job-runner-0`]],
    ['licence-b', [`${DRIVER}/device=uid-job-licence-b`]],
    ['licence-a', [`${DRIVER}/device=uid-job-licence-a`]],
    ['ttyusb0-0', [`${DRIVER}/device=uid-job-ttyusb0-0`]],
  ]);
  const spec = JSON.parse(await readFile(path.join(s.cdiDir, `${DRIVER}-uid-job.json`), 'utf8')) as { devices: Array<{ name: string; containerEdits: { env?: string[]; deviceNodes?: unknown } }> };
  const edits = new Map(spec.devices.map((d) => [d.name, d.containerEdits]));
  t.deepEqual(edits.get('uid-job-runner-0'), { env: ['RUNNER_POOL=rise'] });
  // spookd's answer for [b, a] in the claim's order, the same on both devices of the request.
  const seats = [
    'EXAMPLECOM_LICENCE_NUM_DEVICES=2',
    'EXAMPLECOM_LICENCE_DEV0_ID=b',
    'EXAMPLECOM_LICENCE_DEV0_TYPE=example.com/licence',
    'EXAMPLECOM_LICENCE_DEV0_SEAT=seat-b',
    'EXAMPLECOM_LICENCE_ID=b',
    'EXAMPLECOM_LICENCE_TYPE=example.com/licence',
    'EXAMPLECOM_LICENCE_SEAT=seat-b',
    'EXAMPLECOM_LICENCE_DEV1_ID=a',
    'EXAMPLECOM_LICENCE_DEV1_TYPE=example.com/licence',
    'EXAMPLECOM_LICENCE_DEV1_SEAT=seat-a',
  ];
  t.deepEqual(edits.get('uid-job-licence-b'), { env: seats });
  t.deepEqual(edits.get('uid-job-licence-a'), { env: seats });
  // A /dev entry has no variables of its own: device nodes only, as before.
  t.deepEqual(edits.get('uid-job-ttyusb0-0'), { deviceNodes: [{ path: '/dev/ttyUSB0' }] });
  driver.child.kill('SIGTERM');
  t.is(await driver.exited, 0);
});

test('SIGHUP, as systemctl reload sends it: RELOADING=1 with MONOTONIC_USEC, the new config published, READY=1; a bad config keeps the old devices', async (t) => {
  const s = await setup(t);
  const listener = await NotifyListener.start(s.dir);
  t.teardown(() => listener.close());
  await s.kubelet.start();
  const driver = await s.start({ NOTIFY_SOCKET: listener.socketPath });
  await s.kubelet.waitFor(() => s.kubelet.isRegistered(DRIVER), 15_000, 'registration');
  t.true(await eventually(() => ours(s.api)[0]?.spec.devices?.length === 2, 10_000), driver.stderr());
  await listener.waitFor((a) => a.includes('READY=1'));
  const readies = (a: string[]): number => a.filter((x) => x === 'READY=1').length;

  // The serial console leaves the config: one reload takes it out of the slice.
  const text = await readFile(s.config, 'utf8');
  await writeFile(s.config, text.replace(/^ *- smarter-devices\/ttyUSB0\n/m, ''));
  let seen = listener.assignments.length;
  let before = readies(listener.assignments);
  driver.child.kill('SIGHUP');
  await listener.waitFor((a) => readies(a) > before);
  // STATUS lines come and go between them as the slice is published.
  const notStatus = (from: number): string[] => listener.assignments.slice(from).filter((a) => !a.startsWith('STATUS='));
  const reload = notStatus(seen);
  t.is(reload[0], 'RELOADING=1');
  t.regex(reload[1] ?? '', /^MONOTONIC_USEC=\d+$/);
  t.true(reload.indexOf('READY=1') > 1);
  t.true(await eventually(() => ours(s.api)[0]?.spec.devices?.map((d) => d.name).join() === 'runner-0', 10_000), driver.stderr());
  t.is(s.kubelet.registrations.length, 1, 'the same registration');

  // A config that does not parse: READY=1 all the same (systemctl must not hang), the devices stay.
  await writeFile(s.config, 'dra: [nope\n');
  seen = listener.assignments.length;
  before = readies(listener.assignments);
  driver.child.kill('SIGHUP');
  await listener.waitFor((a) => readies(a) > before);
  t.is(notStatus(seen)[0], 'RELOADING=1');
  t.true(await eventually(() => driver.stderr().includes('config reload failed'), 5_000), driver.stderr());
  t.deepEqual(ours(s.api)[0]?.spec.devices?.map((d) => d.name), ['runner-0']);
  driver.child.kill('SIGTERM');
  t.is(await driver.exited, 0);
});

test('the maintenance flag withdraws the runner from the slice and its removal brings it back, with the next generation each time', async (t) => {
  const s = await setup(t, false);
  await s.kubelet.start();
  const driver = await s.start();
  t.true(await eventually(() => ours(s.api).length === 1, 15_000), driver.stderr());
  await writeFile(path.join(s.dir, 'maintenance'), 'reason: test\n');
  t.true(await eventually(() => ours(s.api).length === 0, 15_000), 'no device, no slice');
  await rm(path.join(s.dir, 'maintenance'));
  t.true(await eventually(() => ours(s.api).length === 1, 15_000));
  t.is(ours(s.api)[0]?.spec.pool.generation, 2);
  driver.child.kill('SIGTERM');
  t.is(await driver.exited, 0);
});
