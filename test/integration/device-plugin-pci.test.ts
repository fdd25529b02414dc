// PCI pools served live: health follows sysfs on the periodic rescan, new functions join, a reload of sriov's own file applies.
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { loadConfig } from '../../src/common/config.js';
import { addPciFunction, bindDriver, buildPciTree, removePciFunction, SRIOV_HOST, unbindDriver, writeRouteTable } from '../helpers/pci-tree.js';
import { eventually } from '../helpers/eventually.js';
import { resolveCdiDevices } from '../fakes/kubelet.js';
import { startHarness } from '../helpers/plugin-harness.js';
import { tempDir } from '../helpers/tmp.js';

const VF = 'intel.com/vf';

test('a function that vanishes or leaves its driver turns Unhealthy on the open stream and Healthy when back; a new one joins; an empty pool is served at 0', async (t) => {
  const root = await tempDir(t, 'rrn-pci-');
  await buildPciTree(root, SRIOV_HOST);
  await writeRouteTable(root, ['enp59s0f0']);
  const etc = await tempDir(t, 'rrn-etc-');
  const file = path.join(etc, 'config.yaml');
  await writeFile(
    file,
    'deviceplugin:\n  pci:\n    resourceList:\n      - {resourceName: vf, selectors: {drivers: [vfio-pci]}}\n      - {resourceName: npu, resourcePrefix: rebellions.ai, deviceType: accelerator, selectors: {vendors: ["1eff"]}}\n',
  );
  const config = (await loadConfig(file, { mustExist: true })).deviceplugin;
  // sysfs sends no events: the rescan every tick is what notices each change here.
  const h = await startHarness(t, { settings: { ...config, root, recheckMs: 40, pciRescanMs: 40 } });
  const seen = (name: string): string => h.kubelet.devices(name).map((d) => `${d.ID.slice(5)} ${d.health[0]}`).join(', ');
  const until = (name: string, want: string, what: string): Promise<void> => h.kubelet.waitFor(() => seen(name) === want, 10_000, what);

  await until(VF, '3b:02.2 H, 3b:02.3 H', 'the vfio-pci VFs');
  await h.kubelet.waitFor(() => h.kubelet.updates.some((u) => u.resourceName === 'rebellions.ai/npu' && u.devices.length === 0), 10_000, 'the empty pool at 0');
  t.is(h.kubelet.capacity('rebellions.ai/npu'), 0);

  await removePciFunction(root, '0000:3b:02.3');
  await until(VF, '3b:02.2 H, 3b:02.3 U', 'a removed VF Unhealthy');
  t.is(h.kubelet.allocatable(VF), 1);
  t.is(h.kubelet.capacity(VF), 2);
  await unbindDriver(root, '0000:3b:02.2');
  await until(VF, '3b:02.2 U, 3b:02.3 U', 'an unbound VF Unhealthy');
  await t.throwsAsync(h.kubelet.allocate(VF, ['0000:3b:02.2']), { message: /device '0000:3b:02\.2' of intel\.com\/vf is Unhealthy/ });

  await bindDriver(root, '0000:3b:02.2', 'vfio-pci');
  await addPciFunction(root, SRIOV_HOST[5]!);
  await until(VF, '3b:02.2 H, 3b:02.3 H', 'both back');
  await addPciFunction(root, { address: '0000:d8:00.0', vendor: '1eff', device: '1220', class: '120000', driver: 'vfio-pci', numa: '1', iommuGroup: '88' });
  await until('rebellions.ai/npu', 'd8:00.0 H', 'a new accelerator in the empty pool');
  t.deepEqual(h.kubelet.devices('rebellions.ai/npu'), [{ ID: '0000:d8:00.0', health: 'Healthy', numa: [1] }]);

  // All of it on the streams opened at start: one registration and one stream per pool.
  t.is(h.kubelet.registrations.filter((r) => r.resourceName === VF).length, 1);
  t.is(h.kubelet.streamsOpened.get(VF), 1);
  t.is(h.kubelet.streamsOpened.get('rebellions.ai/npu'), 1);
  const res = await h.kubelet.allocate('rebellions.ai/npu', ['0000:d8:00.0']);
  t.is(res.container_responses[0]?.envs['PCIDEVICE_REBELLIONS_AI_NPU'], '0000:d8:00.0');
});

test("a change to sriov's own config.json reloads: the pools follow, unchanged ones keep their stream", async (t) => {
  const root = await tempDir(t, 'rrn-pci-');
  await buildPciTree(root, SRIOV_HOST);
  const etc = await tempDir(t, 'rrn-etc-');
  const json = path.join(etc, 'config.json');
  const file = path.join(etc, 'config.yaml');
  await writeFile(json, JSON.stringify({ resourceList: [{ resourceName: 'vf', selectors: [{ drivers: ['vfio-pci'] }] }] }));
  await writeFile(file, `deviceplugin:\n  pci: {file: ${json}}\n`);
  const reloadConfig = async () => (await loadConfig(file, { mustExist: true })).deviceplugin;
  const h = await startHarness(t, { settings: { ...(await reloadConfig()), root, configFile: file, reloadConfig, recheckMs: 50 } });
  await h.kubelet.waitFor(() => h.kubelet.allocatable(VF) === 2, 10_000, 'the vf pool');
  await writeFile(
    json,
    JSON.stringify({ resourceList: [{ resourceName: 'vf', selectors: [{ drivers: ['vfio-pci'] }] }, { resourceName: 'bnxt', resourcePrefix: 'broadcom.com', selectors: { vendors: ['14e4'] } }] }),
  );
  await h.kubelet.waitFor(() => h.kubelet.allocatable('broadcom.com/bnxt') === 1, 10_000, 'the new pool from the file');
  t.is(h.kubelet.streamsOpened.get(VF), 1);
  // A broken file keeps the running pools.
  await writeFile(json, JSON.stringify({ resourceList: [{ resourceName: 'v.f' }] }));
  t.true(await eventually(() => h.plugin.stats().reloadError !== undefined, 10_000), 'the reload refused');
  t.regex(h.plugin.stats().reloadError ?? '', /resourceList\[0\]\.resourceName 'v\.f' may hold only/);
  t.is(h.kubelet.allocatable('broadcom.com/bnxt'), 1);
  t.is(h.kubelet.allocatable(VF), 2);
});

test("GetPreferredAllocation through the stand-in: PCI pools keep a request on one NUMA node; allowCrossNuma false refuses what cannot fit; the runner slots are never asked", async (t) => {
  const root = await tempDir(t, 'rrn-pci-');
  const npu = (address: string, numa: string) => ({ address, vendor: '1eff', device: '1220', class: '120000', driver: 'rebellions', numa });
  await buildPciTree(root, [npu('0000:17:00.0', '0'), npu('0000:18:00.0', '0'), npu('0000:b1:00.0', '1'), npu('0000:b2:00.0', '1'), npu('0000:b3:00.0', '1')]);
  const etc = await tempDir(t, 'rrn-etc-');
  const file = path.join(etc, 'config.yaml');
  await writeFile(file, 'deviceplugin:\n  pci:\n    resourcePrefix: rebellions.ai\n    allowCrossNuma: false\n    resourceList: [{resourceName: ATOM, deviceType: accelerator, selectors: {vendors: ["1eff"]}}]\n');
  const h = await startHarness(t, { settings: { ...(await loadConfig(file, { mustExist: true })).deviceplugin, root } });
  const ATOM = 'rebellions.ai/ATOM';
  await h.kubelet.waitFor(() => h.kubelet.allocatable(ATOM) === 5, 10_000, 'five NPUs');
  const all = h.kubelet.devices(ATOM).map((d) => d.ID);
  t.deepEqual(await h.kubelet.preferredAllocation(ATOM, all, [], 2), ['0000:17:00.0', '0000:18:00.0']);
  t.deepEqual(await h.kubelet.preferredAllocation(ATOM, all, ['0000:b3:00.0'], 2), ['0000:b3:00.0', '0000:b1:00.0']);
  await t.throwsAsync(h.kubelet.preferredAllocation(ATOM, all, [], 4), {
    message: /4 devices of rebellions\.ai\/ATOM do not fit on one NUMA node \(available node 0: 2, node 1: 3\) and allowCrossNuma is false/,
  });
  t.is(await h.kubelet.preferredAllocation('riseproject.com/runner', ['runner-0'], [], 1), undefined);
  t.is(h.kubelet.preferredCalls.length, 3);
});

test('CDI: a spec per cdi resource while it runs, Allocate answers cdi_devices that resolve to the same nodes as DeviceSpecs; stale specs go at start, ours at stop, others stay', async (t) => {
  const root = await tempDir(t, 'rrn-pci-');
  await buildPciTree(root, SRIOV_HOST);
  const cdiDir = path.join(await tempDir(t, 'rrn-cdi-'), 'run', 'cdi');
  await mkdir(cdiDir, { recursive: true });
  // Left by a killed run: ours (prefix and annotation), and another program's.
  const stale = JSON.stringify({ cdiVersion: '0.6.0', kind: 'intel.com/gone', annotations: { 'riseproject.com/cdi-spec-owner': 'rise-device-plugin' }, devices: [{ name: 'x', containerEdits: {} }] });
  await writeFile(path.join(cdiDir, 'riscv-runner-node_intel.com_gone.json'), stale);
  await writeFile(path.join(cdiDir, 'nvidia.yaml'), 'cdiVersion: 0.6.0\n');
  const etc = await tempDir(t, 'rrn-etc-');
  const file = path.join(etc, 'config.yaml');
  await writeFile(
    file,
    'deviceplugin:\n  pci:\n    resourceList:\n      - {resourceName: vf, cdi: true, selectors: {drivers: [vfio-pci]}}\n      - {resourceName: fpga, deviceType: accelerator, cdi: true, selectors: {vendors: ["8086"]}}\n',
  );
  const h = await startHarness(t, { settings: { ...(await loadConfig(file, { mustExist: true })).deviceplugin, root, cdiDir } });
  await h.kubelet.waitFor(() => h.kubelet.allocatable(VF) === 2 && h.kubelet.allocatable('intel.com/fpga') === 1, 10_000, 'the pools');
  t.deepEqual((await readdir(cdiDir)).sort(), ['nvidia.yaml', 'riscv-runner-node_intel.com_fpga.json', 'riscv-runner-node_intel.com_vf.json']);

  const res = await h.kubelet.allocate(VF, ['0000:3b:02.3', '0000:3b:02.2']);
  const answer = res.container_responses[0];
  t.deepEqual(answer?.cdi_devices, [{ name: 'intel.com/vf=0000:3b:02.3' }, { name: 'intel.com/vf=0000:3b:02.2' }]);
  t.deepEqual(answer?.devices, []);
  t.is(answer?.envs['PCIDEVICE_INTEL_COM_VF'], '0000:3b:02.3,0000:3b:02.2');
  // What the runtime makes of the names: the nodes a DeviceSpec answer would give (see sources-pci's vfio case).
  const viaCdi = await resolveCdiDevices([cdiDir], (answer?.cdi_devices ?? []).map((d) => d.name));
  t.deepEqual(viaCdi.map((n) => n.path), ['/dev/vfio/vfio', '/dev/vfio/43', '/dev/vfio/42']);
  const fpga = await h.kubelet.allocate('intel.com/fpga', ['0000:af:00.0']);
  t.deepEqual((await resolveCdiDevices([cdiDir], fpga.container_responses[0]!.cdi_devices.map((d) => d.name))).map((n) => n.path), ['/dev/vfio/vfio', '/dev/vfio/70']);

  await h.stopPlugin();
  t.deepEqual(await readdir(cdiDir), ['nvidia.yaml']);
});
