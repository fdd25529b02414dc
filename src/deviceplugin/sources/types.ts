// What every source returns, and the inputs sources share.
import type { ResourceSpec } from '../resource.js';

/** The names a host answers to: spookd mappings list either. */
export interface NodeNames {
  nodeName: string;
  hostName: string;
}

export interface SourceResult {
  resources: ResourceSpec[];
  /** Full sentences naming the input and the fix (a skipped name, an unreadable entry). */
  warnings: string[];
}

/** One entry under /dev, as the scan found it. */
export interface DevEntry {
  /** Relative to /dev, '/'-separated: "net/tun", "snd", "snd/controlC0". */
  path: string;
  kind: 'char' | 'block' | 'dir' | 'other';
  /** For a directory: the device nodes (char or block) under it, relative to /dev, sorted. */
  nodes?: string[];
}

/** One PCI function under /sys/bus/pci/devices, as the scan read it. */
export interface PciFunction {
  /** The full DDDD:BB:DD.F address, the device's ID. */
  address: string;
  /** 4 lower-case hex digits, without sysfs's 0x. */
  vendor: string;
  device: string;
  /** 6 lower-case hex digits: class, subclass, programming interface ("020000": Ethernet). */
  class: string;
  /** The basename of the `driver` link; undefined when no driver is bound. */
  driver: string | undefined;
  /** numa_node when it names a node (0 or more). */
  numaNode: number | undefined;
  /** The basename of the `iommu_group` link: /dev/vfio/<group> under vfio-pci. */
  iommuGroup: string | undefined;
  acpiIndex: string | undefined;
  /**
   * Its network interfaces (`net/<ifname>`, or `virtio<N>/net/<ifname>` under virtio-pci) and
   * their link types ("ether", "infiniband").
   */
  netNames: string[];
  linkTypes: string[];
  /** For a VF: its PF (`physfn`), the PF's interfaces and link types, and its index among the PF's virtfn links. */
  pf: { address: string; netNames: string[]; linkTypes: string[] } | undefined;
  vfIndex: number | undefined;
  /** sriov_numvfs: VFs configured on this PF (0 when not a PF). */
  numVfs: number;
  /** `uio/uioN` entries: /dev/uioN under a uio driver. */
  uio: string[];
}
