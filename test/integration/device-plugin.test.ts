// The device plugin against the kubelet stand-in, over real unix sockets in temp dirs.
import { readdirSync } from 'node:fs';
import { mkdir, rename, rm, unlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { eventually } from '../helpers/eventually.js';
import { RESOURCE, startHarness } from '../helpers/plugin-harness.js';

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

function activeHandles(): number {
  const info = (process as unknown as { getActiveResourcesInfo(): string[] }).getActiveResourcesInfo();
  return info.filter((r) => r !== 'TTYWrap' && r !== 'Timeout').length;
}

test('registers; ListAndWatch shows runner-0 Healthy; Allocate answers one empty response per container', async (t) => {
  const h = await startHarness(t);
  await h.kubelet.waitFor(() => h.kubelet.devices(RESOURCE).length > 0, 10_000, 'devices');
  t.is(h.kubelet.registrations.length, 1);
  const reg = h.kubelet.registrations[0]!;
  t.is(reg.version, 'v1beta1');
  t.is(reg.endpoint, 'rise-riscv-runner.sock');
  t.deepEqual(reg.options, { pre_start_required: false, get_preferred_allocation_available: false });
  t.deepEqual(h.kubelet.devices(RESOURCE), [{ ID: 'runner-0', health: 'Healthy' }]);
  t.is(h.kubelet.allocatable(RESOURCE), 1);

  const res = await h.kubelet.allocate(RESOURCE, ['runner-0']);
  t.is(res.container_responses.length, 1);
  const c = res.container_responses[0]!;
  t.deepEqual(c.envs, {});
  t.deepEqual(c.mounts, []);
  t.deepEqual(c.devices, []);
  t.deepEqual(c.cdi_devices, []);

  const err = await t.throwsAsync(h.kubelet.allocate(RESOURCE, ['runner-7']));
  t.is((err as grpc.ServiceError).code, grpc.status.INVALID_ARGUMENT);
  t.regex(err?.message ?? '', /unknown device 'runner-7' for riseproject\.com\/runner \(this node has runner-0\)/);

  t.true(await eventually(() => h.notifier.sent.includes('READY=1')));
  t.is(h.notifier.lastStatus, 'registered with kubelet: riseproject.com/runner 1/1 healthy');
});

test('Allocate gives each container the configured env; several containers in one request', async (t) => {
  const h = await startHarness(t, { settings: { deviceCount: 2, allocateEnv: { RISE_BOARD: 'scw-em-rv1' } } });
  await h.kubelet.waitFor(() => h.kubelet.devices(RESOURCE).length === 2, 10_000, 'two devices');
  const client = h.kubelet.client(RESOURCE)!;
  const res = await new Promise<{ container_responses: Array<{ envs: Record<string, string> }> }>((resolve, reject) =>
    client.Allocate({ container_requests: [{ devices_ids: ['runner-0'] }, { devices_ids: ['runner-1'] }] }, (e, r) =>
      e || !r ? reject(e) : resolve(r),
    ),
  );
  t.deepEqual(
    res.container_responses.map((r) => r.envs),
    [{ RISE_BOARD: 'scw-em-rv1' }, { RISE_BOARD: 'scw-em-rv1' }],
  );
});

test('GetDevicePluginOptions, GetPreferredAllocation and PreStartContainer answer correctly', async (t) => {
  const h = await startHarness(t, { settings: { deviceCount: 3 } });
  await h.kubelet.waitFor(() => h.kubelet.devices(RESOURCE).length === 3, 10_000, 'devices');
  const client = h.kubelet.client(RESOURCE)!;
  const call = <T>(fn: (cb: (e: grpc.ServiceError | null, r?: T) => void) => void): Promise<T> =>
    new Promise((resolve, reject) => fn((e, r) => (e || r === undefined ? reject(e) : resolve(r))));
  const options = await call<{ pre_start_required: boolean }>((cb) => client.GetDevicePluginOptions({}, cb));
  t.false(options.pre_start_required);
  const preferred = await call<{ container_responses: Array<{ deviceIDs: string[] }> }>((cb) =>
    client.GetPreferredAllocation(
      {
        container_requests: [
          { available_deviceIDs: ['runner-0', 'runner-1', 'runner-2'], must_include_deviceIDs: ['runner-2'], allocation_size: 2 },
        ],
      },
      cb,
    ),
  );
  t.deepEqual(preferred.container_responses.map((r) => r.deviceIDs), [['runner-2', 'runner-0']]);
  const pre = await call<object>((cb) => client.PreStartContainer({ devices_ids: ['runner-0'] }, cb));
  t.deepEqual(pre, {});
});

test('50 kubelet restarts in a row: re-registered exactly once after each; no fds, handles or streams leak', async (t) => {
  const h = await startHarness(t);
  await h.kubelet.waitFor(() => h.kubelet.allocatable(RESOURCE) === 1, 10_000, 'first registration');
  // Let the first round's probe and register channels finish closing before counting.
  await eventually(() => h.runner().store.listenerCount === 1);
  await new Promise((r) => setTimeout(r, 200));
  const baseline = { fds: openFds(), handles: activeHandles(), listeners: h.runner().store.listenerCount };

  for (let i = 1; i <= 50; i++) {
    await h.kubelet.restart();
    await h.kubelet.waitFor(
      () => h.kubelet.registrations.filter((r) => r.generation === h.kubelet.generation).length >= 1 && h.kubelet.allocatable(RESOURCE) === 1,
      10_000,
      `registration after restart ${i}`,
    );
  }
  // Give any duplicate registration time to show up: a full backstop period and more.
  await new Promise((r) => setTimeout(r, 1000));
  const perGeneration = new Map<number, number>();
  for (const r of h.kubelet.registrations) perGeneration.set(r.generation, (perGeneration.get(r.generation) ?? 0) + 1);
  t.is(h.kubelet.registrations.length, 51);
  t.deepEqual([...perGeneration.values()], Array(51).fill(1));
  t.is(h.runner().lifecycle.registrations, 51);

  t.true(await eventually(() => h.runner().store.listenerCount <= baseline.listeners), `stream handlers: ${h.runner().store.listenerCount}`);
  t.true(await eventually(() => openFds() <= baseline.fds), `fds: ${openFds()} > ${baseline.fds}`);
  t.true(await eventually(() => activeHandles() <= baseline.handles), `handles: ${activeHandles()} > ${baseline.handles}`);
});

test('kubelet.sock replaced without the socket sweep (the other restart signal): registered again, once', async (t) => {
  const h = await startHarness(t);
  await h.kubelet.waitFor(() => h.kubelet.allocatable(RESOURCE) === 1, 10_000, 'registration');
  // Stop, then start without the socket sweep: only the kubelet's own socket is replaced.
  h.kubelet.stop();
  await rm(h.kubelet.socketPath, { force: true });
  const before = h.kubelet.registrations.length;
  await h.kubelet.start({ removeSockets: false });
  await h.kubelet.waitFor(() => h.kubelet.registrations.length > before, 10_000, 're-registration');
  await new Promise((r) => setTimeout(r, 500));
  t.is(h.kubelet.registrations.length, before + 1);
});

test('our socket deleted alone: served and registered again; the connection to the old one is ended', async (t) => {
  const h = await startHarness(t);
  await h.kubelet.waitFor(() => h.kubelet.allocatable(RESOURCE) === 1, 10_000, 'registration');
  const ended: string[] = [];
  h.kubelet.on('streamEnded', (name: string) => ended.push(name));
  await unlink(path.join(h.dir, 'rise-riscv-runner.sock'));
  await h.kubelet.waitFor(() => h.kubelet.registrations.length === 2, 10_000, 're-registration');
  await h.kubelet.waitFor(() => h.kubelet.allocatable(RESOURCE) === 1, 10_000, 'devices again');
  t.is(h.kubelet.registrations.length, 2);
  // The kubelet is still connected through the removed socket: we end that stream ourselves
  // (the stand-in's replacing it on the new registration would not count here).
  t.deepEqual(ended, [RESOURCE]);
  t.is(h.runner().lifecycle.streamCount, 1);
});

test('a stale socket file at our path at start is replaced', async (t) => {
  const { tempDir } = await import('../helpers/tmp.js');
  const dir = await tempDir(t, 'rrn-stale-');
  const stalePath = path.join(dir, 'rise-riscv-runner.sock');
  // A socket file left by a crashed process: bound, then the server goes without unlinking.
  const stale = net.createServer();
  await new Promise<void>((r) => stale.listen(stalePath, r));
  const fd = (stale as unknown as { _handle: { fd: number } })._handle.fd;
  t.true(fd > 0);
  await rename(stalePath, `${stalePath}.keep`);
  stale.close();
  await rename(`${stalePath}.keep`, stalePath);
  const h = await startHarness(t, { dir });
  await h.kubelet.waitFor(() => h.kubelet.allocatable(RESOURCE) === 1, 10_000, 'registration');
  t.is(h.kubelet.registrations.length, 1);
});

test('a non-socket file at our path is reported, not deleted', async (t) => {
  const { tempDir } = await import('../helpers/tmp.js');
  const dir = await tempDir(t, 'rrn-file-');
  await writeFile(path.join(dir, 'rise-riscv-runner.sock'), 'precious');
  const h = await startHarness(t, { dir });
  t.true(
    await eventually(() => h.logger.lines.some((l) => l.level === 'error' && /rise-riscv-runner\.sock exists and is not a socket/.test(l.message))),
  );
  t.is(h.kubelet.registrations.length, 0);
});

test('kubelet absent at start: waits, then registers when it appears; READY only after registering', async (t) => {
  const h = await startHarness(t, { startKubelet: false, settings: { recheckMs: 200 } });
  t.true(await eventually(() => (h.notifier.lastStatus ?? '').startsWith('waiting for kubelet')));
  await new Promise((r) => setTimeout(r, 500));
  t.false(h.notifier.sent.includes('READY=1'));
  await h.kubelet.start();
  await h.kubelet.waitFor(() => h.kubelet.allocatable(RESOURCE) === 1, 10_000, 'registration');
  // The kubelet may see devices a moment before our Register call has returned to us.
  t.true(await eventually(() => h.notifier.sent.includes('READY=1')));
  t.true(h.notifier.sent.indexOf('READY=1') > h.notifier.sent.findIndex((s) => s.startsWith('STATUS=waiting for kubelet')));
});

test('device-plugins directory absent at start: waits for it too', async (t) => {
  const { tempDir } = await import('../helpers/tmp.js');
  const parent = await tempDir(t, 'rrn-nodir-');
  const dir = path.join(parent, 'device-plugins');
  const h = await startHarness(t, { dir, startKubelet: false, settings: { recheckMs: 100 } });
  await new Promise((r) => setTimeout(r, 300));
  await mkdir(dir);
  await h.kubelet.start();
  await h.kubelet.waitFor(() => h.kubelet.allocatable(RESOURCE) === 1, 10_000, 'registration');
  t.is(h.kubelet.registrations.length, 1);
});

test('Register refused twice: retried with backoff and registered', async (t) => {
  const h = await startHarness(t, { refuse: 2 });
  await h.kubelet.waitFor(() => h.kubelet.allocatable(RESOURCE) === 1, 10_000, 'registration');
  t.is(h.kubelet.refuseRegistrations, 0);
  t.is(h.kubelet.registrations.length, 1);
  const failures = h.logger.lines.filter((l) => /failed to register riseproject\.com\/runner with kubelet \(attempt [12]\)/.test(l.message));
  t.is(failures.length, 2);
  t.regex(failures[0]?.message ?? '', /not ready to accept registrations; retrying in \d+ ms/);
  t.true(await eventually(() => h.notifier.sent.includes('READY=1')));
  t.is(h.notifier.sent.filter((s) => s === 'READY=1').length, 1);
});

test('maintenance flag: Unhealthy while present, Healthy when removed, without restarting', async (t) => {
  const h = await startHarness(t);
  await h.kubelet.waitFor(() => h.kubelet.allocatable(RESOURCE) === 1, 10_000, 'registration');
  await mkdir(path.dirname(h.config.maintenanceFile), { recursive: true });
  await writeFile(h.config.maintenanceFile, '');
  // Within a second: the flag's directory is watched.
  await h.kubelet.waitFor(() => h.kubelet.devices(RESOURCE)[0]?.health === 'Unhealthy', 1000, 'Unhealthy');
  t.is(h.kubelet.allocatable(RESOURCE), 0);
  t.is(h.kubelet.capacity(RESOURCE), 1);
  t.regex(h.notifier.lastStatus ?? '', /0\/1 healthy \(maintenance: .* present\)/);
  await rm(h.config.maintenanceFile);
  await h.kubelet.waitFor(() => h.kubelet.devices(RESOURCE)[0]?.health === 'Healthy', 1000, 'Healthy');
  t.is(h.kubelet.registrations.length, 1, 'no re-registration');
  t.deepEqual(
    h.kubelet.updates.map((u) => u.devices[0]?.health),
    ['Healthy', 'Unhealthy', 'Healthy'],
  );
});

test('maintenance flag present at start: devices start Unhealthy', async (t) => {
  const { tempDir } = await import('../helpers/tmp.js');
  const etc = await tempDir(t, 'rrn-etc-');
  await writeFile(path.join(etc, 'maintenance'), 'drained\n');
  const h = await startHarness(t, { settings: { maintenanceFile: path.join(etc, 'maintenance') } });
  await h.kubelet.waitFor(() => h.kubelet.devices(RESOURCE).length === 1, 10_000, 'devices');
  t.deepEqual(h.kubelet.devices(RESOURCE), [{ ID: 'runner-0', health: 'Unhealthy' }]);
});

test('stopping: STOPPING=1, streams end, socket removed', async (t) => {
  const h = await startHarness(t);
  await h.kubelet.waitFor(() => h.kubelet.allocatable(RESOURCE) === 1, 10_000, 'registration');
  const { store } = h.runner();
  t.is(store.listenerCount, 1);
  await h.stopPlugin();
  t.true(h.notifier.sent.includes('STOPPING=1'));
  t.false(readdirSync(h.dir).includes('rise-riscv-runner.sock'));
  t.is(store.listenerCount, 0);
  // The kubelet heard an empty list before the stream ended, so it stopped counting at once.
  // (It reads it on its own turn: in this process that may come just after we are done.)
  t.true(await eventually(() => h.kubelet.updates.length >= 2));
  t.deepEqual(
    h.kubelet.updates.map((u) => u.devices.length),
    [1, 0],
  );
});
