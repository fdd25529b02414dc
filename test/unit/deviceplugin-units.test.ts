// The plugin's pure parts: device lists, the store's change events, flag resolution.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { ResourceStore } from '../../src/deviceplugin/resource-store.js';
import type { ResourceSpec } from '../../src/deviceplugin/resource.js';
import { healthyCount, maintenanceFlagPresent, runnerDevices, sameDevices } from '../../src/deviceplugin/devices.js';
import { resolveDevicePluginSettings, type DevicePluginArgs } from '../../src/deviceplugin/command.js';
import { ConfigError } from '../../src/common/errors.js';

test('runner devices are runner-0 … runner-(N-1), Healthy unless in maintenance', (t) => {
  t.deepEqual(runnerDevices(1, false), [{ ID: 'runner-0', health: 'Healthy' }]);
  t.deepEqual(
    runnerDevices(3, true).map((d) => `${d.ID}=${d.health}`),
    ['runner-0=Unhealthy', 'runner-1=Unhealthy', 'runner-2=Unhealthy'],
  );
  t.is(healthyCount(runnerDevices(4, false)), 4);
  t.is(healthyCount(runnerDevices(4, true)), 0);
});

test('device lists compare by ID and health', (t) => {
  t.true(sameDevices(runnerDevices(2, false), runnerDevices(2, false)));
  t.false(sameDevices(runnerDevices(2, false), runnerDevices(2, true)));
  t.false(sameDevices(runnerDevices(2, false), runnerDevices(3, false)));
});

const runnerSpec = (count: number, maintenance: boolean, env: Record<string, string> = {}): ResourceSpec => ({
  kind: 'runner',
  name: 'riseproject.com/runner',
  socketName: 'rise-riscv-runner.sock',
  devices: runnerDevices(count, maintenance),
  grant: { kind: 'env', env },
  origin: 'deviceplugin.resourceName',
});

test('the store tells streams only of device changes, and forgets them on unsubscribe', (t) => {
  const store = new ResourceStore(runnerSpec(1, false));
  const seen: string[] = [];
  const off = store.subscribe((d) => {
    seen.push(d[0]?.health ?? '');
    return Promise.resolve();
  });
  t.is(store.listenerCount, 1);
  t.false(store.set(runnerSpec(1, false)));
  // A new grant is taken without a word on the streams: the kubelet does not see env.
  t.false(store.set(runnerSpec(1, false, { RISE_BOARD: 'x' })));
  t.deepEqual(store.get().grant, { kind: 'env', env: { RISE_BOARD: 'x' } });
  t.true(store.set(runnerSpec(1, true)));
  t.true(store.set(runnerSpec(1, false)));
  off();
  t.true(store.set(runnerSpec(1, true)));
  t.deepEqual(seen, ['Unhealthy', 'Healthy']);
  t.is(store.listenerCount, 0);
});

test('withdraw sends an empty list to every stream once, and later changes stay withdrawn', async (t) => {
  const store = new ResourceStore(runnerSpec(2, false));
  const seen: number[][] = [[], []];
  for (const i of [0, 1]) store.subscribe((d) => (seen[i]!.push(d.length), Promise.resolve()));
  await store.withdraw(1000);
  await store.withdraw(1000);
  store.set(runnerSpec(3, false));
  t.deepEqual(seen, [[0], [0]]);
  t.deepEqual(store.devices(), []);
});

test('withdraw gives up on a stream that never confirms its write', async (t) => {
  const store = new ResourceStore(runnerSpec(1, false));
  store.subscribe(() => new Promise<void>(() => undefined));
  const started = Date.now();
  await store.withdraw(50);
  t.true(Date.now() - started < 5000);
});

test('maintenance flag: absent, present, and present-but-unreadable count correctly', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'rrn-flag-'));
  t.false(await maintenanceFlagPresent(path.join(dir, 'maintenance')));
  t.false(await maintenanceFlagPresent(path.join(dir, 'missing-dir', 'maintenance')));
  await writeFile(path.join(dir, 'maintenance'), '');
  t.true(await maintenanceFlagPresent(path.join(dir, 'maintenance')));
});

const base: DevicePluginArgs = {
  config: undefined,
  logLevel: undefined,
  devicePluginDir: '/var/lib/kubelet/device-plugins',
  resourceName: undefined,
  deviceCount: undefined,
  socketName: undefined,
  maintenanceFile: undefined,
};

test('flags win over the config file, which wins over defaults', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'rrn-cfg-'));
  const file = path.join(dir, 'config.yaml');
  await writeFile(file, 'deviceplugin:\n  deviceCount: 2\n  resourceName: example.com/slot\n');
  const { settings } = await resolveDevicePluginSettings({ ...base, config: file, deviceCount: 3 });
  t.is(settings.config.deviceCount, 3);
  t.is(settings.config.resourceName, 'example.com/slot');
  t.is(settings.config.socketName, 'rise-riscv-runner.sock');
  // A reload reads the file again and lays the same flags over it.
  await writeFile(file, 'deviceplugin:\n  deviceCount: 5\n  resourceName: example.com/other\n');
  const again = await settings.reloadConfig!();
  t.is(again.deviceCount, 3);
  t.is(again.resourceName, 'example.com/other');
});

const badFlags: Array<[string, Partial<DevicePluginArgs>, RegExp]> = [
  ['device count 0', { deviceCount: 0 }, /--device-count 0 must be at least 1/],
  ['resource name', { resourceName: 'a b' }, /--resource-name 'a b' is not a valid extended resource name/],
  ['socket name', { socketName: '../x' }, /--socket-name '..\/x' must be a plain file name/],
  ['relative maintenance file', { maintenanceFile: 'x' }, /--maintenance-file 'x' must be an absolute path/],
  ['log level', { logLevel: 'loud' }, /--log-level 'loud' is not one of/],
  ['socket path too long', { devicePluginDir: `/tmp/${'d'.repeat(120)}` }, /longer than 107 bytes/],
];
for (const [name, flags, expected] of badFlags) {
  test(`bad flag: ${name}`, async (t) => {
    const err = await t.throwsAsync(resolveDevicePluginSettings({ ...base, ...flags }), { instanceOf: ConfigError });
    t.regex(err?.message ?? '', expected);
  });
}

test('a config file named with --config must exist', async (t) => {
  const err = await t.throwsAsync(resolveDevicePluginSettings({ ...base, config: '/nonexistent/config.yaml' }), { instanceOf: ConfigError });
  t.regex(err?.message ?? '', /config \/nonexistent\/config\.yaml: cannot be read \(ENOENT\)/);
});

test('--route-file names the routing table PCI pools read; without it the daemon reads <root>/proc/net/route', async (t) => {
  t.is((await resolveDevicePluginSettings({ ...base, routeFile: '/proc/self/net/route' })).settings.routeFile, '/proc/self/net/route');
  t.is((await resolveDevicePluginSettings({ ...base, root: '/tmp/board' })).settings.routeFile, undefined);
});
