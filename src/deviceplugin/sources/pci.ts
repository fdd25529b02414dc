// sriov's PCI pools: each function goes to the first resource, in config order, whose selectors match it.
import type { PciConfig, PciResourceConfig, PciSelector, PfRef } from '../../common/pci-config.js';
import { HEALTHY, UNHEALTHY, type Device, type PciDeviceGrant, type ResourceSpec } from '../resource.js';
import type { PciFunction, SourceResult } from './types.js';

/** Drivers whose functions a container reaches through /dev/uioN. */
export const UIO_DRIVERS: readonly string[] = ['uio', 'igb_uio', 'uio_pci_generic'];

export function pciResourceName(r: Pick<PciResourceConfig, 'resourcePrefix' | 'resourceName'>): string {
  return `${r.resourcePrefix}/${r.resourceName}`;
}

/** sriov's socket: `<prefix>_<resourceName>.sock` (intel.com_intel_sriov_netdevice.sock). */
export function pciSocketName(r: Pick<PciResourceConfig, 'resourcePrefix' | 'resourceName'>): string {
  return `${r.resourcePrefix}_${r.resourceName}.sock`;
}

/**
 * sriov's variable: `PCIDEVICE_` and the resource name with only '.' and '/' turned into '_',
 * upper-cased (intel.com/sriov-net_0 → PCIDEVICE_INTEL_COM_SRIOV-NET_0: the hyphen stays).
 */
export function pciEnvName(resourceName: string): string {
  return `PCIDEVICE_${resourceName.replace(/[./]/g, '_').toUpperCase()}`;
}

/** The kind of a resource's CDI spec and of the names Allocate answers: the resource name itself. */
export function pciCdiKind(resourceName: string): string {
  return resourceName;
}

function classMatches(type: PciResourceConfig['deviceType'], cls: string): boolean {
  if (type === 'netDevice') return cls.startsWith('02');
  if (type === 'accelerator') return cls.startsWith('12');
  return true;
}

function any<T>(accepted: readonly T[], have: readonly T[]): boolean {
  return accepted.length === 0 || have.some((h) => accepted.includes(h));
}

/** `X` takes the PF X and every VF of it; `X#ranges` only the VFs of X with those indexes. */
function refMatches(refs: readonly PfRef[], own: readonly string[], viaPf: readonly string[], fn: PciFunction): boolean {
  if (refs.length === 0) return true;
  return refs.some((r) => {
    if (r.functions === undefined) return viaPf.includes(r.of) || own.includes(r.of);
    return fn.pf !== undefined && fn.vfIndex !== undefined && viaPf.includes(r.of) && r.functions.includes(fn.vfIndex);
  });
}

/** AND over the fields, OR within one; an empty field is no constraint. */
export function selectorMatches(sel: PciSelector, fn: PciFunction): boolean {
  return (
    any(sel.vendors, [fn.vendor]) &&
    any(sel.devices, [fn.device]) &&
    any(sel.drivers, fn.driver === undefined ? [] : [fn.driver]) &&
    any(sel.pciAddresses, [fn.address]) &&
    any(sel.acpiIndexes, fn.acpiIndex === undefined ? [] : [fn.acpiIndex]) &&
    refMatches(sel.pfNames, fn.netNames, fn.pf?.netNames ?? [], fn) &&
    refMatches(sel.rootDevices, [fn.address], fn.pf ? [fn.pf.address] : [], fn) &&
    // A VF bound to vfio-pci has no interface of its own: its PF's link type is the one it carries.
    any(sel.linkTypes, fn.linkTypes.length > 0 ? fn.linkTypes : (fn.pf?.linkTypes ?? []))
  );
}

/** Why a netDevice (or pci) pool must not take a function the selectors match, or undefined. */
function skipReason(fn: PciFunction, defaultRoute: ReadonlySet<string>): string | undefined {
  // Its VFs are what is offered; a PF handed to a container would take them all along.
  if (fn.numVfs > 0) return 'pf';
  const routed = fn.netNames.find((n) => defaultRoute.has(n));
  return routed === undefined ? undefined : `interface ${routed} carries this host's default route`;
}

/** The selector of the first resource that takes fn, in config order, or undefined. */
function firstMatch(
  resources: readonly PciResourceConfig[],
  fn: PciFunction,
  defaultRoute: ReadonlySet<string>,
  skipped: (r: PciResourceConfig, why: string) => void,
): { index: number; selector: PciSelector } | undefined {
  for (const [index, r] of resources.entries()) {
    if (!classMatches(r.deviceType, fn.class)) continue;
    const selector = r.selectors.find((s) => selectorMatches(s, fn));
    if (selector === undefined) continue;
    const why = r.deviceType === 'accelerator' ? undefined : skipReason(fn, defaultRoute);
    if (why !== undefined) {
      skipped(r, why);
      continue;
    }
    return { index, selector };
  }
  return undefined;
}

const VFIO_CONTAINER = '/dev/vfio/vfio';

/** The device nodes and the `_INFO` providers one function gives, sriov's way. */
export function pciDeviceGrant(fn: PciFunction, selector: PciSelector, r: PciResourceConfig): PciDeviceGrant {
  const nodes: string[] = [];
  const info: Record<string, Record<string, string>> = { generic: { deviceID: fn.address } };
  if (fn.driver === 'vfio-pci') {
    nodes.push(VFIO_CONTAINER);
    info['vfio'] = { mount: VFIO_CONTAINER };
    if (fn.iommuGroup !== undefined) {
      nodes.push(`/dev/vfio/${fn.iommuGroup}`);
      info['vfio'] = { mount: VFIO_CONTAINER, 'dev-mount': `/dev/vfio/${fn.iommuGroup}` };
    }
  } else if (fn.driver !== undefined && UIO_DRIVERS.includes(fn.driver)) {
    nodes.push(...fn.uio.map((u) => `/dev/${u}`));
    if (fn.uio[0] !== undefined) info['uio'] = { mount: `/dev/${fn.uio[0]}` };
  }
  if (selector.needVhostNet) {
    nodes.push('/dev/vhost-net', '/dev/net/tun');
    info['vhost'] = { 'net-mount': '/dev/vhost-net', 'tun-mount': '/dev/net/tun' };
  }
  if (r.additionalInfo !== undefined && Object.keys(r.additionalInfo).length > 0) {
    const all = Object.hasOwn(r.additionalInfo, '*') ? r.additionalInfo['*'] : undefined;
    const own = Object.hasOwn(r.additionalInfo, fn.address) ? r.additionalInfo[fn.address] : undefined;
    info['extra'] = Object.fromEntries([...Object.entries(all ?? {}), ...Object.entries(own ?? {})]);
  }
  return { fn, nodes, info };
}

interface Member {
  fn: PciFunction;
  selector: PciSelector;
  health: Device['health'];
}

/**
 * One resource per configured pool, in config order, each registered even with no devices
 * (sriov leaves an empty pool out; a rescan fills ours when devices appear). A function is
 * offered when its driver is bound; the first pool, in config order, whose class and selectors
 * match takes it. netDevice and pci pools skip a PF with VFs configured and a function whose
 * interface carries the default route. Device ID = PCI address; topology from numa_node
 * unless the pool excludes it.
 *
 * Health that recovers: a function of a pool in `previous` that is gone from sysfs, or has left
 * its driver, stays in the pool its last-seen attributes match now, Unhealthy; it is Healthy
 * again once it is back and bound.
 */
export function pciResources(
  config: PciConfig,
  functions: readonly PciFunction[],
  defaultRoute: ReadonlySet<string>,
  previous: readonly ResourceSpec[],
): SourceResult {
  const warnings: string[] = [];
  const members: Member[][] = config.resources.map(() => []);
  const bound = new Set<string>();
  const place = (fn: PciFunction, health: Member['health']): void => {
    const got = firstMatch(config.resources, fn, defaultRoute, (r, why) => {
      if (why === 'pf' || health !== HEALTHY) return;
      warnings.push(`PCI function ${fn.address} matches ${r.place} (${pciResourceName(r)}) but is not offered: ${why}`);
    });
    if (got !== undefined) members[got.index]?.push({ fn, selector: got.selector, health });
  };
  for (const fn of functions) {
    if (fn.driver === undefined) continue;
    bound.add(fn.address);
    place(fn, HEALTHY);
  }
  const kept = new Set<string>();
  for (const spec of previous) {
    if (spec.grant.kind !== 'pci') continue;
    for (const [address, device] of Object.entries(spec.grant.devices)) {
      if (bound.has(address) || kept.has(address)) continue;
      kept.add(address);
      place(device.fn, UNHEALTHY);
    }
  }

  const resources: ResourceSpec[] = config.resources.map((r, i) => {
    const name = pciResourceName(r);
    const pool = (members[i] ?? []).sort((a, b) => (a.fn.address < b.fn.address ? -1 : a.fn.address > b.fn.address ? 1 : 0));
    const devices: Device[] = pool.map((m) =>
      m.fn.numaNode === undefined || r.excludeTopology ? { ID: m.fn.address, health: m.health } : { ID: m.fn.address, health: m.health, numaNodes: [m.fn.numaNode] },
    );
    const grants: Record<string, PciDeviceGrant> = {};
    for (const m of pool) grants[m.fn.address] = pciDeviceGrant(m.fn, m.selector, r);
    return {
      kind: 'pci',
      name,
      socketName: pciSocketName(r),
      devices,
      grant: { kind: 'pci', envName: pciEnvName(name), devices: grants, cdiKind: r.cdi ? pciCdiKind(name) : undefined, allowCrossNuma: r.allowCrossNuma },
      origin: r.place,
    };
  });
  return { resources, warnings };
}
