// The /dev walk over fixture trees: kinds, depth, symlinks, loops and unreadable directories.
// Kinds come from the file system: buildDevTree makes real device nodes with mknod (root, as in
// CI) and only when mknod is refused a symlink to a host device node, which the walk follows to
// the same kind; each test records which it got.
import { execFile } from 'node:child_process';
import { chmod } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { DEV_SCAN_DEPTH, scanDev } from '../../src/deviceplugin/sources/dev-scan.js';
import type { DevEntry } from '../../src/deviceplugin/sources/types.js';
import { buildDevTree } from '../helpers/dev-tree.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);

function byPath(entries: readonly DevEntry[]): Record<string, DevEntry> {
  return Object.fromEntries(entries.map((e) => [e.path, e]));
}

test('kinds, relative paths, directories with the device nodes under them, sorted', async (t) => {
  const dev = await tempDir(t, 'rrn-dev-');
  t.log('device nodes made by', await buildDevTree(dev, ['c ttyUSB0', 'b sda', 'f log', 'c snd/controlC0', 'c snd/pcmC0D0p', 'd snd/empty', 'c net/tun', 'd shm']));
  t.deepEqual(await scanDev(dev), [
    { path: 'log', kind: 'other' },
    { path: 'net', kind: 'dir', nodes: ['net/tun'] },
    { path: 'net/tun', kind: 'char' },
    { path: 'sda', kind: 'block' },
    { path: 'shm', kind: 'dir', nodes: [] },
    { path: 'snd', kind: 'dir', nodes: ['snd/controlC0', 'snd/pcmC0D0p'] },
    { path: 'snd/controlC0', kind: 'char' },
    { path: 'snd/empty', kind: 'dir', nodes: [] },
    { path: 'snd/pcmC0D0p', kind: 'char' },
    { path: 'ttyUSB0', kind: 'char' },
  ]);
});

test('symlinks are followed: to a node it is that node, dangling is other, a directory link inside is walked', async (t) => {
  const dev = await tempDir(t, 'rrn-dev-');
  await buildDevTree(dev, ['c video10', 'l v4l/by-path/cam-index0 -> ../../video10', 'l gone -> nowhere', 'c dri/card0', 'l gpu -> dri']);
  const e = byPath(await scanDev(dev));
  t.is(e['v4l/by-path/cam-index0']?.kind, 'char');
  t.is(e['gone']?.kind, 'other');
  t.deepEqual(e['gpu'], { path: 'gpu', kind: 'dir', nodes: ['gpu/card0'] });
  t.is(e['gpu/card0']?.kind, 'char');
  t.deepEqual(e['v4l'], { path: 'v4l', kind: 'dir', nodes: ['v4l/by-path/cam-index0'] });
});

test('a link out of the tree (fd -> /proc/self/fd) is listed, not walked; links back up end the walk', async (t) => {
  const dev = await tempDir(t, 'rrn-dev-');
  await buildDevTree(dev, ['l fd -> /proc/self/fd', 'd a/b', 'l a/b/up -> ../..', 'l a/b/self -> .', 'l a/tob -> b', 'd x', 'l x/toy -> ../y', 'd y', 'l y/tox -> ../x']);
  const entries = await scanDev(dev);
  const paths = entries.map((e) => e.path);
  t.true(paths.includes('fd'));
  t.false(paths.some((p) => p.startsWith('fd/')), 'nothing from /proc');
  t.is(byPath(entries)['a/b/up']?.kind, 'dir');
  t.false(paths.some((p) => p.startsWith('a/b/up/') || p.startsWith('a/b/self/') || p.startsWith('a/tob/up/')));
  // x -> y -> x stops where the walk comes back to a directory it is inside.
  t.true(paths.includes('x/toy/tox'));
  t.false(paths.some((p) => p.startsWith('x/toy/tox/')));
  t.true(paths.length < 40, paths.join(' '));
});

test(`the walk descends ${DEV_SCAN_DEPTH} levels of directories below the root, as smarter does`, async (t) => {
  const dev = await tempDir(t, 'rrn-dev-');
  const levels = Array.from({ length: DEV_SCAN_DEPTH + 3 }, (_, i) => `l${i}`);
  await buildDevTree(dev, [`d ${levels.join('/')}`]);
  const deepest = Math.max(...(await scanDev(dev)).map((e) => e.path.split('/').length));
  t.is(deepest, DEV_SCAN_DEPTH + 1);
});

const SCAN = new URL('../../src/deviceplugin/sources/dev-scan.js', import.meta.url).href;

/** Root reads through mode 000, so as root the scan runs in a child as nobody, who cannot. */
async function scanAsUnprivileged(dir: string): Promise<DevEntry[]> {
  if (process.getuid?.() !== 0) return scanDev(dir);
  const code = `import(${JSON.stringify(SCAN)}).then(async (m) => process.stdout.write(JSON.stringify(await m.scanDev(${JSON.stringify(dir)}))))`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', code], { uid: 65534, gid: 65534 });
  return JSON.parse(stdout) as DevEntry[];
}

test('an unreadable directory is listed with nothing under it; a missing root is empty', async (t) => {
  const dev = await tempDir(t, 'rrn-dev-');
  await chmod(dev, 0o755);
  await buildDevTree(dev, ['c ok', 'c locked/inner', 'c locked/deeper/node']);
  t.deepEqual(await scanDev(path.join(dev, 'missing')), []);
  await chmod(path.join(dev, 'locked'), 0o000);
  t.teardown(() => chmod(path.join(dev, 'locked'), 0o755));
  t.deepEqual(await scanAsUnprivileged(dev), [
    { path: 'locked', kind: 'dir', nodes: [] },
    { path: 'ok', kind: 'char' },
  ]);
});
