// smarter-device-manager's /dev entries: matching, naming, shares, directories, skipped names and health that recovers.
// The Raspberry Pi test walks a fixture tree whose device nodes buildDevTree made with mknod
// (as root, as in CI) or, only when mknod is refused, as symlinks to host nodes; the scan
// decides each kind by stat, so both give the same kinds.
import test from 'ava';
import { parseConfig, type DevConfig } from '../../src/common/config.js';
import type { ResourceSpec } from '../../src/deviceplugin/resource.js';
import { devResourceName, devResources } from '../../src/deviceplugin/sources/dev.js';
import { scanDev } from '../../src/deviceplugin/sources/dev-scan.js';
import type { DevEntry } from '../../src/deviceplugin/sources/types.js';
import { buildDevTree, RASPBERRY_PI_DEV } from '../helpers/dev-tree.js';
import { PI_CAPACITY, RASPBERRY_PI_README_LIST } from '../helpers/peer-examples.js';
import { tempDir } from '../helpers/tmp.js';

function devConfig(devices: DevConfig['devices'], extra: Partial<DevConfig> = {}): DevConfig {
  return { prefix: 'smarter-devices', devices, file: undefined, ...extra };
}

const node = (p: string): DevEntry => ({ path: p, kind: 'char' });
const dir = (p: string, nodes: string[] = []): DevEntry => ({ path: p, kind: 'dir', nodes });

function summary(resources: readonly ResourceSpec[]): Record<string, string> {
  return Object.fromEntries(resources.map((r) => [r.name, `${r.devices.length} ${r.devices.map((d) => d.health[0]).join('')}`]));
}

test("smarter's Raspberry Pi example over a fixture /dev: the resources, shares and device nodes its README shows", async (t) => {
  const dev = await tempDir(t, 'rrn-dev-');
  t.log('device nodes made by', await buildDevTree(dev, RASPBERRY_PI_DEV));
  const config = parseConfig(`deviceplugin:\n  dev:\n${RASPBERRY_PI_README_LIST}`, '/etc/riscv-runner-node/config.yaml').deviceplugin.dev;
  if (config === undefined) return t.fail('no dev section');
  const { resources, warnings } = devResources(config, await scanDev(dev), []);
  t.deepEqual(warnings, []);
  // The node's capacity in smarter's README, resource by resource.
  t.deepEqual(
    Object.fromEntries(resources.map((r) => [r.name, r.devices.length])),
    PI_CAPACITY,
  );
  const byName = new Map(resources.map((r) => [r.name, r]));
  t.deepEqual(byName.get('smarter-devices/video4'), {
    kind: 'dev',
    name: 'smarter-devices/video4',
    socketName: 'smarter-video4.sock',
    devices: Array.from({ length: 10 }, (_, i) => ({ ID: String(i), health: 'Healthy' })),
    grant: { kind: 'deviceNodes', paths: ['/dev/video4'] },
    origin: 'deviceplugin.dev.devices[8]',
    devEntry: 'video4',
  });
  // A matched directory gives every device node under it, links included, each at its own path.
  t.deepEqual(byName.get('smarter-devices/snd')?.grant, {
    kind: 'deviceNodes',
    paths: ['/dev/snd/by-path/platform-bcm2835_audio', '/dev/snd/controlC0', '/dev/snd/pcmC0D0p', '/dev/snd/seq', '/dev/snd/timer'],
  });
  t.is(byName.get('smarter-devices/vcsm-cma')?.socketName, 'smarter-vcsm-cma.sock');
  t.deepEqual(byName.get('smarter-devices/vcs')?.grant, { kind: 'deviceNodes', paths: ['/dev/vcs'] });
});

const naming: Array<[string, string]> = [
  ['ttyUSB0', 'ttyUSB0'],
  ['net/tun', 'net_tun'],
  ['vcsm-cma', 'vcsm-cma'],
  ['input/by-path/platform-a.b:c', 'input_by-path_platform-a_b_c'],
  ['bus/usb/001/002', 'bus_usb_001_002'],
  ['serial/by-id/usb-FTDI_FT232R@x+y', 'serial_by-id_usb-FTDI_FT232R_x_y'],
];

for (const [entry, name] of naming) {
  test(`naming: /dev/${entry} is smarter-devices/${name}, socket smarter-${name}.sock`, (t) => {
    t.is(devResourceName(entry), name);
    const [r] = devResources(devConfig([{ devicematch: '.', nummaxdevices: 1 }]), [node(entry)], []).resources;
    t.is(r?.name, `smarter-devices/${name}`);
    t.is(r?.socketName, `smarter-${name}.sock`);
  });
}

test('the prefix names the resources; the socket keeps smarter\'s name', (t) => {
  const [r] = devResources(devConfig([{ devicematch: 'tun', nummaxdevices: 1 }], { prefix: 'devices.example.org' }), [node('net/tun')], []).resources;
  t.is(r?.name, 'devices.example.org/net_tun');
  t.is(r?.socketName, 'smarter-net_tun.sock');
});

test('the expression is unanchored: "video" matches video0, video10 and a by-path link', (t) => {
  const entries = [node('video0'), node('video10'), dir('v4l'), dir('v4l/by-path'), node('v4l/by-path/platform-x-video-index0'), node('vchiq')];
  const { resources } = devResources(devConfig([{ devicematch: 'video', nummaxdevices: 1 }]), entries, []);
  t.deepEqual(resources.map((r) => r.devEntry), ['v4l/by-path/platform-x-video-index0', 'video0', 'video10']);
});

test('an entry two items match belongs to the first in config order; one resource per entry', (t) => {
  const config = devConfig([
    { devicematch: '^video1', nummaxdevices: 5 },
    { devicematch: 'video', nummaxdevices: 2 },
  ]);
  t.deepEqual(summary(devResources(config, [node('video0'), node('video10')], []).resources), {
    'smarter-devices/video0': '2 HH',
    'smarter-devices/video10': '5 HHHHH',
  });
});

test('nummaxdevices 0 (or absent) registers the resource with no devices', (t) => {
  const { resources } = devResources(devConfig([{ devicematch: '^vcs$', nummaxdevices: 0 }]), [node('vcs')], []);
  t.deepEqual(resources.map((r) => [r.name, r.devices]), [['smarter-devices/vcs', []]]);
});

test('directories: every node under them; none under it, or not a device node: shares Unhealthy', (t) => {
  const entries = [dir('snd', ['snd/controlC0', 'snd/timer']), node('snd/controlC0'), node('snd/timer'), dir('dri'), { path: 'log', kind: 'other' as const }];
  const config = devConfig([
    { devicematch: '^(snd|dri)$', nummaxdevices: 2 },
    { devicematch: '^log$', nummaxdevices: 1 },
  ]);
  const { resources, warnings } = devResources(config, entries, []);
  t.deepEqual(summary(resources), { 'smarter-devices/dri': '2 UU', 'smarter-devices/log': '1 U', 'smarter-devices/snd': '2 HH' });
  t.deepEqual(resources.map((r) => r.grant), [
    { kind: 'deviceNodes', paths: [] },
    { kind: 'deviceNodes', paths: [] },
    { kind: 'deviceNodes', paths: ['/dev/snd/controlC0', '/dev/snd/timer'] },
  ]);
  t.deepEqual(warnings, [
    'dev entry /dev/log matched by deviceplugin.dev.devices[1] (^log$) is not a device node or a directory; its shares stay Unhealthy: anchor the expression (^…$) so it leaves this entry out',
  ]);
});

test('names the kubelet would refuse are skipped, one warning each naming the entry, the item and the fix', (t) => {
  const long = `disk/by-id/${'x'.repeat(60)}`;
  const entries = [node('video0'), node(long), node('.hidden'), node('a.b'), node('a_b')];
  const { resources, warnings } = devResources(devConfig([{ devicematch: 'video', nummaxdevices: 0 }, { devicematch: '.', nummaxdevices: 1 }]), entries, []);
  t.deepEqual(resources.map((r) => r.name), ['smarter-devices/a_b', 'smarter-devices/video0']);
  t.deepEqual(warnings, [
    `dev entry /dev/${long} matched by deviceplugin.dev.devices[1] (.) would be the resource smarter-devices/disk_by-id_${'x'.repeat(60)}, which is 71 characters after the '/', and the kubelet accepts at most 63; skipped: anchor or narrow the expression (e.g. ^name$) so it leaves this entry out`,
    "dev entry /dev/.hidden matched by deviceplugin.dev.devices[1] (.) would be the resource smarter-devices/_hidden, which must be a DNS subdomain, \"/\", and a name of at most 63 letters, digits, \"-\", \"_\" or \".\"; skipped: anchor or narrow the expression (e.g. ^name$) so it leaves this entry out",
    'dev entries /dev/a.b and /dev/a_b both give the resource smarter-devices/a_b (every character outside A-Za-z0-9_- becomes _); only /dev/a.b is served: narrow deviceplugin.dev.devices[1] so it matches one of them',
  ]);
  const sixtyThree = node('y'.repeat(63));
  t.is(devResources(devConfig([{ devicematch: 'y', nummaxdevices: 1 }]), [sixtyThree], []).resources.length, 1, '63 characters is fine');
});

test("origin names smarter's own file when the list was read from it", (t) => {
  const [r] = devResources(devConfig([{ devicematch: 'x', nummaxdevices: 0 }, { devicematch: 'tty', nummaxdevices: 1 }], { file: '/etc/smarter/conf.yaml' }), [node('ttyS0')], []).resources;
  t.is(r?.origin, 'deviceplugin.dev.file /etc/smarter/conf.yaml: [1]');
});

test('health that recovers: a vanished node keeps its resource Unhealthy while the config matches it, Healthy when it returns', (t) => {
  const config = devConfig([{ devicematch: '^ttyUSB[0-9]+$', nummaxdevices: 2 }, { devicematch: '^snd$', nummaxdevices: 1 }]);
  const present = [node('ttyUSB0'), node('ttyUSB1'), dir('snd', ['snd/controlC0']), node('snd/controlC0')];
  const first = devResources(config, present, []).resources;
  t.deepEqual(summary(first), { 'smarter-devices/snd': '1 H', 'smarter-devices/ttyUSB0': '2 HH', 'smarter-devices/ttyUSB1': '2 HH' });

  const unplugged = devResources(config, [node('ttyUSB0')], first);
  t.deepEqual(unplugged.warnings, []);
  t.deepEqual(summary(unplugged.resources), { 'smarter-devices/snd': '1 U', 'smarter-devices/ttyUSB0': '2 HH', 'smarter-devices/ttyUSB1': '2 UU' });
  const kept = unplugged.resources.find((r) => r.name === 'smarter-devices/ttyUSB1');
  t.deepEqual(kept?.devices.map((d) => d.ID), ['0', '1']);
  t.deepEqual(kept?.grant, { kind: 'deviceNodes', paths: ['/dev/ttyUSB1'] });
  t.deepEqual(unplugged.resources.find((r) => r.name === 'smarter-devices/snd')?.grant, { kind: 'deviceNodes', paths: ['/dev/snd/controlC0'] });

  // Still gone on the next pass: kept again from the kept spec.
  const again = devResources(config, [node('ttyUSB0')], unplugged.resources).resources;
  t.deepEqual(summary(again), summary(unplugged.resources));

  const back = devResources(config, present, again).resources;
  t.deepEqual(back, first);
});

test('a vanished entry whose config item went away is not returned; other kinds in previous are left alone', (t) => {
  const old = devResources(devConfig([{ devicematch: '^ttyUSB', nummaxdevices: 1 }]), [node('ttyUSB0')], []).resources;
  const runner: ResourceSpec = { kind: 'runner', name: 'riseproject.com/runner', socketName: 'r.sock', devices: [], grant: { kind: 'env', env: {} }, origin: 'deviceplugin', devEntry: 'ttyACM0' };
  const { resources } = devResources(devConfig([{ devicematch: '^ttyACM', nummaxdevices: 1 }]), [], [...old, runner]);
  t.deepEqual(resources, []);
});
