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
import { emitFor, kubeletIn, percentile, probeMemory, stopChild, until } from './common.js';
import { idleWakeups } from './deviceplugin.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const MEMORY_PROBE = fileURLToPath(new URL('./memory-probe.js', import.meta.url));
const NODE_FLAGS = shippedNodeFlags();
const emit = emitFor('metrics');

interface Variant {
  name: 'off' | 'on';
  config: string;
  socket: string | undefined;
}

async function variants(dir: string): Promise<Variant[]> {
  const socket = path.join(dir, 'run', 'metrics.sock');
  await mkdir(path.dirname(socket), { recursive: true });
  const off = path.join(dir, 'off.yaml');
  const on = path.join(dir, 'on.yaml');
  const base = `deviceplugin:\n  maintenanceFile: ${path.join(dir, 'm')}\n`;
  await writeFile(off, base);
  await writeFile(on, `${base}  metrics:\n    listen: unix:${socket}\n    textfile: ${path.join(dir, 'run', 'rise-device-plugin.prom')}\n`);
  return [
    { name: 'off', config: off, socket: undefined },
    { name: 'on', config: on, socket },
  ];
}

function startPlugin(pluginDir: string, v: Variant, env: Record<string, string>, extra: string[] = []): ChildProcess {
  return spawn(process.execPath, [...NODE_FLAGS, ...extra, CLI, 'device-plugin', '--device-plugin-dir', pluginDir, '--config', v.config], {
    env: { ...process.env, ...env },
    stdio: 'ignore',
  });
}

/** Process start → READY=1, alternating off and on so drift in the machine's load hits both alike. */
async function startToReady(dir: string, vs: Variant[], runs: number): Promise<void> {
  const { pluginDir, kubelet } = await kubeletIn(dir, 'ready');
  const listener = await NotifyListener.start(await mkdtemp(path.join(tmpdir(), 'rrn-bm-')));
  const times = new Map<string, number[]>(vs.map((v) => [v.name, []]));
  try {
    for (let i = 0; i < runs; i++) {
      for (const v of vs) {
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
  const off = percentile(times.get('off') ?? [], 50);
  const on = percentile(times.get('on') ?? [], 50);
  emit('start_to_ready_ms', { off_p50: off, on_p50: on, cost: Number((on - off).toFixed(2)) }, 'ms', { runs, target: 'cost <= 5' });
}

/** RSS after a full GC once registered (and, with metrics, after the first scrape), and scrape latency. */
async function rssAndScrape(dir: string, vs: Variant[], scrapes: number): Promise<void> {
  const rss = new Map<string, number>();
  let beforeScrapes = NaN;
  for (const v of vs) {
    const { pluginDir, kubelet } = await kubeletIn(dir, `rss-${v.name}`);
    const probeFile = path.join(dir, `memory-${v.name}.json`);
    const child = startPlugin(pluginDir, v, { RRN_MEMORY_PROBE: probeFile }, ['--expose-gc', '--import', MEMORY_PROBE]);
    try {
      await until(() => kubelet.allocatable('riseproject.com/runner') === 1);
      if (v.socket) {
        await until(() => existsSync(v.socket ?? ''));
        await new Promise((r) => setTimeout(r, 500));
        beforeScrapes = (await probeMemory(child, probeFile)).rss;
        const target = `unix:${v.socket}`;
        const times: number[] = [];
        for (let i = 0; i < scrapes; i++) {
          const t0 = performance.now();
          const answer = await get(target, '/metrics');
          times.push(performance.now() - t0);
          if (answer.status !== 200) throw new Error(`bench: scrape answered ${answer.status}`);
        }
        emit('scrape_ms', { p50: percentile(times, 50), p99: percentile(times, 99) }, 'ms', { scrapes, over: 'unix socket, a new connection each', target: 'p99 <= 5' });
      }
      await new Promise((r) => setTimeout(r, 500));
      rss.set(v.name, (await probeMemory(child, probeFile)).rss);
    } finally {
      await stopChild(child);
      kubelet.stop();
    }
  }
  const off = rss.get('off') ?? NaN;
  const on = rss.get('on') ?? NaN;
  emit('rss_mib', { off, on_before_scrapes: beforeScrapes, on, cost: Number((on - off).toFixed(1)) }, 'MiB', {
    measured: 'after a full GC, registered; on: after the endpoint came up, then after the scrapes',
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
      await new Promise((r) => setTimeout(r, 1000));
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
    counted: 'voluntary context switches of every thread, from /proc/<pid>/task/*/status',
    target: 'on no higher than off',
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
    await startToReady(dir, vs, Number(process.env['BENCH_METRICS_RUNS'] ?? 9));
    await rssAndScrape(dir, vs, 500);
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
    await rssAndScrape(dir, await variants(dir), 500);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
