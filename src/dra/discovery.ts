// Discovery for the DRA driver: the labeller's board facts and the device plugin's resources, read
// by their own code, plus the memory size. A pure function of a filesystem root and the config.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../common/config.js';
import type { ResourceSpec } from '../deviceplugin/resource.js';
import { discover } from '../deviceplugin/sources/index.js';
import { discoverLabels } from '../labeller/discovery.js';
import { draDevices, type DraDevice } from './devices.js';

export interface DraDiscoveryInput {
  config: Config;
  /** Filesystem root for sys/ and proc/. */
  root: string;
  /** The /dev to list (dev resources), as the device plugin's --dev-dir. */
  devDir: string;
  /** The device plugin's directory, which its socket-name checks need. */
  devicePluginDir: string;
  nodeName: string;
  hostName: string;
  maintenance: boolean;
}

export interface DraDiscovery {
  devices: DraDevice[];
  /** What the device plugin would serve, whose grants give a prepared device its environment. */
  resources: ResourceSpec[];
  warnings: string[];
}

/** MemTotal of /proc/meminfo in KiB, or undefined. */
export function parseMemTotal(text: string): number | undefined {
  const kib = /^MemTotal:\s+(\d+)\s*kB$/m.exec(text)?.[1];
  return kib === undefined ? undefined : Number(kib);
}

async function readMemTotal(root: string, warnings: string[]): Promise<number | undefined> {
  const file = path.join(root, 'proc', 'meminfo');
  try {
    const kib = parseMemTotal(await readFile(file, 'latin1'));
    if (kib === undefined) warnings.push(`${file} has no MemTotal line: the memory capacity is published as 0`);
    return kib;
  } catch (err) {
    warnings.push(`failed to read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}; the memory capacity is published as 0`);
    return undefined;
  }
}

export async function discoverDra(input: DraDiscoveryInput): Promise<DraDiscovery> {
  const { config } = input;
  // Every family the attributes need, whatever the labeller itself is told to label.
  const labelled = await discoverLabels(input.root, {
    ...config.labeller,
    labels: { board: true, isa: true, harts: true, cpu: true, uarch: false, devicetree: false },
    devicetreeNodes: [],
  });
  const served = await discover({
    config: config.deviceplugin,
    names: { nodeName: input.nodeName, hostName: input.hostName },
    devDir: input.devDir,
    pciDir: path.join(input.root, 'sys', 'bus', 'pci', 'devices'),
    routeFile: path.join(input.root, 'proc', 'net', 'route'),
    socketDir: input.devicePluginDir,
    maintenance: input.maintenance,
    previous: [],
  });
  const warnings = [...labelled.warnings, ...served.warnings];
  const memoryKiB = await readMemTotal(input.root, warnings);
  const found = draDevices(served.resources, config.dra.resources, { labels: labelled.labels, memoryKiB });
  return { devices: found.devices, resources: served.resources, warnings: [...warnings, ...found.warnings] };
}
