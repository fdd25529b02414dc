// Device plugin benchmarks against the kubelet stand-in: one JSON line per figure.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../../src/common/clock.js';
import { defaultConfig, type DevicePluginConfig } from '../../src/common/config.js';
import { devicePluginMetricsFor } from '../../src/deviceplugin/command.js';
import type { RunningDevicePlugin } from '../../src/deviceplugin/daemon.js';
import { memoryLogger } from '../../src/common/logger.js';
import { startDevicePlugin } from '../../src/deviceplugin/daemon.js';
import { NotifyListener } from '../helpers/notify-listener.js';
import { RecordingNotifier } from '../helpers/recording-notifier.js';
import { shippedNodeFlags } from '../helpers/shipped-node.js';
import { emitFor, kubeletIn, percentile, probeMemory, rssMiB, stopChild, until } from './common.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const MEMORY_PROBE = fileURLToPath(new URL('./memory-probe.js', import.meta.url));
// The plugin runs with the packaged wrapper's V8 flags (--lite-mode among them), as on a board.
const NODE_FLAGS = shippedNodeFlags();
const RESOURCE = 'riseproject.com/runner';

const emit = emitFor('device-plugin');

/** Process start → READY=1 on a real notify socket, kubelet already up; median of runs. */
async function startToReady(dir: string, runs: number): Promise<void> {
  const { pluginDir, kubelet } = await kubeletIn(dir, 'ready');
  const listener = await NotifyListener.start(await mkdtemp(path.join(tmpdir(), 'rrn-bn-')));
  const times: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const seen = listener.assignments.filter((a) => a === 'READY=1').length;
      const t0 = performance.now();
      const child = spawn(process.execPath, [...NODE_FLAGS, CLI, 'device-plugin', '--device-plugin-dir', pluginDir, '--maintenance-file', path.join(dir, 'm')], {
        env: { ...process.env, NOTIFY_SOCKET: listener.socketPath },
        stdio: 'ignore',
      });
      await listener.waitFor((a) => a.filter((x) => x === 'READY=1').length > seen);
      times.push(performance.now() - t0);
      await stopChild(child);
    }
  } finally {
    kubelet.stop();
    listener.close();
  }
  emit('start_to_ready_ms', { p50: percentile(times, 50), max: percentile(times, 100) }, 'ms', { runs, target: '< 400 (p50)' });
}

/** A plugin process: re-registration latency over restarts, Allocate latency, RSS growth. */
async function restartsAllocateRss(dir: string, restarts: number, allocations: number): Promise<void> {
  const { pluginDir, kubelet } = await kubeletIn(dir, 'restarts');
  const probeFile = path.join(dir, 'memory.json');
  // --expose-gc and the probe only let the bench ask for a full GC before reading memory.
  const args = [...NODE_FLAGS, '--expose-gc', '--import', MEMORY_PROBE, CLI, 'device-plugin', '--device-plugin-dir', pluginDir, '--maintenance-file', path.join(dir, 'm')];
  const child = spawn(process.execPath, args, { stdio: 'ignore', env: { ...process.env, RRN_MEMORY_PROBE: probeFile } });
  try {
    await until(() => kubelet.allocatable(RESOURCE) === 1);
    await new Promise((r) => setTimeout(r, 500));
    const rawStart = rssMiB(child.pid!);
    const start = await probeMemory(child, probeFile);

    const alloc: number[] = [];
    for (let i = 0; i < allocations; i++) {
      const t0 = performance.now();
      await kubelet.allocate(RESOURCE, ['runner-0']);
      alloc.push(performance.now() - t0);
    }
    emit('allocate_ms', { p50: percentile(alloc, 50), p99: percentile(alloc, 99) }, 'ms', { calls: allocations });

    const latency: number[] = [];
    const rssSeries: number[] = [];
    const rawSeries: number[] = [];
    for (let i = 0; i < restarts; i++) {
      if (i > 0 && i % Math.max(1, Math.floor(restarts / 4)) === 0) {
        rawSeries.push(rssMiB(child.pid!));
        rssSeries.push((await probeMemory(child, probeFile)).rss);
      }
      await kubelet.restart();
      const generation = kubelet.generation;
      await until(() => kubelet.registrations.some((r) => r.generation === generation) && kubelet.allocatable(RESOURCE) === 1);
      const reg = kubelet.registrations.find((r) => r.generation === generation)!;
      latency.push(reg.at - kubelet.listeningAt);
    }
    const extra = kubelet.registrations.length - 1 - restarts;
    emit('reregister_after_restart_ms', { p50: percentile(latency, 50), p99: percentile(latency, 99) }, 'ms', {
      restarts,
      duplicate_registrations: extra,
      target: 'p99 <= 50',
    });
    await new Promise((r) => setTimeout(r, 1000));
    const rawEnd = rssMiB(child.pid!);
    const end = await probeMemory(child, probeFile);
    emit('rss_mib', { after_start: start.rss, after_restarts: end.rss, growth: Number((end.rss - start.rss).toFixed(1)) }, 'MiB', {
      restarts,
      measured: 'after a full GC in the plugin',
      node_flags: NODE_FLAGS.join(' '),
      // Memory at each quarter of the restarts: a leak keeps climbing, heap sizing levels off.
      series: [start.rss, ...rssSeries, end.rss],
      heap_used: { after_start: start.heapUsed, after_restarts: end.heapUsed },
      // Without the GC, RSS also carries garbage not yet collected: a band, not a trend.
      raw_rss: { after_start: rawStart, series: rawSeries, after_restarts: rawEnd },
      target: 'growth < 5',
    });
  } finally {
    await stopChild(child);
    kubelet.stop();
  }
}

export interface IdleSetup {
  /** Config of the plugin's section; the runner slot alone when absent (metrics in it are wired as the command does). */
  config?: DevicePluginConfig;
  root?: string;
  names?: { nodeName: string; hostName: string };
  /** How many resources must be allocatable before the count starts. */
  resources?: number;
  /** Figure name and its emitter, so another benchmark can report its own count. */
  figure?: string;
  emitter?: ReturnType<typeof emitFor>;
}

/** Timer callbacks that fire while the registered plugin idles (watchdog off), counted in-process. */
export async function idleWakeups(dir: string, seconds: number, setup: IdleSetup = {}): Promise<number> {
  const { pluginDir, kubelet } = await kubeletIn(dir, setup.figure ? `idle-${setup.figure}` : 'idle');
  const root = setup.root ?? dir;
  const config = setup.config ?? { ...defaultConfig().deviceplugin, maintenanceFile: path.join(dir, 'm') };
  const controller = new AbortController();
  const fired: Array<{ at: number; period: number }> = [];
  const realSetInterval = globalThis.setInterval;
  const realSetTimeout = globalThis.setTimeout;
  // Count every timer callback the plugin schedules from here on.
  globalThis.setInterval = ((fn: (...a: unknown[]) => void, ms?: number, ...a: unknown[]) =>
    realSetInterval(() => {
      fired.push({ at: performance.now(), period: ms ?? 0 });
      fn(...a);
    }, ms)) as typeof setInterval;
  globalThis.setTimeout = ((fn: (...a: unknown[]) => void, ms?: number, ...a: unknown[]) =>
    realSetTimeout(() => {
      fired.push({ at: performance.now(), period: ms ?? 0 });
      fn(...a);
    }, ms)) as typeof setTimeout;
  try {
    const settings = {
      dir: pluginDir,
      kubeletSocketName: 'kubelet.sock',
      root,
      devDir: path.join(root, 'dev'),
      names: setup.names ?? { nodeName: 'rv-01', hostName: 'rv-01' },
      config,
      configFile: undefined,
      reloadConfig: undefined,
      recheckMs: 5000,
      devRescanMs: 60_000,
    };
    const logger = memoryLogger();
    let running: RunningDevicePlugin | undefined;
    const metrics = devicePluginMetricsFor(settings, () => running, logger);
    const notifier = new RecordingNotifier();
    const plugin = await startDevicePlugin(
      settings,
      {
        clock: systemClock,
        logger,
        notifier: metrics ? metrics.startingOnReady(notifier) : notifier,
        ...(metrics ? { metrics: metrics.recorder, statusNote: metrics.note } : {}),
      },
      controller.signal,
    );
    running = plugin;
    const wanted = setup.resources ?? 1;
    await until(() => kubelet.streamingResources().length >= wanted && kubelet.allocatable(RESOURCE) === 1, 30_000);
    await new Promise((r) => realSetTimeout(r, 1000));
    fired.length = 0;
    const t0 = performance.now();
    await new Promise((r) => realSetTimeout(r, seconds * 1000));
    const during = fired.filter((t) => t.at >= t0);
    const shortest = Math.min(...during.map((t) => t.period));
    const perMinute = Number(((during.length * 60) / seconds).toFixed(1));
    (setup.emitter ?? emit)(setup.figure ?? 'idle_timer_wakeups', { per_minute: perMinute, shortest_period_ms: shortest }, 'count', {
      seconds,
      resources: wanted,
      target: 'no timer more often than every 5 s; the same count whatever the number of resources',
    });
    controller.abort();
    await plugin.done;
    await metrics?.close();
    return perMinute;
  } finally {
    globalThis.setInterval = realSetInterval;
    globalThis.setTimeout = realSetTimeout;
    kubelet.stop();
  }
}

export async function benchDevicePlugin(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'rrn-bench-'));
  try {
    await startToReady(dir, 7);
    await restartsAllocateRss(dir, Number(process.env['BENCH_RESTARTS'] ?? 1000), 1000);
    await idleWakeups(dir, 30);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
