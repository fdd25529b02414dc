// The multi-resource plugin's pure parts: admission of resources, STATUS, allocation, watch dirs, --allocate.
import test from 'ava';
import { containerAllocation } from '../../src/deviceplugin/allocation.js';
import { devDirsToWatch } from '../../src/deviceplugin/daemon.js';
import { parseAllocateRequest } from '../../src/deviceplugin/devices-command.js';
import type { ResourcePhase, ResourceView } from '../../src/deviceplugin/manager.js';
import { sameDevices, type Device, type ResourceSpec } from '../../src/deviceplugin/resource.js';
import { admit } from '../../src/deviceplugin/sources/index.js';
import { statusLine, type StatusInput } from '../../src/deviceplugin/status.js';

const dev = (ID: string, health: Device['health'] = 'Healthy'): Device => ({ ID, health });

function spec(name: string, socketName: string, devices: Device[] = [dev('0')], extra: Partial<ResourceSpec> = {}): ResourceSpec {
  return { kind: 'dev', name, socketName, devices, grant: { kind: 'deviceNodes', paths: [`/dev/${name.split('/')[1]}`] }, origin: `origin of ${name}`, ...extra };
}

const runner = spec('riseproject.com/runner', 'rise-riscv-runner.sock', [dev('runner-0')], { kind: 'runner', grant: { kind: 'env', env: {} }, origin: 'deviceplugin.resourceName' });

test('admit: first by name and by socket wins, kubelet.sock and over-long paths are refused with the fix', (t) => {
  const { resources, refused } = admit(
    [
      runner,
      spec('smarter-devices/kvm', 'smarter-kvm.sock'),
      spec('riseproject.com/runner', 'other.sock'),
      spec('example.com/clash', 'smarter-kvm.sock'),
      spec('example.com/kubelet', 'kubelet.sock'),
      spec(`smarter-devices/${'x'.repeat(70)}`, `smarter-${'x'.repeat(70)}.sock`),
    ],
    '/var/lib/kubelet/device-plugins',
  );
  t.deepEqual(resources.map((r) => r.name), ['riseproject.com/runner', 'smarter-devices/kvm']);
  t.deepEqual(
    refused.map((r) => r.reason.replace(/\d+ bytes/, 'N bytes')),
    [
      'origin of riseproject.com/runner names riseproject.com/runner, which deviceplugin.resourceName already serves; rename one of them',
      'its socket smarter-kvm.sock is also the socket of smarter-devices/kvm (origin of smarter-devices/kvm); rename one of them',
      "its socket would be kubelet.sock, the kubelet's own; rename it",
      `its socket path /var/lib/kubelet/device-plugins/smarter-${'x'.repeat(70)}.sock is N bytes, over the unix limit of 107; use a shorter name or device-plugins directory`,
    ],
  );
});

const view = (s: ResourceSpec, phase: ResourcePhase): ResourceView => ({ spec: s, phase, registrations: 1, streams: 1 });
const base: StatusInput = { views: [], refused: [], maintenanceFile: undefined, reloadError: undefined, stopping: false };
const kvm = spec('smarter-devices/kvm', 'smarter-kvm.sock', [dev('0'), dev('1', 'Unhealthy')]);

const statusCases: Array<[string, Partial<StatusInput>, string]> = [
  ['the runner alone reads as it always has', { views: [view(runner, { kind: 'registered' })] }, 'registered with kubelet: riseproject.com/runner 1/1 healthy'],
  [
    'maintenance',
    { views: [view({ ...runner, devices: [dev('runner-0', 'Unhealthy')] }, { kind: 'registered' })], maintenanceFile: '/etc/m' },
    'registered with kubelet: riseproject.com/runner 0/1 healthy (maintenance: /etc/m present)',
  ],
  ['many resources are summed', { views: [view(runner, { kind: 'registered' }), view(kvm, { kind: 'registered' })] }, 'registered with kubelet: 2 resources, 2/3 devices healthy'],
  ['no kubelet', { views: [view(runner, { kind: 'waiting', kubeletSocket: '/k.sock' })] }, 'waiting for kubelet: /k.sock does not exist yet'],
  [
    'the runner failing alone',
    { views: [view(runner, { kind: 'failing', attempt: 3, cause: 'UNAVAILABLE: x' })] },
    'registering with kubelet (attempt 3 failed: UNAVAILABLE: x); retrying',
  ],
  [
    'one resource failing among others names it',
    { views: [view(runner, { kind: 'registered' }), view(kvm, { kind: 'serveFailed', cause: 'EADDRINUSE' })] },
    'registered with kubelet: riseproject.com/runner 1/1 healthy; 1 of 2 resources not yet registered; failing: smarter-devices/kvm (smarter-devices/kvm EADDRINUSE); retrying',
  ],
  [
    'kubelet lost',
    { views: [view(runner, { kind: 'lost', at: Date.UTC(2026, 0, 2, 3, 4, 5) })] },
    'kubelet connection lost at 2026-01-02T03:04:05.000Z; waiting for it to come back',
  ],
  [
    'refused resources are named',
    { views: [view(runner, { kind: 'registered' })], refused: [{ name: 'example.com/x', reason: 'why' }] },
    'registered with kubelet: riseproject.com/runner 1/1 healthy; not served: example.com/x (example.com/x: why)',
  ],
  [
    'a failed reload comes first',
    { views: [view(runner, { kind: 'registered' })], reloadError: 'config f: bad' },
    'config reload failed: config f: bad; still serving the previous config; registered with kubelet: riseproject.com/runner 1/1 healthy',
  ],
  ['stopping', { views: [view(runner, { kind: 'registered' })], stopping: true }, 'stopping'],
];
for (const [name, input, expected] of statusCases) {
  test(`status: ${name}`, (t) => {
    t.is(statusLine({ ...base, ...input }), expected);
  });
}

test('allocation refuses unknown and Unhealthy IDs by name, and answers each grant kind', (t) => {
  t.deepEqual(containerAllocation(kvm, ['0']), {
    ok: true,
    response: { devices: [{ container_path: '/dev/kvm', host_path: '/dev/kvm', permissions: 'rw' }] },
  });
  t.deepEqual(containerAllocation(kvm, ['1']), { ok: false, message: "device '1' of smarter-devices/kvm is Unhealthy" });
  t.deepEqual(containerAllocation(kvm, ['9', '8']), { ok: false, message: "unknown device '9', '8' for smarter-devices/kvm (this node has 0, 1)" });
  const env = { ...runner, grant: { kind: 'env' as const, env: { A: 'b' } } };
  t.deepEqual(containerAllocation(env, ['runner-0']), { ok: true, response: { envs: { A: 'b' } } });
});

test('device lists differ by health, order and topology', (t) => {
  t.true(sameDevices([dev('0')], [dev('0')]));
  t.false(sameDevices([dev('0')], [dev('0', 'Unhealthy')]));
  t.false(sameDevices([dev('0'), dev('1')], [dev('1'), dev('0')]));
  t.false(sameDevices([{ ...dev('0'), numaNodes: [0] }], [{ ...dev('0'), numaNodes: [1] }]));
  t.false(sameDevices([{ ...dev('0'), numaNodes: [0] }], [dev('0')]));
});

test('watched /dev directories: /dev, the way to each entry, a matched directory; never a device node', (t) => {
  const tun = spec('smarter-devices/net_tun', 'smarter-net_tun.sock', [dev('0')], { devEntry: 'net/tun', grant: { kind: 'deviceNodes', paths: ['/dev/net/tun'] } });
  const snd = spec('smarter-devices/snd', 'smarter-snd.sock', [dev('0')], {
    devEntry: 'snd',
    grant: { kind: 'deviceNodes', paths: ['/dev/snd/controlC0', '/dev/snd/pcmC0D0p'] },
  });
  const tty = spec('smarter-devices/ttyUSB0', 'smarter-ttyUSB0.sock', [dev('0')], { devEntry: 'ttyUSB0', grant: { kind: 'deviceNodes', paths: ['/dev/ttyUSB0'] } });
  t.deepEqual(devDirsToWatch('/r/dev', [runner, tun, snd, tty]), ['/r/dev', '/r/dev/net', '/r/dev/snd']);
});

const allocateCases: Array<[string, ReturnType<typeof parseAllocateRequest>]> = [
  ['smarter-devices/ttyUSB0=0', { resource: 'smarter-devices/ttyUSB0', ids: ['0'] }],
  ['example.com/w=0001, 0002', { resource: 'example.com/w', ids: ['0001', '0002'] }],
  ['example.com/w=', undefined],
  ['=0', undefined],
  ['example.com/w', undefined],
];
for (const [text, expected] of allocateCases) {
  test(`--allocate ${JSON.stringify(text)}`, (t) => {
    t.deepEqual(parseAllocateRequest(text), expected);
  });
}
