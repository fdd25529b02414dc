// Hotplug in a fixture /dev tree: health follows a device node that comes and goes, nothing leaks.
import fs, { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { link, unlink } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import path from 'node:path';
import test from 'ava';
import { parseConfig } from '../../src/common/config.js';
import { buildDevTree } from '../helpers/dev-tree.js';
import { eventually } from '../helpers/eventually.js';
import { startHarness } from '../helpers/plugin-harness.js';
import { tempDir } from '../helpers/tmp.js';

const TTY = 'smarter-devices/ttyUSB0';
const ROUNDS = 1000;

// The plugin's watchers are not persistent, so getActiveResourcesInfo() never lists them, and
// the kernel shares one inotify watch among all watchers of a directory: count fs.watch itself.
let liveWatchers = 0;
const realWatch = fs.watch;
fs.watch = ((...args: Parameters<typeof fs.watch>) => {
  const watcher = realWatch(...args);
  liveWatchers += 1;
  watcher.once('close', () => (liveWatchers -= 1));
  return watcher;
}) as typeof fs.watch;
syncBuiltinESMExports();

/** The kernel's side: inotify watches held by this process. */
function inotifyWatches(): number {
  let count = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (!readlinkSync(`/proc/self/fd/${fd}`).includes('inotify')) continue;
      count += readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').split('\n').filter((l) => l.startsWith('inotify wd:')).length;
    } catch {
      // closed meanwhile
    }
  }
  return count;
}

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

function resources(): string[] {
  return (process as unknown as { getActiveResourcesInfo(): string[] }).getActiveResourcesInfo().filter((r) => r !== 'TTYWrap');
}
const handles = (): number => resources().filter((r) => r !== 'Timeout').length;
const timers = (): number => resources().filter((r) => r === 'Timeout').length;

test(`a device node removed and re-created ${ROUNDS} times: health follows each time, one registration, one stream, nothing leaks`, async (t) => {
  t.timeout(120_000);
  const root = await tempDir(t, 'rrn-hp-');
  const dev = path.join(root, 'dev');
  // The node is made once beside the tree and linked in and out: the same device node every time,
  // without a process start per round.
  t.log('device nodes made by', await buildDevTree(root, ['c spare/ttyUSB0', 'c dev/null', 'd dev/net']));
  const spare = path.join(root, 'spare', 'ttyUSB0');
  const node = path.join(dev, 'ttyUSB0');
  await link(spare, node);
  const section = parseConfig('deviceplugin:\n  dev:\n    devices:\n      - devicematch: ^ttyUSB[0-9]+$\n        nummaxdevices: 2\n', '/etc/riscv-runner-node/config.yaml').deviceplugin;
  const h = await startHarness(t, { settings: { dev: section.dev, root } });
  const health = (want: string) => (): boolean => {
    const devices = h.kubelet.devices(TTY);
    return devices.length === 2 && devices.every((d) => d.health === want) && h.kubelet.allocatable(TTY) === (want === 'Healthy' ? 2 : 0);
  };
  await h.kubelet.waitFor(health('Healthy'), 10_000, 'first registration');
  const store = (): number => h.plugin.manager.get(TTY)?.store.listenerCount ?? -1;
  await eventually(() => store() === 1);
  // Let registration's probe and register channels finish closing before counting.
  await new Promise((r) => setTimeout(r, 300));
  const baseline = { watchers: liveWatchers, inotify: inotifyWatches(), fds: openFds(), handles: handles(), timers: timers(), listeners: store() };
  t.true(baseline.watchers > 0, 'the plugin watches /dev');
  t.log('baseline', baseline, resources());

  const started = performance.now();
  for (let i = 1; i <= ROUNDS; i++) {
    await unlink(node);
    await h.kubelet.waitFor(health('Unhealthy'), 10_000, `Unhealthy after removal ${i}`);
    await link(spare, node);
    await h.kubelet.waitFor(health('Healthy'), 10_000, `Healthy after re-creation ${i}`);
  }
  t.log(`${ROUNDS} rounds in ${Math.round(performance.now() - started)} ms`);
  t.is(h.kubelet.registrations.filter((r) => r.resourceName === TTY).length, 1, 'no re-registration');
  t.is(h.kubelet.streamsOpened.get(TTY), 1, 'one stream');
  // Each round the kubelet heard exactly two lists: Unhealthy, then Healthy again.
  t.is(h.kubelet.updates.filter((u) => u.resourceName === TTY).length, 1 + 2 * ROUNDS);

  t.true(await eventually(() => liveWatchers <= baseline.watchers), `fs watchers: ${liveWatchers} > ${baseline.watchers}`);
  t.true(await eventually(() => inotifyWatches() <= baseline.inotify), `inotify watches: ${inotifyWatches()} > ${baseline.inotify}`);
  t.true(await eventually(() => store() <= baseline.listeners), `stream handlers: ${store()} > ${baseline.listeners}`);
  t.true(await eventually(() => openFds() <= baseline.fds), `fds: ${openFds()} > ${baseline.fds}`);
  t.true(await eventually(() => handles() <= baseline.handles), `handles: ${handles()} > ${baseline.handles}: ${resources().join(', ')}`);
  t.true(await eventually(() => timers() <= baseline.timers), `timers: ${timers()} > ${baseline.timers}`);

  // A new matching entry appears as a new resource, without a restart and without touching the first.
  await buildDevTree(root, ['c spare2/ttyUSB1']);
  await link(path.join(root, 'spare2', 'ttyUSB1'), path.join(dev, 'ttyUSB1'));
  await h.kubelet.waitFor(() => h.kubelet.allocatable('smarter-devices/ttyUSB1') === 2, 10_000, 'the new entry served');
  t.deepEqual(h.kubelet.streamingResources(), ['riseproject.com/runner', TTY, 'smarter-devices/ttyUSB1']);
  // An entry that vanishes keeps its resource, Unhealthy: capacity stays, allocatable 0.
  await unlink(path.join(dev, 'ttyUSB1'));
  await h.kubelet.waitFor(() => h.kubelet.allocatable('smarter-devices/ttyUSB1') === 0, 10_000, 'the vanished entry Unhealthy');
  t.is(h.kubelet.capacity('smarter-devices/ttyUSB1'), 2);
  t.deepEqual(h.kubelet.streamingResources(), ['riseproject.com/runner', TTY, 'smarter-devices/ttyUSB1']);
  t.is(h.kubelet.registrations.length, 3);
  t.is(h.plugin.manager.get(TTY)?.lifecycle.registrations, 1);
});
