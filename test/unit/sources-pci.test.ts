// sriov's PCI pools over fixture sysfs trees: selectors, first match, skips, topology, bad sysfs content, health and Allocate.
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { parseConfig } from '../../src/common/config.js';
import type { PciConfig } from '../../src/common/pci-config.js';
import { containerAllocation } from '../../src/deviceplugin/allocation.js';
import type { ResourceSpec } from '../../src/deviceplugin/resource.js';
import { pciEnvName, pciResources, pciSocketName } from '../../src/deviceplugin/sources/pci.js';
import { discover } from '../../src/deviceplugin/sources/index.js';
import { defaultRouteInterfaces, readRouteTable, scanPci } from '../../src/deviceplugin/sources/pci-scan.js';
import { buildPciTree, removePciFunction, SRIOV_HOST, bindDriver, unbindDriver, writeRouteTable, type PciFixture } from '../helpers/pci-tree.js';
import { tempDir } from '../helpers/tmp.js';

function pciConfig(list: string, extra = ''): PciConfig {
  const c = parseConfig(`deviceplugin:\n  pci:\n${extra}    resourceList: ${list}\n`, '/etc/riscv-runner-node/config.yaml').deviceplugin.pci;
  if (c === undefined) throw new Error('no pci section');
  return c;
}

interface Host {
  root: string;
  discover: (config: PciConfig, previous?: readonly ResourceSpec[]) => { resources: ResourceSpec[]; warnings: string[] };
}

async function host(t: ExecutionContext, fixtures: readonly PciFixture[] = SRIOV_HOST, defaultVia: readonly string[] = ['enp59s0f0']): Promise<Host> {
  const root = await tempDir(t, 'rrn-pci-');
  const dir = await buildPciTree(root, fixtures);
  const routes = await writeRouteTable(root, defaultVia, ['ens801f0']);
  return {
    root,
    discover: (config, previous = []) => {
      const scan = scanPci(dir);
      const found = pciResources(config, scan.functions, defaultRouteInterfaces(readRouteTable(routes)), previous);
      return { resources: found.resources, warnings: [...scan.warnings, ...found.warnings] };
    },
  };
}

const pools = (resources: readonly ResourceSpec[]): Record<string, string[]> =>
  Object.fromEntries(resources.map((r) => [r.name, r.devices.map((d) => d.ID.slice(5))]));

// sriov's own selector cases, one row each, over the fixture host (SRIOV_HOST: 3b:00.0 carries the
// default route, 3b:00.1 has VFs 3b:02.0-3 (0-1 iavf, 2-3 vfio-pci), 86:00.0 Broadcom on NUMA 1,
// af:00.0 an accelerator, 00:02.0 a display controller). Addresses shown without "0000:".
const selectorCases: Array<[string, string, Record<string, string[]>]> = [
  ['vendors', '[{resourceName: a, selectors: {vendors: ["14e4"]}}]', { 'intel.com/a': ['86:00.0'] }],
  ['devices', '[{resourceName: a, selectors: {devices: ["154c"]}}]', { 'intel.com/a': ['3b:02.0', '3b:02.1', '3b:02.2', '3b:02.3'] }],
  ['drivers (netDevice: class 02 only)', '[{resourceName: a, selectors: {drivers: [vfio-pci]}}]', { 'intel.com/a': ['3b:02.2', '3b:02.3'] }],
  ['pciAddresses, compared exactly', '[{resourceName: a, selectors: {pciAddresses: ["0000:3b:02.1", "0000:3b:02.7"]}}]', { 'intel.com/a': ['3b:02.1'] }],
  ['acpiIndexes', '[{resourceName: a, selectors: {acpiIndexes: ["201"]}}]', { 'intel.com/a': ['86:00.0'] }],
  ['AND within one selector', '[{resourceName: a, selectors: {vendors: ["8086"], drivers: [iavf]}}]', { 'intel.com/a': ['3b:02.0', '3b:02.1'] }],
  ['OR within one field', '[{resourceName: a, selectors: {drivers: [iavf, bnxt_en]}}]', { 'intel.com/a': ['3b:02.0', '3b:02.1', '86:00.0'] }],
  ['several selector objects: their union', '[{resourceName: a, selectors: [{drivers: [iavf]}, {vendors: ["14e4"]}]}]', { 'intel.com/a': ['3b:02.0', '3b:02.1', '86:00.0'] }],
  [
    'first match wins across resources, in config order',
    '[{resourceName: a, selectors: {vendors: ["8086"]}}, {resourceName: b, selectors: {drivers: [vfio-pci]}}]',
    { 'intel.com/a': ['3b:02.0', '3b:02.1', '3b:02.2', '3b:02.3'], 'intel.com/b': [] },
  ],
  [
    'first match wins, the other order',
    '[{resourceName: b, selectors: {drivers: [vfio-pci]}}, {resourceName: a, selectors: {vendors: ["8086"]}}]',
    { 'intel.com/b': ['3b:02.2', '3b:02.3'], 'intel.com/a': ['3b:02.0', '3b:02.1'] },
  ],
  ['a PF with VFs configured is skipped', '[{resourceName: a, selectors: {pciAddresses: ["0000:3b:00.1"]}}]', { 'intel.com/a': [] }],
  ['the interface with the default route is skipped', '[{resourceName: a, selectors: {pciAddresses: ["0000:3b:00.0"]}}]', { 'intel.com/a': [] }],
  ['an empty selector takes every netDevice not skipped', '[{resourceName: a, selectors: [{}]}]', { 'intel.com/a': ['3b:02.0', '3b:02.1', '3b:02.2', '3b:02.3', '86:00.0'] }],
  ['no selectors take nothing', '[{resourceName: a}]', { 'intel.com/a': [] }],
  ['accelerator: class 12 only', '[{resourceName: a, deviceType: accelerator, selectors: {vendors: ["8086"]}}]', { 'intel.com/a': ['af:00.0'] }],
  ['netDevice never takes an accelerator', '[{resourceName: a, selectors: {devices: ["0d90"]}}]', { 'intel.com/a': [] }],
  ['pci (ours): any class', '[{resourceName: a, deviceType: pci, selectors: {vendors: ["1a03"]}}]', { 'intel.com/a': ['00:02.0'] }],
  ['pfNames: every VF of the PF', '[{resourceName: a, selectors: {pfNames: [enp59s0f1]}}]', { 'intel.com/a': ['3b:02.0', '3b:02.1', '3b:02.2', '3b:02.3'] }],
  ['pfNames with functions', '[{resourceName: a, selectors: {pfNames: ["enp59s0f1#1-2"]}}]', { 'intel.com/a': ['3b:02.1', '3b:02.2'] }],
  ['rootDevices with functions', '[{resourceName: a, selectors: {rootDevices: ["0000:3b:00.1#0,3"]}}]', { 'intel.com/a': ['3b:02.0', '3b:02.3'] }],
  ['linkTypes: a vfio VF carries its PF\'s', '[{resourceName: a, selectors: {vendors: ["8086"], linkTypes: [ether]}}]', { 'intel.com/a': ['3b:02.0', '3b:02.1', '3b:02.2', '3b:02.3'] }],
  ['linkTypes that none has', '[{resourceName: a, selectors: {linkTypes: [infiniband]}}]', { 'intel.com/a': [] }],
  [
    'the same name under two prefixes is two resources',
    '[{resourceName: a, selectors: {drivers: [iavf]}}, {resourceName: a, resourcePrefix: acme.com, selectors: {drivers: [bnxt_en]}}]',
    { 'intel.com/a': ['3b:02.0', '3b:02.1'], 'acme.com/a': ['86:00.0'] },
  ],
];

for (const [what, list, want] of selectorCases) {
  test(`selectors: ${what}`, async (t) => {
    const h = await host(t);
    t.deepEqual(pools(h.discover(pciConfig(list)).resources), want);
  });
}

test('names: resource <prefix>/<name>, socket <prefix>_<name>.sock, env PCIDEVICE_ with only . and / turned to _', (t) => {
  t.is(pciSocketName({ resourcePrefix: 'intel.com', resourceName: 'intel_sriov_netdevice' }), 'intel.com_intel_sriov_netdevice.sock');
  t.is(pciEnvName('intel.com/sriov-net_0'), 'PCIDEVICE_INTEL_COM_SRIOV-NET_0');
  t.is(pciEnvName('rebellions.ai/ATOM'), 'PCIDEVICE_REBELLIONS_AI_ATOM');
});

test('the default-route skip names the interface, once per pass; a PF with VFs is skipped without a word', async (t) => {
  const h = await host(t);
  const { warnings } = h.discover(pciConfig('[{resourceName: a, selectors: {vendors: ["8086"], devices: ["1572"]}}]'));
  t.deepEqual(warnings, [
    "PCI function 0000:3b:00.0 matches deviceplugin.pci.resourceList[0] (intel.com/a) but is not offered: interface enp59s0f0 carries this host's default route",
  ]);
});

// A VM's uplink: virtio-pci binds the function, and its interface is under the virtio device.
const VIRTIO_UPLINK: PciFixture = { address: '0000:00:03.0', vendor: '1af4', device: '1000', class: '020000', driver: 'virtio-pci', virtioNet: { device: 'virtio2', net: { eth0: 1 } } };
const VIRTIO_SPARE: PciFixture = { address: '0000:00:04.0', vendor: '1af4', device: '1000', class: '020000', driver: 'virtio-pci', virtioNet: { device: 'virtio3', net: { eth1: 1 } } };

test('a virtio-pci function has the interfaces of its virtio device: its link type, and the default-route skip', async (t) => {
  const h = await host(t, [VIRTIO_UPLINK, VIRTIO_SPARE], ['eth0']);
  const scan = scanPci(path.join(h.root, 'sys', 'bus', 'pci', 'devices'));
  t.deepEqual(
    scan.functions.map((f) => [f.address, f.netNames, f.linkTypes]),
    [
      ['0000:00:03.0', ['eth0'], ['ether']],
      ['0000:00:04.0', ['eth1'], ['ether']],
    ],
  );
  const { resources, warnings } = h.discover(pciConfig('[{resourceName: a, selectors: {vendors: ["1af4"], linkTypes: [ether]}}]'));
  t.deepEqual(pools(resources), { 'intel.com/a': ['00:04.0'] });
  t.deepEqual(warnings, [
    "PCI function 0000:00:03.0 matches deviceplugin.pci.resourceList[0] (intel.com/a) but is not offered: interface eth0 carries this host's default route",
  ]);
  t.deepEqual(pools(h.discover(pciConfig('[{resourceName: a, selectors: {pfNames: [eth1]}}]')).resources), { 'intel.com/a': ['00:04.0'] });
});

const topologyCases: Array<[string, Partial<PciFixture>, string, number[] | undefined, RegExp | undefined]> = [
  ['numa_node 1', { numa: '1' }, '', [1], undefined],
  ['numa_node 0', { numa: '0' }, '', [0], undefined],
  ['numa_node -1: none', { numa: '-1' }, '', undefined, undefined],
  ['no numa_node file: none', { numa: null }, '', undefined, undefined],
  ['garbage numa_node: none, one warning', { numa: 'zero' }, '', undefined, /numa_node "zero" is not a number; the device is offered without topology/],
  ['excludeTopology: none', { numa: '1' }, ', excludeTopology: true', undefined, undefined],
];

for (const [what, change, extra, numa, warning] of topologyCases) {
  test(`topology: ${what}`, async (t) => {
    const fn: PciFixture = { address: '0000:d8:00.0', vendor: '1eff', device: '1220', class: '120000', driver: 'rebellions', ...change };
    const h = await host(t, [fn], []);
    const { resources, warnings } = h.discover(pciConfig(`[{resourceName: ATOM, resourcePrefix: rebellions.ai, deviceType: accelerator, selectors: {vendors: ["1eff"]}${extra}}]`));
    t.deepEqual(resources[0]?.devices, [numa === undefined ? { ID: '0000:d8:00.0', health: 'Healthy' } : { ID: '0000:d8:00.0', health: 'Healthy', numaNodes: numa }]);
    if (warning) {
      t.is(warnings.length, 1);
      t.regex(warnings[0] ?? '', warning);
    } else t.deepEqual(warnings, []);
  });
}

const badContent: Array<[string, Partial<PciFixture>, RegExp | undefined]> = [
  ['no vendor file: skipped, one warning', { files: { vendor: null } }, /d8:00\.0 has no readable vendor .*skipped/],
  ['a vendor that is not hex: skipped, one warning', { files: { vendor: 'intel\n' } }, /has no readable vendor/],
  ['a driver that is a file: skipped, one warning', { driverIsFile: true }, /driver is not a link to a driver; skipped/],
  ['no driver bound: not offered, no warning', { driver: undefined }, undefined],
];

for (const [what, change, warning] of badContent) {
  test(`bad sysfs content: ${what}`, async (t) => {
    const good: PciFixture = { address: '0000:d8:00.1', vendor: '1eff', device: '1220', class: '120000', driver: 'rebellions' };
    const bad: PciFixture = { ...good, address: '0000:d8:00.0', ...change };
    const h = await host(t, [bad, good], []);
    const { resources, warnings } = h.discover(pciConfig('[{resourceName: npu, deviceType: accelerator, selectors: {vendors: ["1eff"]}}]'));
    t.deepEqual(pools(resources), { 'intel.com/npu': ['d8:00.1'] });
    if (warning) {
      t.is(warnings.length, 1, warnings.join('\n'));
      t.regex(warnings[0] ?? '', warning);
    } else t.deepEqual(warnings, []);
  });
}

test('a missing or empty PCI directory is an empty pool, still a resource', (t) => {
  const found = pciResources(pciConfig('[{resourceName: a}]'), scanPci('/nonexistent/sys/bus/pci/devices').functions, new Set(), []);
  t.deepEqual(found.resources.map((r) => [r.name, r.devices.length, r.socketName]), [['intel.com/a', 0, 'intel.com_a.sock']]);
});

test('health: a function that disappears or leaves its driver is Unhealthy, Healthy again when back; a new one joins', async (t) => {
  const h = await host(t);
  const config = pciConfig('[{resourceName: vf, selectors: {drivers: [vfio-pci]}}]');
  const health = (r: readonly ResourceSpec[]): string[] => (r[0]?.devices ?? []).map((d) => `${d.ID.slice(5)} ${d.health}`);
  let last = h.discover(config).resources;
  t.deepEqual(health(last), ['3b:02.2 Healthy', '3b:02.3 Healthy']);
  await removePciFunction(h.root, '0000:3b:02.3');
  last = h.discover(config, last).resources;
  t.deepEqual(health(last), ['3b:02.2 Healthy', '3b:02.3 Unhealthy']);
  await unbindDriver(h.root, '0000:3b:02.2');
  last = h.discover(config, last).resources;
  t.deepEqual(health(last), ['3b:02.2 Unhealthy', '3b:02.3 Unhealthy']);
  // Still Unhealthy pass after pass, and its device nodes are still known.
  last = h.discover(config, last).resources;
  t.deepEqual(health(last), ['3b:02.2 Unhealthy', '3b:02.3 Unhealthy']);
  await bindDriver(h.root, '0000:3b:02.2', 'vfio-pci');
  const { addPciFunction } = await import('../helpers/pci-tree.js');
  await addPciFunction(h.root, { ...SRIOV_HOST[5]!, address: '0000:3b:02.3' });
  await addPciFunction(h.root, { address: '0000:3b:02.4', vendor: '8086', device: '154c', class: '020000', driver: 'vfio-pci', iommuGroup: '44', physfn: '0000:3b:00.1', vfIndex: 4 });
  last = h.discover(config, last).resources;
  t.deepEqual(health(last), ['3b:02.2 Healthy', '3b:02.3 Healthy', '3b:02.4 Healthy']);
  // A config that no longer matches it lets a vanished function go.
  await removePciFunction(h.root, '0000:3b:02.4');
  t.deepEqual(health(h.discover(pciConfig('[{resourceName: vf, selectors: {pciAddresses: ["0000:3b:02.2"]}}]'), last).resources), ['3b:02.2 Healthy']);
});

// Allocate: the env and DeviceSpecs of the reference, written out here, not computed.
function allocate(resources: readonly ResourceSpec[], name: string, ids: string[]) {
  const spec = resources.find((r) => r.name === name);
  if (!spec) throw new Error(`no ${name}`);
  const result = containerAllocation(spec, ids);
  if (!result.ok) throw new Error(result.message);
  return result.response;
}
const rw = (p: string) => ({ container_path: p, host_path: p, permissions: 'rw' });

test('allocate vfio-pci: the IDs in request order, _INFO with generic and vfio, /dev/vfio/vfio once', async (t) => {
  const h = await host(t);
  const { resources } = h.discover(pciConfig('[{resourceName: sriov-dpdk_0, selectors: {drivers: [vfio-pci]}}]'));
  const res = allocate(resources, 'intel.com/sriov-dpdk_0', ['0000:3b:02.3', '0000:3b:02.2']);
  t.deepEqual(res.envs, {
    'PCIDEVICE_INTEL_COM_SRIOV-DPDK_0': '0000:3b:02.3,0000:3b:02.2',
    'PCIDEVICE_INTEL_COM_SRIOV-DPDK_0_INFO':
      '{"0000:3b:02.2":{"generic":{"deviceID":"0000:3b:02.2"},"vfio":{"dev-mount":"/dev/vfio/42","mount":"/dev/vfio/vfio"}},' +
      '"0000:3b:02.3":{"generic":{"deviceID":"0000:3b:02.3"},"vfio":{"dev-mount":"/dev/vfio/43","mount":"/dev/vfio/vfio"}}}',
  });
  t.deepEqual(res.devices, [rw('/dev/vfio/vfio'), rw('/dev/vfio/43'), rw('/dev/vfio/42')]);
});

test('allocate a kernel network driver: env only, no device node', async (t) => {
  const h = await host(t);
  const { resources } = h.discover(pciConfig('[{resourceName: net, selectors: {drivers: [iavf]}}]'));
  const res = allocate(resources, 'intel.com/net', ['0000:3b:02.0']);
  t.deepEqual(res.envs, { PCIDEVICE_INTEL_COM_NET: '0000:3b:02.0', PCIDEVICE_INTEL_COM_NET_INFO: '{"0000:3b:02.0":{"generic":{"deviceID":"0000:3b:02.0"}}}' });
  t.deepEqual(res.devices, []);
});

test('allocate uio and needVhostNet: /dev/uioN, /dev/vhost-net, /dev/net/tun, each once', async (t) => {
  const fns: PciFixture[] = [
    { address: '0000:5e:00.0', vendor: '8086', device: '10ed', class: '020000', driver: 'igb_uio', uio: ['uio0'] },
    { address: '0000:5e:00.1', vendor: '8086', device: '10ed', class: '020000', driver: 'uio_pci_generic', uio: ['uio1'] },
  ];
  const h = await host(t, fns, []);
  const { resources } = h.discover(pciConfig('[{resourceName: dpdk, selectors: [{drivers: [igb_uio, uio_pci_generic], needVhostNet: true}]}]'));
  const res = allocate(resources, 'intel.com/dpdk', ['0000:5e:00.0', '0000:5e:00.1']);
  t.deepEqual(res.devices, [rw('/dev/uio0'), rw('/dev/vhost-net'), rw('/dev/net/tun'), rw('/dev/uio1')]);
  t.is(
    res.envs?.['PCIDEVICE_INTEL_COM_DPDK_INFO'],
    '{"0000:5e:00.0":{"generic":{"deviceID":"0000:5e:00.0"},"uio":{"mount":"/dev/uio0"},"vhost":{"net-mount":"/dev/vhost-net","tun-mount":"/dev/net/tun"}},' +
      '"0000:5e:00.1":{"generic":{"deviceID":"0000:5e:00.1"},"uio":{"mount":"/dev/uio1"},"vhost":{"net-mount":"/dev/vhost-net","tun-mount":"/dev/net/tun"}}}',
  );
});

test("allocate with additionalInfo: the '*' map, then the device's own overriding it key by key", async (t) => {
  const h = await host(t);
  const { resources } = h.discover(
    pciConfig('[{resourceName: net, selectors: {drivers: [iavf]}, additionalInfo: {"*": {token: original, both: "1"}, "0000:3b:02.1": {token: specific, own: "2"}}}]'),
  );
  const info = (id: string): unknown => JSON.parse(allocate(resources, 'intel.com/net', [id]).envs?.['PCIDEVICE_INTEL_COM_NET_INFO'] ?? '{}');
  t.deepEqual(info('0000:3b:02.0'), { '0000:3b:02.0': { extra: { both: '1', token: 'original' }, generic: { deviceID: '0000:3b:02.0' } } });
  t.deepEqual(info('0000:3b:02.1'), { '0000:3b:02.1': { extra: { both: '1', own: '2', token: 'specific' }, generic: { deviceID: '0000:3b:02.1' } } });
});

test('allocate refuses an unknown or Unhealthy address by name', async (t) => {
  const h = await host(t);
  let { resources } = h.discover(pciConfig('[{resourceName: vf, selectors: {drivers: [vfio-pci]}}]'));
  const spec = resources[0]!;
  t.like(containerAllocation(spec, ['0000:3b:02.0']), { ok: false, message: "unknown device '0000:3b:02.0' for intel.com/vf (this node has 0000:3b:02.2, 0000:3b:02.3)" });
  // Answered once while healthy, so what the first snapshot's answer kept cannot speak for the next.
  t.like(containerAllocation(spec, ['0000:3b:02.2']), { ok: true });
  await removePciFunction(h.root, '0000:3b:02.2');
  resources = h.discover(pciConfig('[{resourceName: vf, selectors: {drivers: [vfio-pci]}}]'), resources).resources;
  t.like(containerAllocation(resources[0]!, ['0000:3b:02.2']), { ok: false, message: "device '0000:3b:02.2' of intel.com/vf is Unhealthy" });
});

test('the route table: only destination and mask 00000000 count; an unreadable one is none', async (t) => {
  const root = await tempDir(t, 'rrn-route-');
  const file = await writeRouteTable(root, ['eth0', 'wg0'], ['eth1']);
  t.deepEqual([...defaultRouteInterfaces(readRouteTable(file))].sort(), ['eth0', 'wg0']);
  t.deepEqual([...defaultRouteInterfaces(readRouteTable(path.join(root, 'nope')))], []);
});

// What discovery says when it cannot see the host's default route: a network namespace of the
// plugin's own shows an empty table, a hidden /proc/net none at all. Only while a netDevice or pci
// pool could take one of the network functions present.
const uplinkCases: Array<[string, { table: 'uplink' | 'none' | 'missing'; list: string; fixtures?: readonly PciFixture[] }, RegExp | undefined]> = [
  ['the default route seen: nothing to say', { table: 'uplink', list: '[{resourceName: a, selectors: {drivers: [iavf]}}]' }, undefined],
  [
    'no table: says which functions are at stake and how to fix it',
    { table: 'missing', list: '[{resourceName: a, selectors: {drivers: [iavf]}}]' },
    /^cannot read the routing table \S+\/nope: netDevice and pci pools cannot tell which of 7 PCI network functions \(0000:3b:00\.0, 0000:3b:00\.1, 0000:3b:02\.0 and 4 more\) carries the host's default route, and may offer its uplink; make it readable \(the shipped unit reads \/proc\/self\/net\/route: ProcSubset=pid hides \/proc\/net\), or keep the uplink out of every pool with selectors \(drivers, pfNames, pciAddresses\)$/,
  ],
  [
    'a table without a default route, as a private network namespace shows it',
    { table: 'none', list: '[{resourceName: a, deviceType: pci, selectors: {drivers: [iavf]}}]' },
    /^the routing table \S+\/route has no IPv4 default route, so netDevice and pci pools leave none of 7 PCI network functions .* out as the host's uplink; if this host has a default route, the plugin runs in a network namespace of its own \(PrivateNetwork=yes in a drop-in, .*\), where it sees neither the host's routes nor its interfaces: run it in the host's, or keep the uplink out/,
  ],
  ['accelerator pools only: nothing at stake', { table: 'none', list: '[{resourceName: a, deviceType: accelerator, selectors: {vendors: ["8086"]}}]' }, undefined],
  [
    'no network function with a driver: nothing at stake',
    { table: 'missing', list: '[{resourceName: a, selectors: {vendors: ["8086"]}}]', fixtures: [SRIOV_HOST[7]!, { ...SRIOV_HOST[0]!, driver: undefined }] },
    undefined,
  ],
  [
    'one function: named alone',
    { table: 'none', list: '[{resourceName: a, selectors: {vendors: ["1af4"]}}]', fixtures: [VIRTIO_UPLINK] },
    /leave none of 1 PCI network function \(0000:00:03\.0\) out as the host's uplink/,
  ],
];

for (const [what, { table, list, fixtures }, expected] of uplinkCases) {
  test(`discovery and the uplink: ${what}`, async (t) => {
    const root = await tempDir(t, 'rrn-uplink-');
    const pciDir = await buildPciTree(root, fixtures ?? SRIOV_HOST);
    const routeFile = table === 'missing' ? path.join(root, 'nope') : await writeRouteTable(root, table === 'uplink' ? ['enp59s0f0'] : [], ['lo']);
    const config = parseConfig(`deviceplugin:\n  pci:\n    resourceList: ${list}\n`, '/etc/riscv-runner-node/config.yaml').deviceplugin;
    const found = await discover({ config, names: { nodeName: 'n', hostName: 'n' }, devDir: path.join(root, 'dev'), pciDir, routeFile, socketDir: '/var/lib/kubelet/device-plugins', maintenance: false, previous: [] });
    const about = found.warnings.filter((w) => w.includes('routing table'));
    if (expected === undefined) t.deepEqual(about, []);
    else {
      t.is(about.length, 1);
      t.regex(about[0] ?? '', expected);
    }
  });
}
