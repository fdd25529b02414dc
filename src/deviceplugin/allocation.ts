// What a container gets for a set of device IDs: pure, from the resource's last discovered spec.
import type { ContainerAllocateResponse } from '../generated/v1beta1/ContainerAllocateResponse.js';
import type { DeviceSpec } from '../generated/v1beta1/DeviceSpec.js';
import { HEALTHY, type PciGrant, type ResourceSpec } from './resource.js';
import { virtualEnv } from './sources/virtual.js';

export type AllocationResult = { ok: true; response: ContainerAllocateResponse } | { ok: false; message: string };

function quoted(ids: readonly string[]): string {
  return ids.map((id) => `'${id}'`).join(', ');
}

/** Refuses unknown and Unhealthy IDs by name; the kubelet should never ask for them. */
export function containerAllocation(spec: ResourceSpec, ids: readonly string[]): AllocationResult {
  const byId = new Map(spec.devices.map((d) => [d.ID, d]));
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
 * resource, its CDI names instead, whose spec carries the same nodes.
 */
export function pciAllocation(grant: PciGrant, ids: readonly string[]): ContainerAllocateResponse {
  const info: Record<string, unknown> = {};
  for (const id of ids) info[id] = grant.devices[id]?.info ?? { generic: { deviceID: id } };
  const envs = { [grant.envName]: ids.join(','), [`${grant.envName}_INFO`]: sortedJson(info) };
  if (grant.cdiKind !== undefined) {
    return { envs, cdi_devices: ids.map((id) => ({ name: `${grant.cdiKind}=${id}` })) };
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
