// The DRA devices this node publishes, as plain data: what the device plugin would serve for the
// resources the config gives to DRA, each device carrying the board's attributes. No I/O here.
import { createHash } from 'node:crypto';
import { BOARD_LABEL, CPU_LABEL_PREFIX, HARTS_LABEL, ISA_LABEL_PREFIX } from '../labeller/discovery.js';
import { KNOWN_ISA_EXTENSIONS } from '../labeller/isa-extensions.js';
import { containerAllocation } from '../deviceplugin/allocation.js';
import { HEALTHY, type ResourceKind, type ResourceSpec } from '../deviceplugin/resource.js';

/** One attribute value; exactly one member is set, as resource.k8s.io/v1 requires. */
export type DraAttribute = { string: string } | { bool: boolean } | { int: number };

export interface DraDevice {
  /** A DNS label, unique in the pool. */
  name: string;
  /** The resource it comes from, as the device plugin names it. */
  resource: string;
  kind: ResourceKind;
  /** The device's ID under the device plugin API (runner-0, a share number, an instance ID). */
  id: string;
  attributes: Record<string, DraAttribute>;
  capacity: Record<string, { value: string }>;
  /** Host device nodes a container gets at the same path: given to the runtime through CDI. */
  deviceNodes: string[];
}

/** What is true of the whole board, published on each of its devices. */
export interface BoardFacts {
  /** Labels from the labeller's discovery (board, isa.*, harts, cpu.*). */
  labels: Readonly<Record<string, string>>;
  /** MemTotal in KiB; undefined when /proc/meminfo could not be read. */
  memoryKiB: number | undefined;
}

export const MAX_ATTRIBUTES = 32;
/** resource.k8s.io/v1 limits. */
export const MAX_STRING_ATTRIBUTE = 64;
const DNS_LABEL_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The attribute name of an ISA extension: a C identifier (no '-', at most 32 characters). */
export function isaAttribute(ext: string): string {
  return `isa_${ext}`;
}

/**
 * Every attribute of every device, never one missing: a CEL selector that reads an attribute a
 * device lacks aborts the allocation, so unknown facts are published as "" / false / 0.
 */
export function boardAttributes(facts: BoardFacts): Record<string, DraAttribute> {
  const labels = facts.labels;
  const harts = Number(labels[HARTS_LABEL] ?? '0');
  const attributes: Record<string, DraAttribute> = {
    board: { string: labels[BOARD_LABEL] ?? '' },
    harts: { int: Number.isSafeInteger(harts) && harts >= 0 ? harts : 0 },
  };
  for (const id of ['mvendorid', 'marchid', 'mimpid'] as const) {
    // The labels hold the hex digits only; the attribute is the 0x form the board tables use.
    const hex = labels[`${CPU_LABEL_PREFIX}${id}`];
    attributes[id] = { string: hex === undefined ? '' : `0x${hex}` };
  }
  for (const ext of KNOWN_ISA_EXTENSIONS) attributes[isaAttribute(ext)] = { bool: labels[`${ISA_LABEL_PREFIX}${ext}`] === 'true' };
  return attributes;
}

/** The DNS label a device is published as: lowercase, '-' for anything else, a hash when cut or clashing. */
export function deviceName(spec: Pick<ResourceSpec, 'kind' | 'name'>, id: string, taken: ReadonlySet<string>): string {
  const local = spec.name.slice(spec.name.indexOf('/') + 1);
  // The runner's IDs (runner-0) are already what an operator expects to read.
  const raw = spec.kind === 'runner' ? id : `${local}-${id}`;
  let name = raw
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/^-+|-+$/g, '');
  if (name.length <= 63 && DNS_LABEL_RE.test(name) && !taken.has(name)) return name;
  // Too long, nothing left, or taken (IDs that differ only in case): a short hash of the
  // original keeps it unique and stable.
  const hash = createHash('sha256').update(`${spec.name}\0${id}`).digest('hex').slice(0, 8);
  name = `${name.slice(0, 63 - 9).replace(/-+$/, '')}-${hash}`.replace(/^-+/, '');
  return name;
}

/** The host device nodes one device of a resource gives a container (a /dev entry's, a PCI function's). */
export function deviceNodesOf(spec: ResourceSpec, id: string): string[] {
  if (spec.grant.kind === 'deviceNodes') return [...spec.grant.paths];
  if (spec.grant.kind === 'pci') return [...(spec.grant.devices[id]?.nodes ?? [])];
  return [];
}

/**
 * The environment a container gets from `ids` of one resource: what the device plugin's Allocate
 * gives for the same IDs (allocateEnv, spookd's variables, sriov's PCIDEVICE_…), so a pod moved
 * from the extended resource to a claim reads the same variables. Throws with the plugin's
 * refusal when an ID is unknown or Unhealthy.
 */
export function resourceEnv(resources: readonly ResourceSpec[], resource: string, ids: readonly string[]): Record<string, string> {
  const spec = resources.find((r) => r.name === resource);
  if (spec === undefined) throw new Error(`${resource} is not served by this node now`);
  const result = containerAllocation(spec, ids);
  if (!result.ok) throw new Error(result.message);
  return { ...(result.response.envs ?? {}) };
}

export interface DraDevicesResult {
  devices: DraDevice[];
  warnings: string[];
}

/**
 * The devices of the resources the config gives to DRA. A device the plugin would list Unhealthy
 * (the board in maintenance, a /dev node gone) is not published, so nothing new is allocated on
 * it; it comes back when it is healthy again.
 */
export function draDevices(resources: readonly ResourceSpec[], draResources: readonly string[], facts: BoardFacts): DraDevicesResult {
  const warnings: string[] = [];
  const devices: DraDevice[] = [];
  const taken = new Set<string>();
  const board = boardAttributes(facts);
  const capacity = { memory: { value: facts.memoryKiB === undefined ? '0' : `${facts.memoryKiB}Ki` } };
  for (const wanted of draResources) {
    const spec = resources.find((r) => r.name === wanted);
    if (spec === undefined) {
      const known = resources.map((r) => r.name).join(', ');
      warnings.push(`dra.resources names ${wanted}, which this node does not have (it has ${known || 'none'}): nothing of it is published; fix the name or remove it`);
      continue;
    }
    if (spec.name.length > MAX_STRING_ATTRIBUTE) {
      warnings.push(`dra.resources: ${spec.name} is longer than ${MAX_STRING_ATTRIBUTE} characters, the most a DRA string attribute holds: not published; use a shorter resource name`);
      continue;
    }
    for (const d of spec.devices) {
      if (d.health !== HEALTHY) continue;
      const name = deviceName(spec, d.ID, taken);
      taken.add(name);
      devices.push({
        name,
        resource: spec.name,
        kind: spec.kind,
        id: d.ID,
        attributes: { ...board, resource: { string: spec.name } },
        capacity,
        deviceNodes: deviceNodesOf(spec, d.ID),
      });
    }
  }
  return { devices, warnings };
}

/** Two device lists publish the same slices when names, attributes and capacities match in order. */
export function sameDraDevices(a: readonly DraDevice[], b: readonly DraDevice[]): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
