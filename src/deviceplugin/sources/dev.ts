// smarter-device-manager's /dev entries: one resource per matched entry, N shares each.
import type { DevConfig } from '../../common/config.js';
import { compileDevMatch, devItemPlace } from '../../common/peer-config.js';
import { extendedResourceNameProblem } from '../../common/labels.js';
import { HEALTHY, UNHEALTHY, type Health, type ResourceSpec } from '../resource.js';
import type { DevEntry, SourceResult } from './types.js';

/** The kubelet refuses a resource whose name after the '/' is longer. */
export const MAX_NAME_LENGTH = 63;

/** smarter's naming: every character outside [A-Za-z0-9_-] becomes '_' (net/tun → net_tun). */
export function devResourceName(entry: string): string {
  return entry.replace(/[^A-Za-z0-9_-]/g, '_');
}

export function devSocketName(name: string): string {
  return `smarter-${name}.sock`;
}

/** Share IDs "0" … "N-1", interchangeable, as smarter numbers them. */
function shareIds(n: number): string[] {
  return Array.from({ length: n }, (_, i) => String(i));
}

interface Matched {
  entry: string;
  item: number;
  /** Host paths a container gets; the same paths inside it. */
  paths: string[];
  health: Health;
}

/**
 * One resource per entry that an item's expression matches anywhere in its path (unanchored, as
 * smarter does; anchor with ^…$). An entry matched by several items goes to the first in config
 * order, so one entry is never two resources fighting over one socket.
 *
 * What a container gets: `/dev/<entry>` for a device node; for a directory, every device node
 * under it (smarter passed the directory itself). A directory with no device node under it, and
 * an entry that is not a device node at all, give nothing to pass: their shares are listed
 * Unhealthy, so the kubelet places no pod on them, and turn Healthy when a rescan finds nodes.
 *
 * Health that recovers: a dev resource in `previous` whose entry is gone but that the config
 * still matches is kept, every share Unhealthy, with the paths it had; it turns Healthy when
 * the node comes back. A resource no item matches any more is dropped.
 */
export function devResources(config: DevConfig, entries: readonly DevEntry[], previous: readonly ResourceSpec[]): SourceResult {
  const warnings: string[] = [];
  const matchers = config.devices.map((d) => compileDevMatch(d.devicematch));
  const firstItem = (entry: string): number => matchers.findIndex((re) => re.test(entry));

  const matched: Matched[] = [];
  const present = new Set<string>();
  for (const e of entries) {
    present.add(e.path);
    const item = firstItem(e.path);
    if (item < 0) continue;
    if (e.kind === 'char' || e.kind === 'block') {
      matched.push({ entry: e.path, item, paths: [`/dev/${e.path}`], health: HEALTHY });
    } else if (e.kind === 'dir') {
      const nodes = (e.nodes ?? []).map((n) => `/dev/${n}`);
      matched.push({ entry: e.path, item, paths: nodes, health: nodes.length > 0 ? HEALTHY : UNHEALTHY });
    } else {
      warnings.push(
        `dev entry /dev/${e.path} matched by ${devItemPlace(config.file, item)} (${config.devices[item]?.devicematch}) is not a device node or a directory; ` +
          'its shares stay Unhealthy: anchor the expression (^…$) so it leaves this entry out',
      );
      matched.push({ entry: e.path, item, paths: [], health: UNHEALTHY });
    }
  }
  for (const r of previous) {
    if (r.kind !== 'dev' || r.devEntry === undefined || present.has(r.devEntry)) continue;
    const item = firstItem(r.devEntry);
    if (item < 0) continue;
    const paths = r.grant.kind === 'deviceNodes' ? [...r.grant.paths] : [];
    matched.push({ entry: r.devEntry, item, paths, health: UNHEALTHY });
  }

  const byName = new Map<string, ResourceSpec>();
  for (const m of matched) {
    const origin = devItemPlace(config.file, m.item);
    const local = devResourceName(m.entry);
    const name = `${config.prefix}/${local}`;
    const problem =
      local.length > MAX_NAME_LENGTH
        ? `is ${local.length} characters after the '/', and the kubelet accepts at most ${MAX_NAME_LENGTH}`
        : extendedResourceNameProblem(name);
    if (problem !== undefined) {
      warnings.push(
        `dev entry /dev/${m.entry} matched by ${origin} (${config.devices[m.item]?.devicematch}) would be the resource ${name}, which ${problem}; ` +
          'skipped: anchor or narrow the expression (e.g. ^name$) so it leaves this entry out',
      );
      continue;
    }
    const other = byName.get(name);
    if (other !== undefined) {
      warnings.push(
        `dev entries /dev/${other.devEntry} and /dev/${m.entry} both give the resource ${name} (every character outside A-Za-z0-9_- becomes _); ` +
          `only /dev/${other.devEntry} is served: narrow ${origin} so it matches one of them`,
      );
      continue;
    }
    const shares = config.devices[m.item]?.nummaxdevices ?? 0;
    byName.set(name, {
      kind: 'dev',
      name,
      socketName: devSocketName(local),
      devices: shareIds(shares).map((ID) => ({ ID, health: m.health })),
      grant: { kind: 'deviceNodes', paths: m.paths },
      origin,
      devEntry: m.entry,
    });
  }
  const resources = [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { resources, warnings };
}
