// CDI specs of PCI pools: their content, atomic writes at mode 0644, and never another program's file.
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { parseConfig } from '../../src/common/config.js';
import { memoryLogger } from '../../src/common/logger.js';
import { pciAllocation } from '../../src/deviceplugin/allocation.js';
import { CdiSpecs, cdiFileName, cdiSpecFor } from '../../src/deviceplugin/cdi.js';
import { pciResources } from '../../src/deviceplugin/sources/pci.js';
import { scanPci } from '../../src/deviceplugin/sources/pci-scan.js';
import { buildPciTree, SRIOV_HOST } from '../helpers/pci-tree.js';
import { tempDir } from '../helpers/tmp.js';

async function pools(t: import('ava').ExecutionContext, list: string) {
  const root = await tempDir(t, 'rrn-cdi-root-');
  const dir = await buildPciTree(root, SRIOV_HOST);
  const config = parseConfig(`deviceplugin:\n  pci:\n    resourceList: ${list}\n`, '/etc/riscv-runner-node/config.yaml').deviceplugin.pci!;
  return pciResources(config, scanPci(dir).functions, new Set(), []).resources;
}

test('the spec: cdiVersion 0.6.0, the resource name as kind, our annotation, one device per address with its nodes', async (t) => {
  const [vf, net, off] = await pools(t, '[{resourceName: vf, cdi: true, selectors: [{drivers: [vfio-pci], needVhostNet: true}]}, {resourceName: net, cdi: true, selectors: {drivers: [iavf]}}, {resourceName: off, selectors: {drivers: [bnxt_en]}}]');
  t.deepEqual(cdiSpecFor(vf!), {
    cdiVersion: '0.6.0',
    kind: 'intel.com/vf',
    annotations: { 'riseproject.com/cdi-spec-owner': 'rise-device-plugin' },
    devices: ['42', '43'].map((g, i) => ({
      name: `0000:3b:02.${i + 2}`,
      containerEdits: { deviceNodes: ['/dev/vfio/vfio', `/dev/vfio/${g}`, '/dev/vhost-net', '/dev/net/tun'].map((p) => ({ path: p, permissions: 'rw' })) },
    })),
  });
  // Kernel network functions need no node: CDI refuses a device with no edits, so no spec.
  t.is(cdiSpecFor(net!), undefined);
  // …and Allocate names no CDI device for them, where a function with nodes gets its own.
  const netGrant = net!.grant;
  const vfGrant = vf!.grant;
  if (netGrant.kind !== 'pci' || vfGrant.kind !== 'pci') return t.fail('pci grants expected');
  t.deepEqual(pciAllocation(netGrant, ['0000:3b:02.0']).cdi_devices, []);
  t.is(pciAllocation(netGrant, ['0000:3b:02.0']).envs?.['PCIDEVICE_INTEL_COM_NET'], '0000:3b:02.0');
  t.deepEqual(pciAllocation(vfGrant, ['0000:3b:02.2']).cdi_devices, [{ name: 'intel.com/vf=0000:3b:02.2' }]);
  t.is(cdiSpecFor(off!), undefined);
  t.is(cdiFileName('intel.com/vf'), 'riscv-runner-node_intel.com_vf.json');
});

test('sync writes each spec once, 0644 whatever the umask, through a rename; removes ours when a pool leaves CDI; removeAll empties ours', async (t) => {
  const resources = await pools(t, '[{resourceName: vf, cdi: true, selectors: {drivers: [vfio-pci]}}, {resourceName: vhost, cdi: true, selectors: {drivers: [iavf], needVhostNet: true}}]');
  const dir = path.join(await tempDir(t, 'rrn-cdi-'), 'var', 'run', 'cdi');
  const specs = new CdiSpecs(dir, memoryLogger());
  const before = process.umask(0o077);
  try {
    await specs.sync(resources);
  } finally {
    process.umask(before);
  }
  t.deepEqual((await readdir(dir)).sort(), ['riscv-runner-node_intel.com_vf.json', 'riscv-runner-node_intel.com_vhost.json']);
  const file = path.join(dir, 'riscv-runner-node_intel.com_vf.json');
  t.is((await stat(file)).mode & 0o777, 0o644);
  t.deepEqual(JSON.parse(await readFile(file, 'utf8')), cdiSpecFor(resources[0]!));
  const ino = (await stat(file)).ino;
  await specs.sync(resources);
  t.is((await stat(file)).ino, ino, 'unchanged: not written again');
  await specs.sync(resources.slice(0, 1));
  t.deepEqual(await readdir(dir), ['riscv-runner-node_intel.com_vf.json']);
  await specs.removeAll();
  t.deepEqual(await readdir(dir), []);
});

test("removeStale takes only files with our prefix and our annotation: another program's spec stays", async (t) => {
  const dir = await tempDir(t, 'rrn-cdi-');
  const spec = (owner: string | undefined) => JSON.stringify({ cdiVersion: '0.6.0', kind: 'intel.com/vf', ...(owner ? { annotations: { 'riseproject.com/cdi-spec-owner': owner } } : {}), devices: [] });
  await writeFile(path.join(dir, 'riscv-runner-node_intel.com_vf.json'), spec('rise-device-plugin'));
  await writeFile(path.join(dir, 'riscv-runner-node_hand-written.json'), spec(undefined));
  await writeFile(path.join(dir, 'nvidia.com_gpu.json'), spec('rise-device-plugin'));
  await writeFile(path.join(dir, 'sriov-intel.com_vf.json'), spec(undefined));
  await mkdir(path.join(dir, 'riscv-runner-node_dir.json'));
  const logger = memoryLogger();
  t.deepEqual(await new CdiSpecs(dir, logger).removeStale(), ['riscv-runner-node_intel.com_vf.json']);
  t.deepEqual((await readdir(dir)).sort(), ['nvidia.com_gpu.json', 'riscv-runner-node_dir.json', 'riscv-runner-node_hand-written.json', 'sriov-intel.com_vf.json']);
  t.true(logger.lines.some((l) => l.level === 'info' && /removed 1 stale CDI spec/.test(l.message)));
});

test('a directory that cannot be written is one error line, not a throw, and the write is retried', async (t) => {
  const resources = await pools(t, '[{resourceName: vf, cdi: true, selectors: {drivers: [vfio-pci]}}]');
  const base = await tempDir(t, 'rrn-cdi-');
  await writeFile(path.join(base, 'file'), '');
  const logger = memoryLogger();
  const specs = new CdiSpecs(path.join(base, 'file', 'cdi'), logger);
  await specs.sync(resources);
  await specs.sync(resources);
  t.deepEqual(logger.lines.filter((l) => l.level === 'error').length, 1);
  t.regex(logger.lines[0]?.message ?? '', /failed to write the CDI spec .*riscv-runner-node_intel\.com_vf\.json: .*ENOTDIR/);
  t.deepEqual(specs.files(), []);
});
