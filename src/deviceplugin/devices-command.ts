// `riscv-runner-node devices`: every resource this node would serve, and what a container would get, with no kubelet.
import path from 'node:path';
import type { DevicePluginConfig } from '../common/config.js';
import { ConfigError, EXIT_CONFIG } from '../common/errors.js';
import type { Runtime } from '../common/runtime.js';
import { configFromFlag, nodeNameFrom } from '../common/settings.js';
import { containerAllocation } from './allocation.js';
import { maintenanceFlagPresent } from './devices.js';
import { healthyCount, type Discovery, type ResourceSpec } from './resource.js';
import { discover } from './sources/index.js';

export interface DevicesArgs {
  config: string | undefined;
  root: string;
  devicePluginDir: string;
  nodeName: string | undefined;
  json: boolean;
  /** RESOURCE=ID[,ID…]: print the Allocate response for those IDs instead. */
  allocate: string | undefined;
}

/** Splits RESOURCE=ID[,ID…]; the resource name itself contains '/', never '='. */
export function parseAllocateRequest(text: string): { resource: string; ids: string[] } | undefined {
  const eq = text.indexOf('=');
  if (eq <= 0) return undefined;
  const ids = text
    .slice(eq + 1)
    .split(',')
    .map((id) => id.trim())
    .filter((id) => id !== '');
  return ids.length > 0 ? { resource: text.slice(0, eq), ids } : undefined;
}

function asJson(spec: ResourceSpec, dir: string): Record<string, unknown> {
  return {
    name: spec.name,
    kind: spec.kind,
    socket: path.join(dir, spec.socketName),
    origin: spec.origin,
    devices: spec.devices.map((d) => ({ ID: d.ID, health: d.health, ...(d.numaNodes ? { numaNodes: d.numaNodes } : {}) })),
  };
}

function asText(found: Discovery, dir: string, nodeName: string): string {
  const lines: string[] = [`node ${nodeName}: ${found.resources.length} resource${found.resources.length === 1 ? '' : 's'}`];
  for (const spec of found.resources) {
    lines.push(
      `${spec.name} (${spec.kind}, ${spec.origin}): ${healthyCount(spec.devices)}/${spec.devices.length} healthy, socket ${path.join(dir, spec.socketName)}`,
    );
    if (spec.devices.length === 0) lines.push('  (no devices: the Node shows capacity 0)');
    for (const d of spec.devices) lines.push(`  ${d.ID} ${d.health}${d.numaNodes ? ` numa ${d.numaNodes.join(',')}` : ''}`);
  }
  for (const r of found.refused) lines.push(`not served: ${r.name}: ${r.reason}`);
  for (const name of found.handedToDra ?? []) lines.push(`offered through DRA instead (dra.resources): ${name}; see riscv-runner-node dra-devices`);
  return `${lines.join('\n')}\n`;
}

export async function discoverForNode(
  config: DevicePluginConfig,
  args: { root: string; devDir?: string | undefined; devicePluginDir: string; nodeName: string },
  hostname: string,
): Promise<Discovery> {
  return discover({
    config,
    names: { nodeName: args.nodeName, hostName: hostname },
    devDir: path.resolve(args.devDir ?? path.join(args.root, 'dev')),
    pciDir: path.resolve(args.root, 'sys', 'bus', 'pci', 'devices'),
    routeFile: path.resolve(args.root, 'proc', 'net', 'route'),
    socketDir: path.resolve(args.devicePluginDir),
    maintenance: await maintenanceFlagPresent(config.maintenanceFile),
    previous: [],
  });
}

export async function runDevicesCommand(args: DevicesArgs, rt: Runtime): Promise<number> {
  let loaded;
  try {
    loaded = await configFromFlag(args.config);
  } catch (err) {
    if (err instanceof ConfigError) {
      rt.stderr(`${err.message}\n`);
      return EXIT_CONFIG;
    }
    throw err;
  }
  const request = args.allocate === undefined ? undefined : parseAllocateRequest(args.allocate);
  if (args.allocate !== undefined && request === undefined) {
    rt.stderr(`devices: --allocate '${args.allocate}' must be RESOURCE=ID[,ID…], e.g. --allocate smarter-devices/ttyUSB0=0\n`);
    return EXIT_CONFIG;
  }
  const nodeName = nodeNameFrom(args.nodeName, loaded.config, rt.hostname);
  const found = await discoverForNode({ ...loaded.config.deviceplugin, handedToDra: loaded.config.dra.resources }, { ...args, nodeName }, rt.hostname);
  for (const warning of found.warnings) rt.stderr(`warning: ${warning}\n`);

  if (request) {
    const spec = found.resources.find((r) => r.name === request.resource);
    if (!spec) {
      const names = found.resources.map((r) => r.name).join(', ');
      rt.stderr(`devices: this node serves no resource ${request.resource} (it serves ${names})\n`);
      return 1;
    }
    const result = containerAllocation(spec, request.ids);
    if (!result.ok) {
      rt.stderr(`devices: the kubelet would be refused: ${result.message}\n`);
      return 1;
    }
    const { envs = {}, mounts = [], devices = [], annotations = {}, cdi_devices = [] } = result.response;
    rt.stdout(`${JSON.stringify({ envs, mounts, devices, annotations, cdi_devices }, null, 2)}\n`);
    return 0;
  }
  if (args.json) {
    const out = {
      nodeName,
      resources: found.resources.map((r) => asJson(r, path.resolve(args.devicePluginDir))),
      refused: found.refused,
      handedToDra: found.handedToDra ?? [],
      warnings: found.warnings,
    };
    rt.stdout(`${JSON.stringify(out, null, 2)}\n`);
  } else {
    rt.stdout(asText(found, path.resolve(args.devicePluginDir), nodeName));
  }
  return 0;
}
