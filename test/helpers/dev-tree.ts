// Builds fixture /dev trees in temp directories: device nodes, directories, files and symlinks.
import { execFile } from 'node:child_process';
import { mkdir, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * One line per entry, relative to the tree's root:
 *   "c ttyUSB0"     character device node     "b mmcblk0"   block device node
 *   "d snd"         directory                 "f log"       regular file
 *   "l stdin -> x"  symlink to x (as written)
 * Parent directories are made as needed.
 */
export type TreeSpec = readonly string[];

/** How device nodes were made: real nodes (mknod, needs CAP_MKNOD, as root in CI) or stand-ins. */
export type NodeMaking = 'mknod' | 'symlink-stand-in';

let making: NodeMaking | undefined;

/**
 * The stand-in, only when mknod is refused (an unprivileged run): a symlink to a device node of
 * the host (/dev/null for char, the first block device in /dev for block). The scan follows
 * symlinks, so it sees the same kind as a real node.
 */
async function standIn(kind: 'c' | 'b'): Promise<string> {
  if (kind === 'c') return '/dev/null';
  for (const name of await readdir('/dev')) {
    const p = path.join('/dev', name);
    try {
      if ((await stat(p)).isBlockDevice()) return p;
    } catch {
      // not there any more
    }
  }
  throw new Error('fixture /dev tree: mknod is refused and the host has no block device to stand in for one');
}

const quote = (p: string): string => `'${p.replace(/'/g, `'\\''`)}'`;

/** All nodes in one shell, so a 2000-node tree takes a moment, not 2000 process starts. */
async function makeNodes(nodes: ReadonlyArray<{ path: string; kind: 'c' | 'b' }>): Promise<void> {
  if (nodes.length === 0) return;
  if (making !== 'symlink-stand-in') {
    // 1:3 is /dev/null and 7:n a loop device: harmless should anything open them.
    const script = nodes.map((n, i) => `mknod ${quote(n.path)} ${n.kind} ${n.kind === 'c' ? '1 3' : `7 ${i % 256}`}`).join('\n');
    try {
      await run('sh', ['-ec', script]);
      making = 'mknod';
      return;
    } catch (err) {
      if (making === 'mknod') throw err;
      making = 'symlink-stand-in';
    }
  }
  for (const n of nodes) await symlink(await standIn(n.kind), n.path);
}

/** Creates the entries under root; returns how device nodes were made, for the test's record. */
export async function buildDevTree(root: string, spec: TreeSpec): Promise<NodeMaking> {
  await mkdir(root, { recursive: true });
  const nodes: Array<{ path: string; kind: 'c' | 'b' }> = [];
  for (const line of spec) {
    const m = /^([cbdfl]) (\S+)(?: -> (\S+))?$/.exec(line);
    if (!m) throw new Error(`fixture /dev tree: cannot read ${JSON.stringify(line)}`);
    const [, kind, rel = '', target] = m;
    const p = path.join(root, rel);
    await mkdir(path.dirname(p), { recursive: true });
    if (kind === 'd') await mkdir(p, { recursive: true });
    else if (kind === 'f') await writeFile(p, '');
    else if (kind === 'l') await symlink(target ?? '', p);
    else nodes.push({ path: p, kind: kind as 'c' | 'b' });
  }
  await makeNodes(nodes);
  return making ?? 'mknod';
}

/** A Raspberry Pi 4's /dev, as far as smarter's README example shows it, plus what sits beside. */
export const RASPBERRY_PI_DEV: TreeSpec = [
  'c gpiochip0',
  'c gpiochip1',
  'c gpiochip2',
  'c gpiomem',
  'c i2c-1',
  'c null',
  'c zero',
  'c snd/controlC0',
  'c snd/pcmC0D0p',
  'c snd/seq',
  'c snd/timer',
  'l snd/by-path/platform-bcm2835_audio -> ../controlC0',
  'c vchiq',
  'c vcs',
  'c vcs1',
  'c vcsa',
  'c vcsm',
  'c vcsm-cma',
  'c video4',
  'c video10',
  'c video11',
  'c video12',
  'd v4l/by-path',
  'l v4l/by-path/platform-fe00b840.mailbox-video-index0 -> ../../video10',
  'c ttyAMA0',
  'c ttyS0',
  'b mmcblk0',
  'b mmcblk0p1',
  'd shm',
  'd net',
  'c net/tun',
  'f log',
  'l stdin -> /proc/self/fd/0',
  'l fd -> /proc/self/fd',
];
