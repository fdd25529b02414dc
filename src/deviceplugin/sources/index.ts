// Discovery of everything the plugin serves: every source's resources, checked against each other.
import path from 'node:path';
import type { DevicePluginConfig } from '../../common/config.js';
import type { PciResourceConfig } from '../../common/pci-config.js';
import type { Discovery, RefusedResource, ResourceSpec } from '../resource.js';
import { devResources } from './dev.js';
import { scanDev } from './dev-scan.js';
import { pciResources } from './pci.js';
import { defaultRouteInterfaces, readRouteTable, scanPci } from './pci-scan.js';
import { runnerResource } from './runner.js';
import type { NodeNames, PciFunction } from './types.js';
import { virtualResources } from './virtual.js';

// sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
export const MAX_SOCKET_PATH = 107;

export const DEFAULT_PCI_DIR = '/sys/bus/pci/devices';
export const DEFAULT_ROUTE_FILE = '/proc/net/route';

export interface DiscoveryInput {
  config: DevicePluginConfig;
  names: NodeNames;
  /** The /dev to list ("/dev", or one under a --root); answers always name the real /dev paths. */
  devDir: string;
  /** The /sys/bus/pci/devices to read (one under a --root for dry runs and tests). */
  pciDir?: string;
  /** The routing table whose default-route interfaces PCI pools skip. */
  routeFile?: string;
  /** The device-plugins directory, to check socket paths against the unix limit. */
  socketDir: string;
  maintenance: boolean;
  /** What the last pass found, so a device node that vanished keeps its resource, Unhealthy. */
  previous: readonly ResourceSpec[];
}

/**
 * The full desired set, in a stable order (runner, virtual, dev, pci). Reads only /dev (when dev
 * is configured) and the PCI functions and routing table (when pci is) under the root;
 * everything else is a function of the config.
 */
export async function discover(input: DiscoveryInput): Promise<Discovery> {
  const { config } = input;
  const warnings: string[] = [];
  const candidates: ResourceSpec[] = [runnerResource(config, input.maintenance)];
  if (config.virtual) {
    const found = virtualResources(config.virtual, input.names);
    candidates.push(...found.resources);
    warnings.push(...found.warnings);
  }
  if (config.dev) {
    const entries = await scanDev(input.devDir);
    const found = devResources(config.dev, entries, input.previous.filter((r) => r.kind === 'dev'));
    candidates.push(...found.resources);
    warnings.push(...found.warnings);
  }
  if (config.pci) {
    const scan = scanPci(input.pciDir ?? DEFAULT_PCI_DIR);
    const routeFile = input.routeFile ?? DEFAULT_ROUTE_FILE;
    const table = readRouteTable(routeFile);
    const routes = defaultRouteInterfaces(table);
    const uplinkProblem = unguardedUplinkWarning(config.pci.resources, scan.functions, routeFile, table, routes);
    if (uplinkProblem !== undefined) warnings.push(uplinkProblem);
    const found = pciResources(config.pci, scan.functions, routes, input.previous.filter((r) => r.kind === 'pci'));
    candidates.push(...found.resources);
    warnings.push(...scan.warnings, ...found.warnings);
  }
  const { resources, refused } = admit(candidates, input.socketDir);
  if (config.handedToDra === undefined || config.handedToDra.length === 0) return { resources, warnings, refused };
  const split = splitByApi(resources, config.handedToDra);
  for (const clash of split.clashes) warnings.push(`${clash}; the device plugin leaves it out`);
  return { resources: split.plugin, warnings, refused, handedToDra: split.dra.map((r) => r.name) };
}

/**
 * Why the host's uplink could end up in a pool: the routing table cannot be read, or shows no
 * default route (as in a network namespace of the plugin's own, where sysfs does not show the
 * host's interfaces either), while netDevice or pci pools could take one of the network
 * functions present. Undefined when nothing is at stake.
 */
export function unguardedUplinkWarning(
  pools: readonly PciResourceConfig[],
  functions: readonly PciFunction[],
  routeFile: string,
  table: string | undefined,
  routes: ReadonlySet<string>,
): string | undefined {
  if (routes.size > 0 || !pools.some((r) => r.deviceType !== 'accelerator')) return undefined;
  const nics = functions.filter((f) => f.class.startsWith('02') && f.driver !== undefined);
  if (nics.length === 0) return undefined;
  const listed = nics.slice(0, 3).map((f) => f.address).join(', ') + (nics.length > 3 ? ` and ${nics.length - 3} more` : '');
  const those = `${nics.length} PCI network function${nics.length === 1 ? '' : 's'} (${listed})`;
  const selectors = 'or keep the uplink out of every pool with selectors (drivers, pfNames, pciAddresses)';
  if (table === undefined) {
    return (
      `cannot read the routing table ${routeFile}: netDevice and pci pools cannot tell which of ${those} carries the host's default route, and may offer its uplink; ` +
      `make it readable (the shipped unit reads /proc/self/net/route: ProcSubset=pid hides /proc/net), ${selectors}`
    );
  }
  return (
    `the routing table ${routeFile} has no IPv4 default route, so netDevice and pci pools leave none of ${those} out as the host's uplink; ` +
    `if this host has a default route, the plugin runs in a network namespace of its own (PrivateNetwork=yes in a drop-in, a container without the host's network), ` +
    `where it sees neither the host's routes nor its interfaces: run it in the host's, ${selectors}`
  );
}

/** The host device nodes a resource gives its containers: a /dev entry's, every function's of a PCI pool. */
function nodesOf(spec: ResourceSpec): readonly string[] {
  if (spec.grant.kind === 'deviceNodes') return spec.grant.paths;
  if (spec.grant.kind === 'pci') return Object.values(spec.grant.devices).flatMap((d) => d.nodes);
  return [];
}

/**
 * Which resources each API offers: those named in dra.resources go to the DRA driver, the rest stay
 * with the device plugin, except one that shares a device node with a DRA resource (a /dev
 * directory and a node inside it), which would offer that node both ways: it is a clash.
 */
export function splitByApi(resources: readonly ResourceSpec[], draNames: readonly string[]): { dra: ResourceSpec[]; plugin: ResourceSpec[]; clashes: string[] } {
  const dra = resources.filter((r) => draNames.includes(r.name));
  const byNode = new Map<string, ResourceSpec>();
  for (const r of dra) for (const node of nodesOf(r)) if (!byNode.has(node)) byNode.set(node, r);
  const plugin: ResourceSpec[] = [];
  const clashes: string[] = [];
  for (const r of resources) {
    if (draNames.includes(r.name)) continue;
    const shared = nodesOf(r).find((n) => byNode.has(n));
    if (shared === undefined) {
      plugin.push(r);
      continue;
    }
    const owner = byNode.get(shared);
    clashes.push(
      `${shared} would be offered both through DRA (${owner?.name ?? '?'}, in dra.resources) and through the device plugin (${r.name}, ${r.origin}): ` +
        `list ${r.name} in dra.resources as well, or narrow ${r.origin} so it leaves ${shared} out`,
    );
  }
  return { dra, plugin, clashes };
}

/**
 * Keeps what the kubelet can take: one resource per name and per socket (the first in source
 * order wins, so the runner slots are never displaced), socket paths within the unix limit.
 */
export function admit(candidates: readonly ResourceSpec[], socketDir: string): { resources: ResourceSpec[]; refused: RefusedResource[] } {
  const byName = new Map<string, ResourceSpec>();
  const bySocket = new Map<string, ResourceSpec>();
  const resources: ResourceSpec[] = [];
  const refused: RefusedResource[] = [];
  for (const spec of candidates) {
    const socketPath = path.join(socketDir, spec.socketName);
    const sameName = byName.get(spec.name);
    const sameSocket = bySocket.get(spec.socketName);
    if (sameName) {
      refused.push({ name: spec.name, reason: `${spec.origin} names ${spec.name}, which ${sameName.origin} already serves; rename one of them` });
    } else if (sameSocket) {
      refused.push({
        name: spec.name,
        reason: `its socket ${spec.socketName} is also the socket of ${sameSocket.name} (${sameSocket.origin}); rename one of them`,
      });
    } else if (spec.socketName === 'kubelet.sock') {
      refused.push({ name: spec.name, reason: "its socket would be kubelet.sock, the kubelet's own; rename it" });
    } else if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) {
      refused.push({
        name: spec.name,
        reason: `its socket path ${socketPath} is ${Buffer.byteLength(socketPath)} bytes, over the unix limit of ${MAX_SOCKET_PATH}; use a shorter name or device-plugins directory`,
      });
    } else {
      byName.set(spec.name, spec);
      bySocket.set(spec.socketName, spec);
      resources.push(spec);
      continue;
    }
  }
  return { resources, refused };
}
