// The kubelet stand-in itself, checked against what reference/kubelet-device-plugin.md says the kubelet does.
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { devicePluginApi } from '../../src/deviceplugin/proto.js';
import type { DevicePluginHandlers } from '../../src/generated/v1beta1/DevicePlugin.js';
import { FakeKubelet, kubeletAcceptsResourceName, resolveCdiDevices } from '../fakes/kubelet.js';
import { tempDir } from '../helpers/tmp.js';

function register(socket: string, req: { version: string; endpoint: string; resource_name: string }): Promise<void> {
  const client = new (devicePluginApi().Registration)(`unix:${socket}`, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) =>
    client.Register({ ...req, options: {} }, { deadline: new Date(Date.now() + 15_000) }, (err) => {
      client.close();
      if (err) reject(err);
      else resolve();
    }),
  );
}

/** A bare plugin written directly against grpc-js, independent of src/deviceplugin; a test may replace handlers. */
async function bareplugin(t: import('ava').ExecutionContext, socket: string, devices: Array<{ ID: string; health: string }>, own: Partial<DevicePluginHandlers> = {}) {
  let authority: string | undefined;
  let stream: grpc.ServerWritableStream<unknown, unknown> | undefined;
  const handlers: DevicePluginHandlers = {
    GetDevicePluginOptions: (call, cb) => {
      authority = call.getHost();
      cb(null, {});
    },
    ListAndWatch: (call) => {
      stream = call as unknown as grpc.ServerWritableStream<unknown, unknown>;
      call.write({ devices });
    },
    GetPreferredAllocation: (_c, cb) => cb(null, { container_responses: [] }),
    Allocate: (_c, cb) => cb(null, { container_responses: [{}] }),
    PreStartContainer: (_c, cb) => cb(null, {}),
    ...own,
  };
  const server = new grpc.Server();
  server.addService(devicePluginApi().DevicePlugin.service, handlers);
  await new Promise<void>((r, j) => server.bindAsync(`unix:${socket}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? j(e) : r())));
  t.teardown(() => server.forceShutdown());
  return { server, authority: () => authority, stream: () => stream };
}

const names: Array<[string, boolean]> = [
  ['riseproject.com/runner', true],
  ['runner', false],
  ['riseproject.com/foo bar', false],
  ['kubernetes.io/runner', false],
  [`example.com/${'x'.repeat(64)}`, false],
];
for (const [name, ok] of names) {
  test(`the stand-in ${ok ? 'accepts' : 'refuses'} resource name '${name.slice(0, 30)}'`, (t) => {
    t.is(kubeletAcceptsResourceName(name), ok);
  });
}

test('on start it removes every socket in the directory, keeps plain files and folders', async (t) => {
  const dir = await tempDir(t, 'rrn-fk-');
  const stale = net.createServer();
  await new Promise<void>((r) => stale.listen(path.join(dir, 'other.sock'), r));
  await writeFile(path.join(dir, 'kubelet_internal_checkpoint'), '{}');
  await mkdir(path.join(dir, 'folder'));
  const kubelet = new FakeKubelet({ dir });
  t.teardown(() => kubelet.stop());
  await kubelet.start();
  stale.close();
  t.false(existsSync(path.join(dir, 'other.sock')));
  t.true(existsSync(path.join(dir, 'kubelet_internal_checkpoint')));
  t.true(existsSync(path.join(dir, 'folder')));
  t.true(existsSync(path.join(dir, 'kubelet.sock')));
});

test('Register: wrong version and invalid resource name are refused', async (t) => {
  const dir = await tempDir(t, 'rrn-fk-');
  const kubelet = new FakeKubelet({ dir });
  t.teardown(() => kubelet.stop());
  await kubelet.start();
  await t.throwsAsync(register(kubelet.socketPath, { version: 'v1alpha', endpoint: 'p.sock', resource_name: 'a.com/b' }), {
    message: /version v1alpha is not supported/,
  });
  await t.throwsAsync(register(kubelet.socketPath, { version: 'v1beta1', endpoint: 'p.sock', resource_name: 'bad name' }), {
    message: /not an extended resource name/,
  });
  t.is(kubelet.registrations.length, 0);
});

test('Register dials the plugin back before answering: a plugin not serving fails its own registration', async (t) => {
  const dir = await tempDir(t, 'rrn-fk-');
  const kubelet = new FakeKubelet({ dir, dialTimeoutMs: 500 });
  t.teardown(() => kubelet.stop());
  await kubelet.start();
  await t.throwsAsync(register(kubelet.socketPath, { version: 'v1beta1', endpoint: 'nobody.sock', resource_name: 'a.com/b' }), {
    message: /failed to dial device plugin/,
  });
  t.is(kubelet.registrations.length, 0);
});

test('after Register it runs ListAndWatch, dialing with authority localhost; only "Healthy" counts', async (t) => {
  const dir = await tempDir(t, 'rrn-fk-');
  const kubelet = new FakeKubelet({ dir });
  t.teardown(() => kubelet.stop());
  await kubelet.start();
  const plugin = await bareplugin(t, path.join(dir, 'p.sock'), [
    { ID: 'a', health: 'Healthy' },
    { ID: 'b', health: 'healthy' },
    { ID: 'c', health: 'Unhealthy' },
  ]);
  await register(kubelet.socketPath, { version: 'v1beta1', endpoint: 'p.sock', resource_name: 'a.com/b' });
  t.is(plugin.authority(), 'localhost');
  await kubelet.waitFor(() => kubelet.capacity('a.com/b') === 3, 5000, 'devices');
  t.is(kubelet.allocatable('a.com/b'), 1);
  // When the stream ends, allocatable drops to 0 at once; capacity stays.
  plugin.stream()?.end();
  await kubelet.waitFor(() => kubelet.allocatable('a.com/b') === 0, 5000, 'stream end');
  t.is(kubelet.capacity('a.com/b'), 3);
});

test('refuses N registrations when told to, then accepts; a newer registration replaces the older', async (t) => {
  const dir = await tempDir(t, 'rrn-fk-');
  const kubelet = new FakeKubelet({ dir, refuseRegistrations: 1 });
  t.teardown(() => kubelet.stop());
  await kubelet.start();
  await bareplugin(t, path.join(dir, 'p1.sock'), [{ ID: 'x', health: 'Healthy' }]);
  await bareplugin(t, path.join(dir, 'p2.sock'), [{ ID: 'y', health: 'Healthy' }, { ID: 'z', health: 'Healthy' }]);
  const req = { version: 'v1beta1', endpoint: 'p1.sock', resource_name: 'a.com/b' };
  await t.throwsAsync(register(kubelet.socketPath, req), { message: /not ready/ });
  await register(kubelet.socketPath, req);
  await kubelet.waitFor(() => kubelet.capacity('a.com/b') === 1, 5000, 'first endpoint');
  await register(kubelet.socketPath, { ...req, endpoint: 'p2.sock' });
  await kubelet.waitFor(() => kubelet.capacity('a.com/b') === 2, 5000, 'second endpoint');
  t.deepEqual(kubelet.devices('a.com/b').map((d) => d.ID), ['y', 'z']);
});

test('restart: new generation, every socket removed, kubelet.sock listening again', async (t) => {
  const dir = await tempDir(t, 'rrn-fk-');
  const kubelet = new FakeKubelet({ dir, dialTimeoutMs: 500 });
  t.teardown(() => kubelet.stop());
  await kubelet.start();
  await bareplugin(t, path.join(dir, 'p.sock'), [{ ID: 'a', health: 'Healthy' }]);
  await kubelet.restart();
  t.is(kubelet.generation, 2);
  t.false(existsSync(path.join(dir, 'p.sock')));
  await t.throwsAsync(register(kubelet.socketPath, { version: 'v1beta1', endpoint: 'p.sock', resource_name: 'a.com/b' }), {
    message: /failed to dial/,
  });
});

test('streamsOpened counts one per ListAndWatch: per resource, none for an update, again for a newer registration', async (t) => {
  const dir = await tempDir(t, 'rrn-fk-');
  const kubelet = new FakeKubelet({ dir });
  t.teardown(() => kubelet.stop());
  await kubelet.start();
  await bareplugin(t, path.join(dir, 'p1.sock'), [{ ID: 'x', health: 'Healthy' }]);
  const two = await bareplugin(t, path.join(dir, 'p2.sock'), [{ ID: 'y', health: 'Healthy' }]);
  t.deepEqual([...kubelet.streamsOpened], []);
  await register(kubelet.socketPath, { version: 'v1beta1', endpoint: 'p1.sock', resource_name: 'a.com/one' });
  await register(kubelet.socketPath, { version: 'v1beta1', endpoint: 'p2.sock', resource_name: 'a.com/two' });
  await kubelet.waitFor(() => kubelet.capacity('a.com/one') === 1 && kubelet.capacity('a.com/two') === 1, 5000, 'both streams');
  t.deepEqual(Object.fromEntries(kubelet.streamsOpened), { 'a.com/one': 1, 'a.com/two': 1 });
  // An update on the open stream opens none.
  two.stream()?.write({ devices: [{ ID: 'y', health: 'Healthy' }, { ID: 'z', health: 'Healthy' }] });
  await kubelet.waitFor(() => kubelet.capacity('a.com/two') === 2, 5000, 'the update');
  t.deepEqual(Object.fromEntries(kubelet.streamsOpened), { 'a.com/one': 1, 'a.com/two': 1 });
  // A newer registration of the same resource: a new endpoint, a new stream.
  await register(kubelet.socketPath, { version: 'v1beta1', endpoint: 'p1.sock', resource_name: 'a.com/one' });
  await kubelet.waitFor(() => kubelet.streamsOpened.get('a.com/one') === 2, 5000, 'second stream');
  t.is(kubelet.streamsOpened.get('a.com/two'), 1);
  // A refused registration opens none.
  kubelet.refuseRegistrations = 1;
  await t.throwsAsync(register(kubelet.socketPath, { version: 'v1beta1', endpoint: 'p2.sock', resource_name: 'a.com/two' }), { message: /not ready/ });
  await new Promise((r) => setTimeout(r, 100));
  t.deepEqual(Object.fromEntries(kubelet.streamsOpened), { 'a.com/one': 2, 'a.com/two': 1 });
});

test('streamingResources() lists the live streams: not one that ended, not one replaced twice, none after stop', async (t) => {
  const dir = await tempDir(t, 'rrn-fk-');
  const kubelet = new FakeKubelet({ dir });
  t.teardown(() => kubelet.stop());
  await kubelet.start();
  const one = await bareplugin(t, path.join(dir, 'p1.sock'), [{ ID: 'x', health: 'Healthy' }]);
  await bareplugin(t, path.join(dir, 'p2.sock'), [{ ID: 'y', health: 'Unhealthy' }]);
  t.deepEqual(kubelet.streamingResources(), []);
  await register(kubelet.socketPath, { version: 'v1beta1', endpoint: 'p2.sock', resource_name: 'b.com/two' });
  await register(kubelet.socketPath, { version: 'v1beta1', endpoint: 'p1.sock', resource_name: 'a.com/one' });
  await kubelet.waitFor(() => kubelet.capacity('a.com/one') === 1 && kubelet.capacity('b.com/two') === 1, 5000, 'both streams');
  // Sorted, and an Unhealthy-only stream is still a live stream.
  t.deepEqual(kubelet.streamingResources(), ['a.com/one', 'b.com/two']);
  await register(kubelet.socketPath, { version: 'v1beta1', endpoint: 'p2.sock', resource_name: 'b.com/two' });
  await kubelet.waitFor(() => kubelet.streamsOpened.get('b.com/two') === 2, 5000, 'the replacement stream');
  t.deepEqual(kubelet.streamingResources(), ['a.com/one', 'b.com/two']);
  // The plugin ends its stream: gone from the list, its devices still counted in capacity.
  one.stream()?.end();
  await kubelet.waitFor(() => !kubelet.streamingResources().includes('a.com/one'), 5000, 'stream end');
  t.deepEqual(kubelet.streamingResources(), ['b.com/two']);
  t.is(kubelet.capacity('a.com/one'), 1);
  kubelet.stop();
  t.deepEqual(kubelet.streamingResources(), []);
});

test('GetPreferredAllocation: never sent to a plugin that does not offer it; sent one container per call to one that does; its error rejects', async (t) => {
  const dir = await tempDir(t, 'rrn-fk-');
  const kubelet = new FakeKubelet({ dir });
  t.teardown(() => kubelet.stop());
  await kubelet.start();
  await bareplugin(t, path.join(dir, 'plain.sock'), [{ ID: 'a', health: 'Healthy' }]);
  let asked: unknown;
  await bareplugin(t, path.join(dir, 'pref.sock'), [{ ID: 'x', health: 'Healthy' }, { ID: 'y', health: 'Healthy' }], {
    GetDevicePluginOptions: (_c, cb) => cb(null, { get_preferred_allocation_available: true }),
    GetPreferredAllocation: (call, cb) => {
      asked = call.request.container_requests;
      const req = call.request.container_requests[0];
      if ((req?.allocation_size ?? 0) > 2) return cb({ code: grpc.status.RESOURCE_EXHAUSTED, details: 'too many' }, null);
      cb(null, { container_responses: [{ deviceIDs: ['y'] }] });
    },
  });
  await register(kubelet.socketPath, { version: 'v1beta1', endpoint: 'plain.sock', resource_name: 'a.com/plain' });
  await register(kubelet.socketPath, { version: 'v1beta1', endpoint: 'pref.sock', resource_name: 'a.com/pref' });
  await kubelet.waitFor(() => kubelet.capacity('a.com/pref') === 2 && kubelet.capacity('a.com/plain') === 1, 5000, 'both streams');

  t.is(await kubelet.preferredAllocation('a.com/plain', ['a'], [], 1), undefined);
  t.deepEqual(await kubelet.preferredAllocation('a.com/pref', ['x', 'y'], [], 1), ['y']);
  t.deepEqual(asked, [{ available_deviceIDs: ['x', 'y'], must_include_deviceIDs: [], allocation_size: 1 }]);
  await t.throwsAsync(kubelet.preferredAllocation('a.com/pref', ['x', 'y'], ['x'], 3), { message: /too many/ });
  t.deepEqual(kubelet.preferredCalls, [
    { resourceName: 'a.com/pref', available: ['x', 'y'], mustInclude: [], size: 1, deviceIDs: ['y'] },
    { resourceName: 'a.com/pref', available: ['x', 'y'], mustInclude: ['x'], size: 3, error: '8 RESOURCE_EXHAUSTED: too many' },
  ]);
});

test('resolveCdiDevices: names resolve through the specs, later directories win, an unknown or unqualified name fails the container', async (t) => {
  const etc = await tempDir(t, 'rrn-cdi-etc-');
  const run = await tempDir(t, 'rrn-cdi-run-');
  const spec = (nodes: string[]) => ({
    cdiVersion: '0.6.0',
    kind: 'example.com/nic',
    containerEdits: { deviceNodes: [{ path: '/dev/vfio/vfio' }] },
    devices: [{ name: '0000:3b:02.2', containerEdits: { deviceNodes: nodes.map((p) => ({ path: p })) } }],
  });
  await writeFile(path.join(etc, 'nic.json'), JSON.stringify(spec(['/dev/vfio/1'])));
  await writeFile(path.join(run, 'nic.json'), JSON.stringify(spec(['/dev/vfio/42', '/dev/vfio/vfio'])));
  t.deepEqual(await resolveCdiDevices([etc, run], ['example.com/nic=0000:3b:02.2']), [{ path: '/dev/vfio/vfio' }, { path: '/dev/vfio/42' }]);
  t.deepEqual(await resolveCdiDevices([etc], ['example.com/nic=0000:3b:02.2']), [{ path: '/dev/vfio/vfio' }, { path: '/dev/vfio/1' }]);
  await t.throwsAsync(resolveCdiDevices([etc, run], ['example.com/nic=0000:3b:02.3']), { message: /unresolvable CDI devices example\.com\/nic=0000:3b:02\.3/ });
  await t.throwsAsync(resolveCdiDevices([etc, run], ['0000:3b:02.2']), { message: /unresolvable CDI devices 0000:3b:02\.2/ });
});
