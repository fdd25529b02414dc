// What metrics cost the device plugin: start → READY, RSS, idle wake-ups with and without them, and a scrape.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultConfig } from '../../src/common/config.js';
import { NotifyListener } from '../helpers/notify-listener.js';
import { get } from '../helpers/scrape.js';
import { shippedNodeFlags } from '../helpers/shipped-node.js';
import { buildBundle, emitFor, kubeletIn, percentile, probeMemory, stopChild, until } from './common.js';
import { idleWakeups } from './deviceplugin.js';

const MEMORY_PROBE = fileURLToPath(new URL('./memory-probe.js', import.meta.url));
const NODE_FLAGS = shippedNodeFlags();
const emit = emitFor('metrics');
const SETTLE_MS = 12_000;
const RSS_ROUNDS = 5;

interface Variant {
  name: 'off' | 'on';
  /** The bundled CLI, as the package ships it. */
  cli: string;
  config: string;
  socket: string | undefined;
}

/**
 * The two configs, run by the package's own bundle: metrics are a chunk of their own there, loaded
 * only when enabled, so the cost is measured on the code the package runs (dist/ loads every
 * module of a command at once, which moves both figures).
 */
async function variants(dir: string): Promise<Variant[]> {
  const cli = await buildBundle(path.join(dir, 'bundle'));
  const socket = path.join(dir, 'run', 'metrics.sock');
  await mkdir(path.dirname(socket), { recursive: true });
  const off = path.join(dir, 'off.yaml');
  const on = path.join(dir, 'on.yaml');
  const base = `deviceplugin:\n  maintenanceFile: ${path.join(dir, 'm')}\n`;
  await writeFile(off, base);
  await writeFile(on, `${base}  metrics:\n    listen: unix:${socket}\n    textfile: ${path.join(dir, 'run', 'rise-device-plugin.prom')}\n`);
  return [
    { name: 'off', cli, config: off, socket: undefined },
    { name: 'on', cli, config: on, socket },
  ];
}

function startPlugin(pluginDir: string, v: Variant, env: Record<string, string>, extra: string[] = []): ChildProcess {
  return spawn(process.execPath, [...NODE_FLAGS, ...extra, v.cli, 'device-plugin', '--device-plugin-dir', pluginDir, '--config', v.config], {
    env: { ...process.env, ...env },
    stdio: 'ignore',
  });
}

/**
 * Process start → READY=1, alternating off and on so drift in the machine's load hits both alike,
 * and swapping which goes first each run: the second start of a pair finds more in the page cache.
 */
async function startToReady(dir: string, vs: Variant[], runs: number): Promise<void> {
  const { pluginDir, kubelet } = await kubeletIn(dir, 'ready');
  const listener = await NotifyListener.start(await mkdtemp(path.join(tmpdir(), 'rrn-bm-')));
  const times = new Map<string, number[]>(vs.map((v) => [v.name, []]));
  try {
    for (let i = 0; i < runs; i++) {
      for (const v of i % 2 === 0 ? vs : [...vs].reverse()) {
        const seen = listener.assignments.filter((a) => a === 'READY=1').length;
        const t0 = performance.now();
        const child = startPlugin(pluginDir, v, { NOTIFY_SOCKET: listener.socketPath });
        await listener.waitFor((a) => a.filter((x) => x === 'READY=1').length > seen);
        times.get(v.name)?.push(performance.now() - t0);
        // Let the metrics come up before stopping, so the next start finds a clean directory.
        if (v.socket) await until(() => existsSync(v.socket ?? ''));
        await stopChild(child);
      }
    }
  } finally {
    kubelet.stop();
    listener.close();
  }
  const offs = times.get('off') ?? [];
  const ons = times.get('on') ?? [];
  // The cost is the median of each pair's difference (on and off, started back to back): a
  // start takes about 300 ms and the machine's drift over the runs moves both halves of a pair
  // alike, where it moves two separate medians by more than the few ms being measured.
  const cost = percentile(
    ons.map((on, i) => on - (offs[i] ?? NaN)),
    50,
  );
  emit('start_to_ready_ms', { off_p50: percentile(offs, 50), on_p50: percentile(ons, 50), cost }, 'ms', { runs, cost_is: 'median of paired differences', target: 'cost <= 5' });
}

/**
 * RSS after a full GC once registered (and, with metrics, after the scrapes), and scrape latency.
 * One plugin's RSS moves by about a MiB from start to start (where the allocator's arenas and
 * V8's pages happen to land), as much as the cost being measured, so each variant is started
 * `rounds` times, alternating, and the medians are compared.
 */
async function rssAndScrape(dir: string, vs: Variant[], scrapes: number, rounds: number): Promise<void> {
  const rss = new Map<string, number[]>(vs.map((v) => [v.name, []]));
  const beforeScrapes: number[] = [];
  const times: number[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const v of vs) {
      const { pluginDir, kubelet } = await kubeletIn(dir, `rss-${v.name}-${round}`);
      const probeFile = path.join(dir, `memory-${v.name}.json`);
      const child = startPlugin(pluginDir, v, { RRN_MEMORY_PROBE: probeFile }, ['--expose-gc', '--import', MEMORY_PROBE]);
      try {
        await until(() => kubelet.allocatable('riseproject.com/runner') === 1);
        if (v.socket) {
          await until(() => existsSync(v.socket ?? ''));
          await new Promise((r) => setTimeout(r, 500));
          beforeScrapes.push((await probeMemory(child, probeFile)).rss);
          const target = `unix:${v.socket}`;
          for (let i = 0; i < scrapes; i++) {
            const t0 = performance.now();
            const answer = await get(target, '/metrics');
            times.push(performance.now() - t0);
            if (answer.status !== 200) throw new Error(`bench: scrape answered ${answer.status}`);
          }
        }
        await new Promise((r) => setTimeout(r, 500));
        rss.get(v.name)?.push((await probeMemory(child, probeFile)).rss);
      } finally {
        await stopChild(child);
        kubelet.stop();
      }
    }
  }
  emit('scrape_ms', { p50: percentile(times, 50), p99: percentile(times, 99) }, 'ms', {
    scrapes: times.length,
    over: 'unix socket, a new connection each',
    target: 'p99 <= 5',
  });
  const off = percentile(rss.get('off') ?? [], 50);
  const on = percentile(rss.get('on') ?? [], 50);
  emit('rss_mib', { off, on_before_scrapes: percentile(beforeScrapes, 50), on, cost: Number((on - off).toFixed(1)) }, 'MiB', {
    rounds,
    measured: 'medians, after a full GC, registered; on: after the endpoint came up, then after the scrapes',
    target: 'cost <= 3',
  });
}

/**
 * Wake-ups of the whole process, native timers included (JS timer counts miss libuv's own, such
 * as the event-loop-lag histogram's): voluntary context switches of an idle registered plugin.
 */
async function idleSwitches(dir: string, vs: Variant[], seconds: number): Promise<void> {
  const perMinute = new Map<string, number>();
  for (const v of vs) {
    const { pluginDir, kubelet } = await kubeletIn(dir, `idle-${v.name}`);
    const child = startPlugin(pluginDir, v, {});
    try {
      await until(() => kubelet.allocatable('riseproject.com/runner') === 1);
      if (v.socket) await until(() => existsSync(v.socket ?? ''));
      // The idle state, not the start's tail: for about ten seconds after a start V8 still
      // collects and shrinks the heap on its worker threads (about 230 switches a minute either
      // way, more with the larger heap metrics bring), then an idle plugin settles near 65.
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      const before = switches(child.pid ?? 0);
      await new Promise((r) => setTimeout(r, seconds * 1000));
      perMinute.set(v.name, Number((((switches(child.pid ?? 0) - before) * 60) / seconds).toFixed(1)));
    } finally {
      await stopChild(child);
      kubelet.stop();
    }
  }
  emit('idle_context_switches_per_minute', { off: perMinute.get('off') ?? NaN, on: perMinute.get('on') ?? NaN }, 'count', {
    seconds,
    after_start_ms: SETTLE_MS,
    counted: 'voluntary context switches of every thread, from /proc/<pid>/task/*/status',
    // Counts move by a few between runs; a timer of metrics' own, even one every 5 s, adds 12.
    target: 'on - off < 12',
  });
}

function switches(pid: number): number {
  let total = 0;
  for (const task of readdirSafe(`/proc/${pid}/task`)) {
    const status = readFileSync(`/proc/${pid}/task/${task}/status`, 'utf8');
    total += Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? 0);
  }
  return total;
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

export async function benchMetrics(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'rrn-bench-m-'));
  try {
    const vs = await variants(dir);
    await startToReady(dir, vs, Number(process.env['BENCH_METRICS_RUNS'] ?? 20));
    await rssAndScrape(dir, vs, 500, RSS_ROUNDS);
    await idleSwitches(dir, vs, 20);
    // The in-process count of the device plugin bench, with metrics on: it must match it.
    const socketDir = path.join(dir, 'inproc');
    await mkdir(socketDir, { recursive: true });
    await idleWakeups(dir, 30, {
      config: {
        ...defaultConfig().deviceplugin,
        maintenanceFile: path.join(dir, 'm'),
        metrics: { listen: `unix:${path.join(socketDir, 'metrics.sock')}`, textfile: path.join(socketDir, 'rise-device-plugin.prom') },
      },
      figure: 'idle_timer_wakeups_with_metrics',
      emitter: emit,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The RSS and scrape figures alone, for a quick look while changing what metrics load. */
export async function benchMetricsRss(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'rrn-bench-m-'));
  try {
    await rssAndScrape(dir, await variants(dir), 500, RSS_ROUNDS);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
