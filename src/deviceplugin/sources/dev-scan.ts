// Lists the entries under a /dev directory, as smarter-device-manager walks it.
import { readdirSync, realpathSync, statSync, type Dirent, type Stats } from 'node:fs';
import type { DevEntry } from './types.js';

/** smarter lists /dev and descends 10 levels of directories below it. */
export const DEV_SCAN_DEPTH = 10;

type Kind = DevEntry['kind'];

function kindOf(s: Dirent | Stats): Kind {
  if (s.isCharacterDevice()) return 'char';
  if (s.isBlockDevice()) return 'block';
  if (s.isDirectory()) return 'dir';
  return 'other';
}

function inside(dir: string, p: string): boolean {
  return p === dir || p.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}

/**
 * Every entry under devDir, directories included, as '/'-separated paths relative to it, sorted.
 * Symlinks are followed: a link to a device node is that node's kind; a link to a directory is
 * descended into only when the directory lies inside devDir and is not one the walk is already
 * inside (so `fd -> /proc/self/fd` or a link to a parent is listed, not walked). A dangling link
 * is 'other'. A directory that cannot be read is listed with nothing under it. Never throws: a
 * missing devDir is an empty list.
 *
 * The calls are synchronous on purpose: a board's /dev is mostly symlinks, each needing a stat,
 * and a thread-pool round trip per stat made the walk three times slower (40 ms against 13 ms
 * for 2000 entries on a loaded 2-core machine) for a pause the daemon does not notice.
 */
export async function scanDev(devDir: string): Promise<DevEntry[]> {
  let root: string;
  try {
    root = realpathSync.native(devDir);
  } catch {
    return [];
  }
  const found: Array<{ path: string; kind: Kind }> = [];

  // chain: the real paths of the directories the walk is inside, root first (the loop guard).
  const walk = (abs: string, rel: string, chain: readonly string[], budget: number): void => {
    let dirents: Dirent[];
    try {
      dirents = readdirSync(abs, { withFileTypes: true });
    } catch {
      return;
    }
    const current = chain[chain.length - 1] ?? root;
    for (const d of dirents) {
      const relPath = rel === '' ? d.name : `${rel}/${d.name}`;
      const absPath = `${abs}/${d.name}`;
      if (!d.isSymbolicLink()) {
        const kind = kindOf(d);
        found.push({ path: relPath, kind });
        if (kind === 'dir' && budget > 0) walk(absPath, relPath, [...chain, `${current}/${d.name}`], budget - 1);
        continue;
      }
      const s = statSync(absPath, { throwIfNoEntry: false });
      const kind = s === undefined ? 'other' : kindOf(s);
      found.push({ path: relPath, kind });
      if (kind !== 'dir' || budget <= 0) continue;
      let real: string;
      try {
        real = realpathSync.native(absPath);
      } catch {
        continue;
      }
      if (!inside(root, real) || chain.includes(real) || inside(real, current)) continue;
      walk(absPath, relPath, [...chain, real], budget - 1);
    }
  };
  walk(root, '', [root], DEV_SCAN_DEPTH);

  found.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const dirs = new Map<string, string[]>();
  for (const e of found) if (e.kind === 'dir') dirs.set(e.path, []);
  for (const e of found) {
    if (e.kind !== 'char' && e.kind !== 'block') continue;
    // Every directory above a node lists it; found is sorted, so each list is too.
    for (let cut = e.path.lastIndexOf('/'); cut > 0; cut = e.path.lastIndexOf('/', cut - 1)) {
      dirs.get(e.path.slice(0, cut))?.push(e.path);
    }
  }
  return found.map((e) => (e.kind === 'dir' ? { path: e.path, kind: e.kind, nodes: dirs.get(e.path) ?? [] } : { path: e.path, kind: e.kind }));
}
