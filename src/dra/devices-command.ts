// `riscv-runner-node dra-devices`: the DRA devices and attributes this node would publish, with no cluster.
import path from 'node:path';
import { EXIT_CONFIG } from '../common/errors.js';
import type { Runtime } from '../common/runtime.js';
import { nodeNameFrom } from '../common/settings.js';
import { loadOrReport } from '../labeller/command.js';
import { maintenanceFlagPresent } from '../deviceplugin/devices.js';
import type { DraDevice } from './devices.js';
import { discoverDra } from './discovery.js';

export interface DraDevicesArgs {
  config: string | undefined;
  root: string;
  devDir: string | undefined;
  devicePluginDir: string;
  nodeName: string | undefined;
  json: boolean;
}

function attributeText(device: DraDevice): string {
  return Object.entries(device.attributes)
    .map(([k, v]) => `${k}=${'string' in v ? JSON.stringify(v.string) : 'bool' in v ? String(v.bool) : String(v.int)}`)
    .join(' ');
}

export async function runDraDevicesCommand(args: DraDevicesArgs, rt: Runtime): Promise<number> {
  const config = await loadOrReport(args.config, rt);
  if (config === undefined) return EXIT_CONFIG;
  const nodeName = nodeNameFrom(args.nodeName, config, rt.hostname);
  const found = await discoverDra({
    config,
    root: args.root,
    devDir: path.resolve(args.devDir ?? path.join(args.root, 'dev')),
    devicePluginDir: path.resolve(args.devicePluginDir),
    nodeName,
    hostName: rt.hostname,
    maintenance: await maintenanceFlagPresent(config.deviceplugin.maintenanceFile),
  });
  for (const warning of found.warnings) rt.stderr(`warning: ${warning}\n`);
  if (config.dra.resources.length === 0) {
    rt.stderr(`note: dra.resources is empty, so every resource stays with the device plugin and the DRA driver publishes no device; list them there, e.g. dra: {resources: [${config.deviceplugin.resourceName}]}\n`);
  }
  const driver = config.dra.driverName;
  if (args.json) {
    const out = {
      nodeName,
      driver,
      pool: nodeName,
      devices: found.devices.map((d) => ({
        name: d.name,
        resource: d.resource,
        kind: d.kind,
        id: d.id,
        attributes: d.attributes,
        capacity: d.capacity,
        ...(d.deviceNodes.length > 0 ? { deviceNodes: d.deviceNodes } : {}),
      })),
      warnings: found.warnings,
    };
    rt.stdout(`${JSON.stringify(out, null, 2)}\n`);
    return 0;
  }
  const lines = [`node ${nodeName}: driver ${driver}, pool ${nodeName}, ${found.devices.length} device${found.devices.length === 1 ? '' : 's'}`];
  for (const d of found.devices) {
    lines.push(`${d.name} (${d.resource} ${d.id}): ${attributeText(d)} memory=${d.capacity['memory']?.value ?? '0'}`);
    if (d.deviceNodes.length > 0) lines.push(`  device nodes: ${d.deviceNodes.join(' ')}`);
  }
  rt.stdout(`${lines.join('\n')}\n`);
  return 0;
}
