// What a container gets for a set of device IDs: pure, from the resource's last discovered spec.
import type { ContainerAllocateResponse } from '../generated/v1beta1/ContainerAllocateResponse.js';
import type { DeviceSpec } from '../generated/v1beta1/DeviceSpec.js';
import { HEALTHY, type Device, type PciGrant, type ResourceSpec } from './resource.js';
import { virtualEnv } from './sources/virtual.js';

export type AllocationResult = { ok: true; response: ContainerAllocateResponse } | { ok: false; message: string };

function quoted(ids: readonly string[]): string {
  return ids.map((id) => `'${id}'`).join(', ');
}

// Lookups made once per snapshot rather than on every call: a spec and its grant are what
// discovery handed over, replaced on the next change and never edited, so an object's entry here
// stays true for as long as the object lives. The plugin runs without V8's optimising compiler,
// where building a map of a 128-device pool took a fifth of the handler's time.
const devicesById = new WeakMap<ResourceSpec, ReadonlyMap<string, Device>>();
const infoJson = new WeakMap<object, string>();

function lookup(spec: ResourceSpec): ReadonlyMap<string, Device> {
  let byId = devicesById.get(spec);
  if (byId === undefined) {
    byId = new Map(spec.devices.map((d) => [d.ID, d]));
    devicesById.set(spec, byId);
  }
  return byId;
}

/** Refuses unknown and Unhealthy IDs by name; the kubelet should never ask for them. */
export function containerAllocation(spec: ResourceSpec, ids: readonly string[]): AllocationResult {
  const byId = lookup(spec);
  const unknown = ids.filter((id) => !byId.has(id));
  if (unknown.length > 0) {
    const have = spec.devices.map((d) => d.ID);
    const shown = have.length > 8 ? `${have.slice(0, 8).join(', ')}, … (${have.length})` : have.join(', ');
    return { ok: false, message: `unknown device ${quoted(unknown)} for ${spec.name} (this node has ${shown || 'none'})` };
  }
  const unhealthy = ids.filter((id) => byId.get(id)?.health !== HEALTHY);
  if (unhealthy.length > 0) {
    return { ok: false, message: `device ${quoted(unhealthy)} of ${spec.name} is Unhealthy` };
  }
  const { grant } = spec;
  switch (grant.kind) {
    case 'env':
      return { ok: true, response: { envs: { ...grant.env } } };
    case 'virtual':
      return { ok: true, response: { envs: virtualEnv(grant.envName, spec.name, grant.deviceEnv, ids) } };
    case 'deviceNodes': {
      // smarter gives every container the whole entry, whatever share it was allocated.
      const devices: DeviceSpec[] = grant.paths.map((p) => ({ container_path: p, host_path: p, permissions: 'rw' }));
      return { ok: true, response: { devices } };
    }
    case 'pci':
      return { ok: true, response: pciAllocation(grant, ids) };
  }
}

/** Go's encoding/json writes map keys sorted: so does this, so `_INFO` reads byte for byte as sriov's. */
function sortedJson(value: Readonly<Record<string, unknown>>): string {
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => {
    const v = value[k];
    return `${JSON.stringify(k)}:${typeof v === 'object' && v !== null ? sortedJson(v as Record<string, unknown>) : JSON.stringify(v)}`;
  }).join(',')}}`;
}

/**
 * sriov's answer: `PCIDEVICE_<RES>` = the IDs in the kubelet's order, comma-joined;
 * `PCIDEVICE_<RES>_INFO` = {id: {provider: {…}}}; each device's nodes once (rw), or, for a CDI
 * resource, the CDI names of those with nodes instead, whose spec carries the same nodes.
 */
export function pciAllocation(grant: PciGrant, ids: readonly string[]): ContainerAllocateResponse {
  // sortedJson of {id: info}, with each device's part written once per info object.
  const entries = [...new Set(ids)].sort().map((id) => {
    const info = grant.devices[id]?.info;
    if (info === undefined) return `${JSON.stringify(id)}:${sortedJson({ generic: { deviceID: id } })}`;
    let json = infoJson.get(info);
    if (json === undefined) {
      json = sortedJson(info);
      infoJson.set(info, json);
    }
    return `${JSON.stringify(id)}:${json}`;
  });
  const envs = { [grant.envName]: ids.join(','), [`${grant.envName}_INFO`]: `{${entries.join(',')}}` };
  if (grant.cdiKind !== undefined) {
    // Only functions with device nodes are in the spec (see cdiSpecFor); the others need nothing.
    const withNodes = ids.filter((id) => (grant.devices[id]?.nodes.length ?? 0) > 0);
    return { envs, cdi_devices: withNodes.map((id) => ({ name: `${grant.cdiKind}=${id}` })) };
  }
  const seen = new Set<string>();
  const devices: DeviceSpec[] = [];
  for (const id of ids) {
    for (const p of grant.devices[id]?.nodes ?? []) {
      if (seen.has(p)) continue;
      seen.add(p);
      devices.push({ container_path: p, host_path: p, permissions: 'rw' });
    }
  }
  return { envs, devices };
}

export type PreferredResult = { ok: true; deviceIDs: string[] } | { ok: false; message: string };

/**
 * The devices a container should get, for the kubelet's GetPreferredAllocation: must_include
 * first, then the rest from the fewest NUMA nodes, the nodes must_include already uses first,
 * then the nodes with the most free devices (fewest nodes: the greedy pick by size is optimal),
 * devices without topology last. With allowCrossNuma false (Rebellions' key) a request whose
 * devices would span nodes is refused with a message, which fails the pod's admission.
 */
export function preferredAllocation(
  spec: ResourceSpec,
  available: readonly string[],
  mustInclude: readonly string[],
  size: number,
): PreferredResult {
  const numa = new Map(spec.devices.map((d) => [d.ID, d.numaNodes?.[0]]));
  const chosen = [...new Set(mustInclude)];
  const byNode = new Map<number | undefined, string[]>();
  for (const id of available) {
    if (chosen.includes(id)) continue;
    const node = numa.get(id);
    byNode.set(node, [...(byNode.get(node) ?? []), id]);
  }
  const used = new Set(chosen.map((id) => numa.get(id)).filter((n): n is number => n !== undefined));
  const nodes = [...byNode.keys()].filter((n): n is number => n !== undefined);
  const free = (n: number | undefined): number => byNode.get(n)?.length ?? 0;
  const wanted = size - chosen.length;
  // Of the nodes that can take the rest alone, the one with the fewest free: the larger stay whole for larger requests.
  const bestFit = used.size === 0 ? nodes.filter((n) => free(n) >= wanted).sort((a, b) => free(a) - free(b) || a - b)[0] : undefined;
  const order = [
    ...nodes.filter((n) => used.has(n)).sort((a, b) => a - b),
    ...(bestFit === undefined ? [] : [bestFit]),
    ...nodes.filter((n) => !used.has(n) && n !== bestFit).sort((a, b) => free(b) - free(a) || a - b),
    undefined,
  ];
  for (const node of order) {
    for (const id of byNode.get(node) ?? []) {
      if (chosen.length >= size) break;
      chosen.push(id);
    }
  }
  const grant = spec.grant;
  const allowCrossNuma = grant.kind !== 'pci' || grant.allowCrossNuma;
  const spanned = new Set(chosen.map((id) => numa.get(id)).filter((n) => n !== undefined));
  if (!allowCrossNuma && spanned.size > 1) {
    const counts = new Map<number, number>();
    for (const id of new Set([...available, ...mustInclude])) {
      const n = numa.get(id);
      if (n !== undefined) counts.set(n, (counts.get(n) ?? 0) + 1);
    }
    const shown = [...counts].sort(([a], [b]) => a - b).map(([n, c]) => `node ${n}: ${c}`).join(', ');
    const must = mustInclude.length > 0 ? `, ${mustInclude.length} of them fixed by the kubelet` : '';
    return {
      ok: false,
      message: `${size} device${size === 1 ? '' : 's'} of ${spec.name}${must} do not fit on one NUMA node (available ${shown}) and allowCrossNuma is false; ask for fewer, or set allowCrossNuma: true`,
    };
  }
  return { ok: true, deviceIDs: chosen };
}
