// spookd's virtual devices: the mappings that list this host, as one resource per resource name.
import type { VirtualConfig } from '../../common/config.js';
import { virtualDevicePlace } from '../../common/peer-config.js';
import { HEALTHY, type Device, type ResourceSpec } from '../resource.js';
import type { NodeNames, SourceResult } from './types.js';

/** spookd's socket: `spookd-<res>.sock`, dots removed and `/` → `_` (example.com/widget → spookd-examplecom_widget.sock). */
export function virtualSocketName(resourceName: string): string {
  return `spookd-${resourceName.replace(/\./g, '').replace(/\//g, '_')}.sock`;
}

/**
 * The prefix of every variable a container gets: upper-cased, dots removed, `/` → `_`, as spookd
 * names it; `-` → `_` too (ours), since a hyphen cannot appear in a shell variable's name.
 */
export function virtualEnvName(resourceName: string): string {
  return resourceName.toUpperCase().replace(/\./g, '').replace(/[/-]/g, '_');
}

/**
 * The environment spookd gives a container allocated `ids` (in the order the kubelet asked):
 * `<RES>_NUM_DEVICES`, then for the i-th device `<RES>_DEV<i>_ID`, `_TYPE` and one `_<KEY>` per
 * env entry, and for the first device the same without `DEV<i>_`. IDs the resource does not
 * have are the caller's to refuse; here they get only their ID and type.
 */
export function virtualEnv(
  envName: string,
  resourceName: string,
  deviceEnv: Readonly<Record<string, Readonly<Record<string, string>>>>,
  ids: readonly string[],
): Record<string, string> {
  const env: Record<string, string> = {};
  const set = (key: string, value: string): void => {
    Object.defineProperty(env, key, { value, enumerable: true, writable: true, configurable: true });
  };
  set(`${envName}_NUM_DEVICES`, String(ids.length));
  ids.forEach((id, i) => {
    const own = Object.hasOwn(deviceEnv, id) ? deviceEnv[id] : undefined;
    const forms = i === 0 ? [`${envName}_DEV${i}_`, `${envName}_`] : [`${envName}_DEV${i}_`];
    for (const p of forms) {
      set(`${p}ID`, id);
      set(`${p}TYPE`, resourceName);
      for (const [key, value] of Object.entries(own ?? {})) set(`${p}${key}`, value);
    }
  });
  return env;
}

function appliesTo(hosts: readonly string[], names: NodeNames): boolean {
  const wanted = [names.nodeName.toLowerCase(), names.hostName.toLowerCase()];
  return hosts.some((h) => wanted.includes(h.toLowerCase()));
}

interface Gathered {
  origin: string;
  devices: Device[];
  deviceEnv: Record<string, Record<string, string>>;
}

/**
 * Every resource this host has a device of: the union of the devices of each mapping whose
 * hosts name the node or the host (case-insensitively). A device listed twice counts once (the
 * config check made sure both listings agree). In config order, so a reload keeps the order.
 */
export function virtualResources(config: VirtualConfig, names: NodeNames): SourceResult {
  const byName = new Map<string, Gathered>();
  config.deviceMapping.forEach((mapping, i) => {
    if (!appliesTo(mapping.hosts, names)) return;
    mapping.devices.forEach((device, j) => {
      let resource = byName.get(device.resourceName);
      if (resource === undefined) {
        resource = { origin: virtualDevicePlace(config.file, i, j), devices: [], deviceEnv: {} };
        byName.set(device.resourceName, resource);
      }
      if (Object.hasOwn(resource.deviceEnv, device.instanceID)) return;
      Object.defineProperty(resource.deviceEnv, device.instanceID, { value: { ...device.env }, enumerable: true, writable: true, configurable: true });
      resource.devices.push({ ID: device.instanceID, health: HEALTHY });
    });
  });
  const resources: ResourceSpec[] = [...byName].map(([name, r]) => ({
    kind: 'virtual',
    name,
    socketName: virtualSocketName(name),
    devices: r.devices,
    grant: { kind: 'virtual', envName: virtualEnvName(name), deviceEnv: r.deviceEnv },
    origin: r.origin,
  }));
  return { resources, warnings: [] };
}
