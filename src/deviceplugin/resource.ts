// What the plugin serves, as plain data: resources with their devices and what a container gets.
// Sources produce it, the manager diffs it, servers and handlers read it. No I/O lives here.
import { HEALTHY, UNHEALTHY } from './proto.js';
import type { PciFunction } from './sources/types.js';

export type Health = typeof HEALTHY | typeof UNHEALTHY;

export type ResourceKind = 'runner' | 'virtual' | 'dev' | 'pci';

export interface Device {
  ID: string;
  health: Health;
  /** NUMA nodes the device is close to; absent when the hardware says nothing. */
  numaNodes?: readonly number[];
}

/** What a container allocated some of a resource's devices gets; interpreted by allocation.ts. */
export type Grant =
  /** The same environment for every container (runner slots). */
  | { kind: 'env'; env: Readonly<Record<string, string>> }
  /**
   * spookd's environment: `<envName>_NUM_DEVICES`, `<envName>_DEV<i>_{ID,TYPE,<KEY>}` per
   * allocated device and the short forms for the first; deviceEnv holds each device's own env.
   */
  | { kind: 'virtual'; envName: string; deviceEnv: Readonly<Record<string, Readonly<Record<string, string>>>> }
  /** Device nodes passed read-write at the same path inside the container (smarter's shares). */
  | { kind: 'deviceNodes'; paths: readonly string[] }
  /** sriov's: `PCIDEVICE_<RES>` and `…_INFO`, each device's nodes, or CDI names when cdiKind is set. */
  | PciGrant;

/** What one PCI function of a pool gives, worked out at discovery so Allocate only assembles it. */
export interface PciDeviceGrant {
  /** The function as last seen in sysfs: a vanished one is still matched against the pools by it. */
  fn: PciFunction;
  /** Device nodes, host path = container path, rw. */
  nodes: readonly string[];
  /** Its entry of `<env>_INFO`: provider → values (generic, vfio, uio, vhost, extra). */
  info: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

export interface PciGrant {
  kind: 'pci';
  /** `PCIDEVICE_<RES>`: the resource name with '.' and '/' → '_', upper-cased (a '-' stays, as sriov has it). */
  envName: string;
  devices: Readonly<Record<string, PciDeviceGrant>>;
  /** Set when the resource is answered through CDI: `<vendor>/<class>` of its spec. */
  cdiKind: string | undefined;
  /** GetPreferredAllocation refuses a request that spans NUMA nodes when false. */
  allowCrossNuma: boolean;
}

export interface ResourceSpec {
  kind: ResourceKind;
  /** Extended resource name, e.g. smarter-devices/ttyUSB0. */
  name: string;
  /** File name of its socket in the device-plugins directory. */
  socketName: string;
  devices: readonly Device[];
  grant: Grant;
  /**
   * Where the resource came from, for messages and for keeping a vanished device node's resource
   * (as Unhealthy) while the config still asks for it: e.g. "deviceplugin.dev.devices[2]".
   */
  origin: string;
  /** dev only: the entry under /dev (relative, e.g. "net/tun") whose presence decides health. */
  devEntry?: string;
}

/** One discovery pass: every resource this node should serve now, and what was skipped and why. */
export interface Discovery {
  resources: ResourceSpec[];
  /** Each a full sentence naming the input and the fix; logged once while it stays true. */
  warnings: string[];
  /** Resources that cannot be served (socket path too long, name collision): named in STATUS. */
  refused: RefusedResource[];
  /** Resources left to the DRA driver (dra.resources), which the plugin must not advertise. */
  handedToDra?: string[];
}

export interface RefusedResource {
  name: string;
  reason: string;
}

export function healthyCount(devices: readonly Device[]): number {
  return devices.filter((d) => d.health === HEALTHY).length;
}

function sameNuma(a: readonly number[] | undefined, b: readonly number[] | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  return a.length === b.length && a.every((n, i) => n === b[i]);
}

/** Two device lists are the same for the kubelet when IDs, health and topology match in order. */
export function sameDevices(a: readonly Device[], b: readonly Device[]): boolean {
  return (
    a.length === b.length &&
    a.every((d, i) => {
      const o = b[i];
      return o !== undefined && d.ID === o.ID && d.health === o.health && sameNuma(d.numaNodes, o.numaNodes);
    })
  );
}

/** Key order does not matter: configs, sysfs and the API server give maps in any order. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function sameGrant(a: Grant, b: Grant): boolean {
  return canonical(a) === canonical(b);
}

/** What must be true for a running server to keep serving a changed spec on its open streams. */
export function sameEndpoint(a: ResourceSpec, b: ResourceSpec): boolean {
  return a.name === b.name && a.socketName === b.socketName && a.kind === b.kind;
}

export function withHealth(devices: readonly Device[], health: Health): Device[] {
  return devices.map((d) => ({ ...d, health }));
}

export { HEALTHY, UNHEALTHY };
