// The resource manager against the kubelet stand-in: one server per resource, diffed by name, over real sockets.
import { readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import * as grpc from '@grpc/grpc-js';
import { systemClock } from '../../src/common/clock.js';
import { memoryLogger } from '../../src/common/logger.js';
import { KubeletWatch } from '../../src/deviceplugin/kubelet-watch.js';
import { ResourceManager } from '../../src/deviceplugin/manager.js';
import type { Device, ResourceSpec } from '../../src/deviceplugin/resource.js';
import { FakeKubelet } from '../fakes/kubelet.js';
import { eventually } from '../helpers/eventually.js';
import { WIDGET_0001_ENV } from '../helpers/peer-examples.js';
import { tempDir } from '../helpers/tmp.js';

const healthy = (...ids: string[]): Device[] => ids.map((ID) => ({ ID, health: 'Healthy' }));

function runner(count = 1): ResourceSpec {
  return {
    kind: 'runner',
    name: 'riseproject.com/runner',
    socketName: 'rise-riscv-runner.sock',
    devices: healthy(...Array.from({ length: count }, (_, i) => `runner-${i}`)),
    grant: { kind: 'env', env: {} },
    origin: 'deviceplugin.resourceName',
  };
}

function widget(ids: string[] = ['0001']): ResourceSpec {
  return {
    kind: 'virtual',
    name: 'example.com/widget',
    socketName: 'spookd-examplecom_widget.sock',
    devices: healthy(...ids),
    grant: { kind: 'virtual', envName: 'EXAMPLECOM_WIDGET', deviceEnv: Object.fromEntries(ids.map((id) => [id, { IP: '192.168.0.200', PORT: '12345' }])) },
    origin: 'deviceplugin.virtual.deviceMapping[0]',
  };
}

function tun(shares = 2): ResourceSpec {
  return {
    kind: 'dev',
    name: 'smarter-devices/net_tun',
    socketName: 'smarter-net_tun.sock',
    devices: healthy(...Array.from({ length: shares }, (_, i) => String(i))),
    grant: { kind: 'deviceNodes', paths: ['/dev/net/tun'] },
    origin: 'deviceplugin.dev.devices[0]',
    devEntry: 'net/tun',
  };
}

async function setup(t: ExecutionContext): Promise<{ dir: string; kubelet: FakeKubelet; manager: ResourceManager; logger: ReturnType<typeof memoryLogger> }> {
  const dir = await tempDir(t, 'rrn-rm-');
  const kubelet = new FakeKubelet({ dir });
  await kubelet.start();
  const watch = new KubeletWatch(dir, { intervalMs: 5000 });
  const logger = memoryLogger();
  const manager = new ResourceManager({ dir, kubeletSocketName: 'kubelet.sock', watch, clock: systemClock, logger, onChange: () => undefined });
  t.teardown(async () => {
    await manager.stopAll();
    watch.close();
    kubelet.stop();
  });
  return { dir, kubelet, manager, logger };
}

const streaming = (kubelet: FakeKubelet, names: string[]): Promise<void> =>
  kubelet.waitFor(() => names.every((n) => kubelet.streamingResources().includes(n) && kubelet.devices(n).length > 0), 10_000, names.join(', '));

test('three kinds, three sockets, three registrations; Allocate answers each kind from its grant', async (t) => {
  const { dir, kubelet, manager } = await setup(t);
  const result = await manager.apply([runner(), widget(), tun()]);
  t.deepEqual(result.started, ['riseproject.com/runner', 'example.com/widget', 'smarter-devices/net_tun']);
  await streaming(kubelet, ['riseproject.com/runner', 'example.com/widget', 'smarter-devices/net_tun']);
  t.deepEqual(
    kubelet.registrations.map((r) => `${r.resourceName} ${r.endpoint}`).sort(),
    ['example.com/widget spookd-examplecom_widget.sock', 'riseproject.com/runner rise-riscv-runner.sock', 'smarter-devices/net_tun smarter-net_tun.sock'],
  );
  t.deepEqual(readdirSync(dir).sort(), ['kubelet.sock', 'rise-riscv-runner.sock', 'smarter-net_tun.sock', 'spookd-examplecom_widget.sock']);

  const w = await kubelet.allocate('example.com/widget', ['0001']);
  t.deepEqual(w.container_responses[0]?.envs, WIDGET_0001_ENV);
  const d = await kubelet.allocate('smarter-devices/net_tun', ['1']);
  t.deepEqual(d.container_responses[0]?.devices, [{ container_path: '/dev/net/tun', host_path: '/dev/net/tun', permissions: 'rw' }]);
  const err = await t.throwsAsync(kubelet.allocate('smarter-devices/net_tun', ['7']));
  t.is((err as grpc.ServiceError).code, grpc.status.INVALID_ARGUMENT);
  t.regex(err?.message ?? '', /unknown device '7' for smarter-devices\/net_tun \(this node has 0, 1\)/);
});

test('apply diffs by name: unchanged keeps its stream and registration, changed devices go on the open stream, removed withdraws and closes', async (t) => {
  const { dir, kubelet, manager } = await setup(t);
  await manager.apply([runner(), widget(), tun()]);
  await streaming(kubelet, ['riseproject.com/runner', 'example.com/widget', 'smarter-devices/net_tun']);
  const registrations = kubelet.registrations.length;

  const result = await manager.apply([runner(), widget(['0001', '0002'])]);
  t.deepEqual(result, {
    started: [],
    updated: ['example.com/widget'],
    stopped: ['smarter-devices/net_tun'],
    unchanged: ['riseproject.com/runner'],
  });
  await kubelet.waitFor(() => kubelet.devices('example.com/widget').length === 2, 10_000, 'two widgets');
  t.is(kubelet.registrations.length, registrations, 'no registration for an update');
  t.is(kubelet.streamsOpened.get('example.com/widget'), 1);
  t.is(kubelet.streamsOpened.get('riseproject.com/runner'), 1);
  // The removed resource told the kubelet "no devices" before it closed its socket.
  t.deepEqual(kubelet.updates.filter((u) => u.resourceName === 'smarter-devices/net_tun').at(-1)?.devices, []);
  t.false(readdirSync(dir).includes('smarter-net_tun.sock'));
  t.is(kubelet.allocatable('smarter-devices/net_tun'), 0);

  // A new grant alone (env changed) needs no word to the kubelet, and the next Allocate has it.
  const again = widget(['0001', '0002']);
  const changed: ResourceSpec = { ...again, grant: { kind: 'virtual', envName: 'EXAMPLECOM_WIDGET', deviceEnv: { '0001': { IP: '10.0.0.1' }, '0002': {} } } };
  t.deepEqual((await manager.apply([runner(), changed])).unchanged, ['riseproject.com/runner', 'example.com/widget']);
  const res = await kubelet.allocate('example.com/widget', ['0001']);
  t.is(res.container_responses[0]?.envs['EXAMPLECOM_WIDGET_IP'], '10.0.0.1');
  t.is(kubelet.registrations.length, registrations);
});

test('a resource whose socket cannot be served does not hold up the others', async (t) => {
  const { dir, kubelet, manager, logger } = await setup(t);
  await writeFile(path.join(dir, 'smarter-net_tun.sock'), 'not a socket');
  await manager.apply([runner(), widget(), tun()]);
  await streaming(kubelet, ['riseproject.com/runner', 'example.com/widget']);
  const phases = (): Record<string, string> => Object.fromEntries(manager.views().map((v) => [v.spec.name, v.phase.kind]));
  const expected = { 'riseproject.com/runner': 'registered', 'example.com/widget': 'registered', 'smarter-devices/net_tun': 'serveFailed' };
  await eventually(() => JSON.stringify(phases()) === JSON.stringify(expected));
  t.deepEqual(phases(), expected);
  t.true(logger.lines.some((l) => l.level === 'error' && /failed to serve smarter-devices\/net_tun: .*exists and is not a socket/.test(l.message)));
});

test('a kubelet restart re-registers every resource once', async (t) => {
  const { kubelet, manager } = await setup(t);
  const specs = [runner(), widget(), tun(), { ...tun(), name: 'smarter-devices/kvm', socketName: 'smarter-kvm.sock', devEntry: 'kvm' }];
  await manager.apply(specs);
  await streaming(kubelet, specs.map((s) => s.name));
  for (let i = 0; i < 5; i++) {
    await kubelet.restart();
    await kubelet.waitFor(
      () => specs.every((s) => kubelet.registrations.some((r) => r.generation === kubelet.generation && r.resourceName === s.name)),
      10_000,
      `all re-registered after restart ${i + 1}`,
    );
    // Restarting again before our Register call has returned would cut its answer off.
    t.true(await eventually(() => manager.views().every((v) => v.registrations === i + 2)));
  }
  await new Promise((r) => setTimeout(r, 300));
  t.is(kubelet.registrations.length, specs.length * 6);
  t.deepEqual(manager.views().map((v) => v.registrations), [6, 6, 6, 6]);
});
