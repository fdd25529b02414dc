// Builds fixture sysfs PCI trees in temp directories, shaped as a real /sys/bus/pci/devices is.
// Real sysfs: /sys/bus/pci/devices/<addr> is a symlink to ../../../devices/pci<dom>:<bus>/<addr>;
// in that directory `vendor`, `device`, `class` hold 0x-prefixed hex, `numa_node` a number (-1:
// none), `driver` links to ../../../bus/pci/drivers/<name> when one is bound, `iommu_group` to
// ../../../kernel/iommu_groups/<n>, `net/<ifname>/type` holds the ARPHRD number, a VF has
// `physfn` -> ../<pf addr>, its PF `virtfn<N>` -> ../<vf addr> and `sriov_numvfs`, a uio-bound
// function `uio/uio<N>`, a virtio-pci one its virtio device `virtio<N>/` with `net/<ifname>` in it.
import { mkdir, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface PciFixture {
  address: string;
  /** Bare hex as selectors write it ("8086"); written 0x-prefixed. */
  vendor: string;
  device: string;
  /** "020000" Ethernet, "120000" processing accelerator, "030000" display … */
  class: string;
  /** The bound driver; absent or undefined: none bound. */
  driver?: string | undefined;
  /** numa_node's content; absent: "-1", as a board without NUMA shows; null: no file at all. */
  numa?: string | null;
  iommuGroup?: string;
  acpiIndex?: string;
  /** Interface name → ARPHRD type (1 ether, 32 infiniband). */
  net?: Record<string, number>;
  /** As net, for a virtio-pci function: the interfaces sit under its virtio device, virtio<N>/net/<ifname>. */
  virtioNet?: { device: string; net: Record<string, number> };
  /** The PF's address, for a VF; its index among the PF's virtfn links in vfIndex (default: order of appearance). */
  physfn?: string;
  vfIndex?: number;
  /** sriov_numvfs of a PF; written when set. */
  numVfs?: number;
  uio?: string[];
  /** Raw overrides of files in the function's directory: content, or null to leave the file out. */
  files?: Record<string, string | null>;
  /** Make `driver` a regular file instead of a link (broken sysfs content). */
  driverIsFile?: boolean;
}

export function sysPciDir(root: string): string {
  return path.join(root, 'sys', 'bus', 'pci', 'devices');
}

function deviceDir(root: string, address: string): string {
  return path.join(root, 'sys', 'devices', `pci${address.slice(0, 7)}`, address);
}

/** Creates every function under root/sys; returns root/sys/bus/pci/devices. */
export async function buildPciTree(root: string, fixtures: readonly PciFixture[]): Promise<string> {
  const devices = sysPciDir(root);
  await mkdir(devices, { recursive: true });
  const vfCount = new Map<string, number>();
  for (const f of fixtures) await addPciFunction(root, f, vfCount);
  return devices;
}

export async function addPciFunction(root: string, f: PciFixture, vfCount = new Map<string, number>()): Promise<void> {
  const dir = deviceDir(root, f.address);
  await mkdir(dir, { recursive: true });
  const files: Record<string, string | null> = {
    vendor: `0x${f.vendor}\n`,
    device: `0x${f.device}\n`,
    class: `0x${f.class}\n`,
    numa_node: f.numa === undefined ? '-1\n' : f.numa === null ? null : `${f.numa}\n`,
    ...(f.acpiIndex !== undefined ? { acpi_index: `${f.acpiIndex}\n` } : {}),
    ...(f.numVfs !== undefined ? { sriov_numvfs: `${f.numVfs}\n`, sriov_totalvfs: `${Math.max(f.numVfs, 8)}\n` } : {}),
    ...f.files,
  };
  for (const [name, content] of Object.entries(files)) {
    if (content !== null) await writeFile(path.join(dir, name), content);
  }
  if (f.driverIsFile) await writeFile(path.join(dir, 'driver'), 'not a link\n');
  else if (f.driver !== undefined) await bindDriver(root, f.address, f.driver);
  if (f.iommuGroup !== undefined) {
    await mkdir(path.join(root, 'sys', 'kernel', 'iommu_groups', f.iommuGroup), { recursive: true });
    await symlink(`../../../kernel/iommu_groups/${f.iommuGroup}`, path.join(dir, 'iommu_group'));
  }
  for (const [ifname, type] of Object.entries(f.net ?? {})) {
    await mkdir(path.join(dir, 'net', ifname), { recursive: true });
    await writeFile(path.join(dir, 'net', ifname, 'type'), `${type}\n`);
  }
  for (const [ifname, type] of Object.entries(f.virtioNet?.net ?? {})) {
    const dev = path.join(dir, f.virtioNet?.device ?? 'virtio0');
    await mkdir(path.join(dev, 'net', ifname), { recursive: true });
    await writeFile(path.join(dev, 'net', ifname, 'type'), `${type}\n`);
  }
  for (const u of f.uio ?? []) await mkdir(path.join(dir, 'uio', u), { recursive: true });
  if (f.physfn !== undefined) {
    await symlink(`../${f.physfn}`, path.join(dir, 'physfn'));
    const index = f.vfIndex ?? vfCount.get(f.physfn) ?? 0;
    vfCount.set(f.physfn, Math.max(index + 1, vfCount.get(f.physfn) ?? 0));
    const pfDir = deviceDir(root, f.physfn);
    await mkdir(pfDir, { recursive: true });
    // A VF put back after a removal finds its PF's link still there, as a re-plugged one would.
    await unlink(path.join(pfDir, `virtfn${index}`)).catch(() => undefined);
    await symlink(`../${f.address}`, path.join(pfDir, `virtfn${index}`));
  }
  await symlink(`../../../devices/pci${f.address.slice(0, 7)}/${f.address}`, path.join(sysPciDir(root), f.address)).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
}

/** Hot-unplug: the function's directory and its bus link go. */
export async function removePciFunction(root: string, address: string): Promise<void> {
  await unlink(path.join(sysPciDir(root), address)).catch(() => undefined);
  await rm(deviceDir(root, address), { recursive: true, force: true });
}

export async function unbindDriver(root: string, address: string): Promise<void> {
  await unlink(path.join(deviceDir(root, address), 'driver'));
}

export async function bindDriver(root: string, address: string, driver: string): Promise<void> {
  await mkdir(path.join(root, 'sys', 'bus', 'pci', 'drivers', driver), { recursive: true });
  await symlink(`../../../bus/pci/drivers/${driver}`, path.join(deviceDir(root, address), 'driver'));
}

/** root/proc/net/route with a default route on each of these interfaces (and a local one on each other). */
export async function writeRouteTable(root: string, defaultVia: readonly string[], others: readonly string[] = []): Promise<string> {
  const file = path.join(root, 'proc', 'net', 'route');
  await mkdir(path.dirname(file), { recursive: true });
  const header = 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT';
  const lines = [
    ...defaultVia.map((i) => `${i}\t00000000\t0102A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0`),
    ...[...defaultVia, ...others].map((i) => `${i}\t0002A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0`),
  ];
  await writeFile(file, `${[header, ...lines].join('\n')}\n`);
  return file;
}

/** A dual-port Intel X710-style NIC: PF 0 carries the host's default route, PF 1 has VFs; plus an accelerator and a GPU. */
export const SRIOV_HOST: readonly PciFixture[] = [
  // PF 0: the host's uplink (default route), no VFs.
  { address: '0000:3b:00.0', vendor: '8086', device: '1572', class: '020000', driver: 'i40e', numa: '0', iommuGroup: '30', net: { enp59s0f0: 1 }, numVfs: 0, acpiIndex: '101' },
  // PF 1: four VFs configured, so the PF itself is not offered.
  { address: '0000:3b:00.1', vendor: '8086', device: '1572', class: '020000', driver: 'i40e', numa: '0', iommuGroup: '31', net: { enp59s0f1: 1 }, numVfs: 4, acpiIndex: '102' },
  { address: '0000:3b:02.0', vendor: '8086', device: '154c', class: '020000', driver: 'iavf', numa: '0', iommuGroup: '40', net: { enp59s2: 1 }, physfn: '0000:3b:00.1', vfIndex: 0 },
  { address: '0000:3b:02.1', vendor: '8086', device: '154c', class: '020000', driver: 'iavf', numa: '0', iommuGroup: '41', net: { enp59s2f1: 1 }, physfn: '0000:3b:00.1', vfIndex: 1 },
  { address: '0000:3b:02.2', vendor: '8086', device: '154c', class: '020000', driver: 'vfio-pci', numa: '0', iommuGroup: '42', physfn: '0000:3b:00.1', vfIndex: 2 },
  { address: '0000:3b:02.3', vendor: '8086', device: '154c', class: '020000', driver: 'vfio-pci', numa: '0', iommuGroup: '43', physfn: '0000:3b:00.1', vfIndex: 3 },
  // A Broadcom NIC on the other socket, and an Intel FPGA accelerator.
  { address: '0000:86:00.0', vendor: '14e4', device: '1750', class: '020000', driver: 'bnxt_en', numa: '1', iommuGroup: '60', net: { ens801f0: 1 }, acpiIndex: '201' },
  { address: '0000:af:00.0', vendor: '8086', device: '0d90', class: '120000', driver: 'vfio-pci', numa: '1', iommuGroup: '70' },
  // Something no pool asks for.
  { address: '0000:00:02.0', vendor: '1a03', device: '2000', class: '030000', driver: 'ast', iommuGroup: '2' },
];

/**
 * A host for sriov's README config: PF enp0s0f0 (NUMA 0) with VFs 18:02.0-1 on iavf and
 * 18:02.2-3 on vfio-pci, PF enp2s2f1 (NUMA 1) with an ixgbevf VF and a vfio-pci VF, the uplink
 * eno1 (default route), an Intel FPGA (8086:0d90) on vfio-pci and a Broadcom BCM57414 PF.
 */
export const README_HOST: readonly PciFixture[] = [
  { address: '0000:18:00.0', vendor: '8086', device: '1572', class: '020000', driver: 'i40e', numa: '0', iommuGroup: '90', net: { enp0s0f0: 1 }, numVfs: 4 },
  { address: '0000:18:02.0', vendor: '8086', device: '154c', class: '020000', driver: 'iavf', numa: '0', iommuGroup: '96', net: { enp0s0f0v0: 1 }, physfn: '0000:18:00.0', vfIndex: 0 },
  { address: '0000:18:02.1', vendor: '8086', device: '154c', class: '020000', driver: 'iavf', numa: '0', iommuGroup: '97', net: { enp0s0f0v1: 1 }, physfn: '0000:18:00.0', vfIndex: 1 },
  { address: '0000:18:02.2', vendor: '8086', device: '154c', class: '020000', driver: 'vfio-pci', numa: '0', iommuGroup: '100', physfn: '0000:18:00.0', vfIndex: 2 },
  { address: '0000:18:02.3', vendor: '8086', device: '154c', class: '020000', driver: 'vfio-pci', numa: '0', iommuGroup: '101', physfn: '0000:18:00.0', vfIndex: 3 },
  { address: '0000:af:00.0', vendor: '8086', device: '10fb', class: '020000', driver: 'ixgbe', numa: '1', iommuGroup: '110', net: { enp2s2f1: 1 }, numVfs: 2 },
  { address: '0000:af:10.0', vendor: '8086', device: '10ed', class: '020000', driver: 'ixgbevf', numa: '1', iommuGroup: '119', net: { enp2s2f1v0: 1 }, physfn: '0000:af:00.0', vfIndex: 0 },
  { address: '0000:af:10.2', vendor: '8086', device: '10ed', class: '020000', driver: 'vfio-pci', numa: '1', iommuGroup: '120', physfn: '0000:af:00.0', vfIndex: 1 },
  { address: '0000:3d:00.0', vendor: '8086', device: '1572', class: '020000', driver: 'i40e', numa: '0', iommuGroup: '20', net: { eno1: 1 } },
  { address: '0000:5e:00.0', vendor: '8086', device: '0d90', class: '120000', driver: 'vfio-pci', numa: '0', iommuGroup: '130' },
  { address: '0000:86:00.0', vendor: '14e4', device: '1750', class: '020000', driver: 'bnxt_en', numa: '1', iommuGroup: '140', net: { ens3f0np0: 1 } },
];
