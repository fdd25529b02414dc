// Reads the PCI functions of a /sys/bus/pci/devices directory, and which interfaces carry a default route.
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, type Dirent } from 'node:fs';
import path from 'node:path';
import { PCI_ADDRESS_RE } from '../../common/pci-config.js';
import type { PciFunction } from './types.js';

export interface PciScan {
  /** Every function that could be read, sorted by address. */
  functions: PciFunction[];
  /** One sentence per function skipped or read in part, naming the sysfs path. */
  warnings: string[];
}

/** ARPHRD_* numbers in net/<if>/type, as netlink names them (linkTypes compares these names). */
const LINK_TYPES: Readonly<Record<string, string>> = {
  '1': 'ether',
  '24': 'ieee1394',
  '32': 'infiniband',
  '772': 'loopback',
  '776': 'sit',
  '778': 'gre',
  '65534': 'none',
};

// sysfs attributes are a line each; one shared buffer and no fstat (readFileSync's) per read halve
// the cost of a scan, which is mostly these reads.
const attribute = Buffer.alloc(4096);

function readTrimmed(file: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    let size = 0;
    for (let n = 1; n > 0 && size < attribute.length; size += n) n = readSync(fd, attribute, size, attribute.length - size, null);
    return attribute.toString('utf8', 0, size).trim();
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

function linkBase(file: string): string | undefined {
  try {
    return path.basename(readlinkSync(file));
  } catch {
    return undefined;
  }
}

function names(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/** sysfs writes IDs as 0x-prefixed hex; selectors compare the digits alone. */
function hexId(raw: string | undefined, digits: number): string | undefined {
  const m = raw === undefined ? null : /^0x([0-9a-fA-F]+)$/.exec(raw);
  const hex = m?.[1]?.toLowerCase();
  return hex !== undefined && hex.length === digits ? hex : undefined;
}

/**
 * A function's interfaces and their link types. Most drivers put them in `net/`; virtio-pci hands
 * the function to a virtio device (`virtio<N>/net/`, as in a VM's uplink), which the host-device
 * CNI and the SR-IOV operator look in too.
 */
function interfacesOf(deviceDir: string, files: ReadonlySet<string>): { netNames: string[]; linkTypes: string[] } {
  const virtio = files.has('net') ? undefined : [...files].sort().find((f) => /^virtio\d+$/.test(f));
  const netDir = virtio === undefined ? path.join(deviceDir, 'net') : path.join(deviceDir, virtio, 'net');
  const netNames = files.has('net') || virtio !== undefined ? names(netDir) : [];
  const linkTypes = netNames.map((n) => {
    const raw = readTrimmed(path.join(netDir, n, 'type'));
    return raw === undefined ? 'unknown' : (LINK_TYPES[raw] ?? `arphrd-${raw}`);
  });
  return { netNames, linkTypes };
}

/**
 * Every function under devicesDir (the symlinks of /sys/bus/pci/devices). Synchronous, as the
 * /dev scan is: a few hundred tiny reads each cost microseconds, and a thread-pool round trip
 * each would dominate. Never throws: a missing directory is no function; a function whose
 * vendor, device or class cannot be read, or whose `driver` is not a link, is skipped with a
 * warning (sriov skips a device whose driver link cannot be read); an unreadable numa_node is
 * no topology, with a warning.
 */
export function scanPci(devicesDir: string): PciScan {
  const warnings: string[] = [];
  let entries: Dirent[];
  try {
    entries = readdirSync(devicesDir, { withFileTypes: true });
  } catch {
    return { functions: [], warnings };
  }
  const addresses = entries.map((e) => e.name).filter((n) => PCI_ADDRESS_RE.test(n)).sort();
  // Each PF's virtfn<N> links, read once: VF address → N.
  const vfIndex = new Map<string, number>();
  const listing = new Map<string, string[]>();
  for (const address of addresses) {
    const dir = path.join(devicesDir, address);
    const files = names(dir);
    listing.set(address, files);
    for (const f of files) {
      const m = /^virtfn(\d+)$/.exec(f);
      const vf = m ? linkBase(path.join(dir, f)) : undefined;
      if (m && vf !== undefined) vfIndex.set(vf, Number(m[1]));
    }
  }
  // A PF's interfaces, read once for all its VFs.
  const pfs = new Map<string, NonNullable<PciFunction['pf']>>();
  const pfOf = (address: string): NonNullable<PciFunction['pf']> => {
    let pf = pfs.get(address);
    if (pf === undefined) {
      const pfDir = path.join(devicesDir, address);
      pf = { address, ...interfacesOf(pfDir, new Set(listing.get(address) ?? names(pfDir))) };
      pfs.set(address, pf);
    }
    return pf;
  };
  const functions: PciFunction[] = [];
  for (const address of addresses) {
    const dir = path.join(devicesDir, address);
    const files = new Set(listing.get(address));
    const vendor = hexId(readTrimmed(path.join(dir, 'vendor')), 4);
    const device = hexId(readTrimmed(path.join(dir, 'device')), 4);
    const cls = hexId(readTrimmed(path.join(dir, 'class')), 6);
    if (vendor === undefined || device === undefined || cls === undefined) {
      const what = [vendor === undefined ? 'vendor' : '', device === undefined ? 'device' : '', cls === undefined ? 'class' : ''].filter(Boolean).join(', ');
      warnings.push(`PCI function ${dir} has no readable ${what} (sysfs writes e.g. 0x8086); skipped: check the kernel's sysfs, or the --root given`);
      continue;
    }
    let driver: string | undefined;
    if (files.has('driver')) {
      // readlink alone: it fails (EINVAL) on anything that is not a link.
      driver = linkBase(path.join(dir, 'driver'));
      if (driver === undefined) {
        warnings.push(`PCI function ${dir}: driver is not a link to a driver; skipped until it is (unbind and bind the device again)`);
        continue;
      }
    }
    let numaNode: number | undefined;
    const numa = files.has('numa_node') ? readTrimmed(path.join(dir, 'numa_node')) : undefined;
    if (numa !== undefined) {
      if (/^-?\d+$/.test(numa)) numaNode = Number(numa) >= 0 ? Number(numa) : undefined;
      else warnings.push(`PCI function ${dir}: numa_node ${JSON.stringify(numa)} is not a number; the device is offered without topology`);
    }
    const pfAddress = files.has('physfn') ? linkBase(path.join(dir, 'physfn')) : undefined;
    const numVfs = files.has('sriov_numvfs') ? Number(readTrimmed(path.join(dir, 'sriov_numvfs')) ?? '0') : 0;
    functions.push({
      address,
      vendor,
      device,
      class: cls,
      driver,
      numaNode,
      iommuGroup: files.has('iommu_group') ? linkBase(path.join(dir, 'iommu_group')) : undefined,
      acpiIndex: files.has('acpi_index') ? readTrimmed(path.join(dir, 'acpi_index')) : undefined,
      ...interfacesOf(dir, files),
      pf: pfAddress === undefined ? undefined : pfOf(pfAddress),
      vfIndex: pfAddress === undefined ? undefined : vfIndex.get(address),
      numVfs: Number.isInteger(numVfs) && numVfs > 0 ? numVfs : 0,
      uio: files.has('uio') ? names(path.join(dir, 'uio')).filter((n) => /^uio\d+$/.test(n)) : [],
    });
  }
  return { functions, warnings };
}

/**
 * The interfaces that carry an IPv4 default route, from /proc/net/route (destination and mask
 * 00000000). An unreadable or empty table is none.
 */
export function defaultRouteInterfaces(routeTable: string | undefined): Set<string> {
  const out = new Set<string>();
  for (const line of (routeTable ?? '').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 8 && f[1] === '00000000' && f[7] === '00000000' && f[0] !== undefined) out.add(f[0]);
  }
  return out;
}

/** The whole table (it may hold thousands of routes); undefined when it cannot be read. */
export function readRouteTable(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
