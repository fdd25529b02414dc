// Many resources in one plugin: 40 /dev entries and 10 virtual devices beside the runner slot.
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/common/config.js';
import { discover } from '../../src/deviceplugin/sources/index.js';
import { shippedNodeFlags } from '../helpers/shipped-node.js';
import { cpuMs, emitFor, kubeletIn, percentile, probeMemory, settled, stopChild, until } from './common.js';
import { idleWakeups } from './deviceplugin.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const MEMORY_PROBE = fileURLToPath(new URL('./memory-probe.js', import.meta.url));
const NODE_FLAGS = shippedNodeFlags();
const emit = emitFor('device-plugin-resources');
const NODE = 'rv-bench';
const DEV_ENTRIES = 40;
const VIRTUAL = 10;
const TREE = 2000;

/**
 * A /dev of `total` entries: `matching` character devices ttyRRN<i> (made with mknod, as root),
 * the rest spread over subdirectories as udev lays them out (by-id links, pts, snd, …).
 */
async function devTree(root: string, matching: number, total: number): Promise<void> {
  const dev = path.join(root, 'dev');
  await mkdir(dev, { recursive: true });
  const nodes = Array.from({ length: matching }, (_, i) => path.join(dev, `ttyRRN${i}`));
  // Character devices numbered like /dev/null (1:3): listed and stat'ed, never opened.
  for (const n of nodes) execFileSync('mknod', ['-m', '0600', n, 'c', '1', '3']);
  let made = matching;
  for (let d = 0; made < total; d++) {
    const sub = path.join(dev, `group${d}`, 'by-id');
    await mkdir(sub, { recursive: true });
    made += 2;
    for (let f = 0; f < 48 && made < total; f++, made++) await writeFile(path.join(sub, `entry-${f}`), '');
  }
}

function configText(): string {
  const devices = Array.from({ length: VIRTUAL }, (_, i) => `      - { resourceName: example.com/instrument-${i}, instanceID: "000${i}", env: { IP: "10.0.0.${i}" } }`);
  return [
    'deviceplugin:',
    '  dev:',
    '    devices:',
    `      - { devicematch: "^ttyRRN[0-9]+$", nummaxdevices: 1 }`,
    '  virtual:',
    '    deviceMapping:',
    `      - hosts: [${NODE}]`,
    '        devices:',
    ...devices.map((d) => `  ${d}`),
    '',
  ].join('\n');
}

/** Every resource registered with the kubelet of this generation, and allocatable. */
function allRegistered(kubelet: Awaited<ReturnType<typeof kubeletIn>>['kubelet'], names: readonly string[], generation: number): boolean {
  const seen = new Set(kubelet.registrations.filter((r) => r.generation === generation).map((r) => r.resourceName));
  return names.every((n) => seen.has(n) && kubelet.allocatable(n) > 0);
}

async function manyResources(dir: string, restarts: number): Promise<void> {
  const root = path.join(dir, 'root');
  await devTree(root, DEV_ENTRIES, TREE);
  const configFile = path.join(dir, 'config.yaml');
  await writeFile(configFile, configText());
  const config = (await loadConfig(configFile, { mustExist: true })).deviceplugin;
  config.maintenanceFile = path.join(dir, 'maintenance');

  // Discovery of the 2000-entry tree, in this process: the work every rescan does.
  const times: number[] = [];
  let count = 0;
  for (let i = 0; i < 30; i++) {
    const t0 = performance.now();
    const found = await discover({
      config,
      names: { nodeName: NODE, hostName: NODE },
      devDir: path.join(root, 'dev'),
      socketDir: path.join(dir, 'dp'),
      maintenance: false,
      previous: [],
    });
    times.push(performance.now() - t0);
    count = found.resources.length;
  }
  emit('discovery_ms', { p50: percentile(times, 50), p99: percentile(times, 99) }, 'ms', {
    dev_entries: TREE,
    resources: count,
    runs: times.length,
    target: '<= 50',
  });
  if (count !== 1 + DEV_ENTRIES + VIRTUAL) throw new Error(`bench: discovery found ${count} resources, not ${1 + DEV_ENTRIES + VIRTUAL}`);

  const { pluginDir, kubelet } = await kubeletIn(dir, 'many');
  const names = (
    await discover({ config, names: { nodeName: NODE, hostName: NODE }, devDir: path.join(root, 'dev'), socketDir: pluginDir, maintenance: false, previous: [] })
  ).resources.map((r) => r.name);
  const probeFile = path.join(dir, 'memory.json');
  const args = [
    ...NODE_FLAGS,
    '--expose-gc',
    '--import',
    MEMORY_PROBE,
    CLI,
    'device-plugin',
    '--config',
    configFile,
    '--root',
    root,
    '--node-name',
    NODE,
    '--device-plugin-dir',
    pluginDir,
    '--maintenance-file',
    config.maintenanceFile,
  ];
  const child = spawn(process.execPath, args, { stdio: 'ignore', env: { ...process.env, RRN_MEMORY_PROBE: probeFile } });
  try {
    await until(() => allRegistered(kubelet, names, kubelet.generation), 30_000);
    await new Promise((r) => setTimeout(r, 500));
    const memory = await probeMemory(child, probeFile);

    // Reloads with nothing changed: the kubelet must not notice them.
    const registrations = kubelet.registrations.length;
    const streams = [...kubelet.streamsOpened.values()].reduce((a, b) => a + b, 0);
    const updates = kubelet.updates.length;
    for (let i = 0; i < 20; i++) {
      child.kill('SIGHUP');
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 1000));
    emit(
      'reload_unchanged',
      {
        registrations: kubelet.registrations.length - registrations,
        stream_restarts: [...kubelet.streamsOpened.values()].reduce((a, b) => a + b, 0) - streams,
        device_updates: kubelet.updates.length - updates,
      },
      'count',
      { reloads: 20, resources: names.length, target: '0 registrations, 0 stream restarts' },
    );

    // Counted as registrations arrive, so that watching costs the stand-in nothing per poll.
    const byGeneration = new Map<number, Set<string>>();
    const onRegistered = (r: { generation: number; resourceName: string }): void => {
      const set = byGeneration.get(r.generation) ?? new Set<string>();
      set.add(r.resourceName);
      byGeneration.set(r.generation, set);
    };
    kubelet.on('registered', onRegistered);
    const latency: number[] = [];
    const cpuBefore = child.pid === undefined ? 0 : cpuMs(child.pid);
    for (let i = 0; i < restarts; i++) {
      await kubelet.restart();
      const generation = kubelet.generation;
      await kubelet.waitFor(() => (byGeneration.get(generation)?.size ?? 0) >= names.length, 30_000, `generation ${generation}`);
      const last = Math.max(...kubelet.registrations.slice(-names.length).map((r) => r.at));
      latency.push(last - kubelet.listeningAt);
      // Real kubelet restarts are seconds apart (a kubelet takes that long to start), so each
      // restart here meets a plugin at rest, as it would on a board: every Register answered and
      // every stream open, and the work that follows them (streams to answer, a GC) finished,
      // rather than still running when the next restart's clock starts.
      await until(() => names.every((n) => kubelet.allocatable(n) > 0), 30_000);
      if (child.pid !== undefined) await settled(child.pid);
    }
    kubelet.off('registered', onRegistered);
    const cpuPerRestart = child.pid === undefined ? 0 : (cpuMs(child.pid) - cpuBefore) / restarts;
    const perGenerationAndName = new Map<string, number>();
    for (const r of kubelet.registrations) {
      const key = `${r.generation} ${r.resourceName}`;
      perGenerationAndName.set(key, (perGenerationAndName.get(key) ?? 0) + 1);
    }
    emit('all_reregistered_after_restart_ms', { p50: percentile(latency, 50), p99: percentile(latency, 99) }, 'ms', {
      restarts,
      resources: names.length,
      duplicate_registrations: [...perGenerationAndName.values()].filter((n) => n > 1).length,
      // The plugin's CPU time for each restart, all of it: what a board's core spends on one.
      plugin_cpu_ms_per_restart: Number(cpuPerRestart.toFixed(1)),
      target: 'p99 <= 100 (the last of every resource)',
    });
    emit('rss_mib', { with_resources: memory.rss, heap_used: memory.heapUsed }, 'MiB', {
      resources: names.length,
      measured: 'after a full GC in the plugin, unbundled',
      node_flags: NODE_FLAGS.join(' '),
      target: '<= 70 packaged',
    });
  } finally {
    await stopChild(child);
    kubelet.stop();
  }

  // Idle timers with 51 resources against the runner slot alone: they must be the same.
  const few = await idleWakeups(dir, 20, { figure: 'idle_wakeups_1_resource', emitter: emit });
  const many = await idleWakeups(dir, 20, {
    config,
    root,
    names: { nodeName: NODE, hostName: NODE },
    resources: names.length,
    figure: `idle_wakeups_${1 + DEV_ENTRIES + VIRTUAL}_resources`,
    emitter: emit,
  });
  emit('idle_wakeups_ratio', Number((many / Math.max(few, 1)).toFixed(2)), 'ratio', { target: '1 (independent of the resource count)' });
}

export async function benchResources(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'rrn-benchr-'));
  try {
    await manyResources(dir, Number(process.env['BENCH_RESOURCE_RESTARTS'] ?? 200));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
