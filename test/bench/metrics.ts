// What metrics cost the device plugin: start → READY, RSS, idle wake-ups with and without them, and a scrape.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { defaultConfig } from '../../src/common/config.js';
import { NotifyListener } from '../helpers/notify-listener.js';
import { get } from '../helpers/scrape.js';
import { shippedNodeFlags } from '../helpers/shipped-node.js';
import { buildBundle, emitFor, kubeletIn, percentile, probeMemory, stopChild, until } from './common.js';
import { idleWakeups } from './deviceplugin.js';

const MEMORY_PROBE = fileURLToPath(new URL('./memory-probe.js', import.meta.url));
const SCRAPE_CLIENT = fileURLToPath(new URL('./scrape-client.js', import.meta.url));
const SCRAPE_CLIENT_FLAGS = ['--lite-mode'];
const SCRAPE_CONTROL_SERVER = fileURLToPath(new URL('./scrape-control-server.js', import.meta.url));
/** The scrapes of the plugin and of the control alternate in this many blocks. */
const SCRAPE_BLOCKS = 4;
const PRE_READY_WORK = fileURLToPath(new URL('./pre-ready-work.js', import.meta.url));
const execFileAsync = promisify(execFile);
const NODE_FLAGS = shippedNodeFlags();
const emit = emitFor('metrics');
const SETTLE_MS = 12_000;
const RSS_ROUNDS = 5;
/** Scrapes a second apart before the RSS that counts: Prometheus at a short scrape interval. */
const PACED_SCRAPES = 12;

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

function on(vs: Variant[]): Variant {
  const v = vs.find((x) => x.name === 'on');
  if (!v) throw new Error('bench: no variant with metrics on');
  return v;
}

function startPlugin(pluginDir: string, v: Variant, env: Record<string, string>, extra: string[] = []): ChildProcess {
  return spawn(process.execPath, [...NODE_FLAGS, ...extra, v.cli, 'device-plugin', '--device-plugin-dir', pluginDir, '--config', v.config], {
    env: { ...process.env, ...env },
    stdio: 'ignore',
  });
}

/**
 * Process start → READY=1 of both variants, started back to back in pairs, and a control: pairs
 * of "off" and "off" again, interleaved with them. Which goes first alternates: the second start
 * of a pair finds more in the page cache, and on some machines that alone is worth tens of ms.
 * The control's figure is what the method reads where there is no cost at all: the cost means
 * something only where it stands clear of that.
 */
async function startToReady(dir: string, vs: Variant[], runs: number): Promise<void> {
  const { pluginDir, kubelet } = await kubeletIn(dir, 'ready');
  const listener = await NotifyListener.start(await mkdtemp(path.join(tmpdir(), 'rrn-bm-')));
  const off = vs.find((v) => v.name === 'off');
  if (!off) throw new Error('bench: no variant with metrics off');
  const startOne = async (v: Variant): Promise<number> => {
    const seen = listener.assignments.filter((a) => a === 'READY=1').length;
    const t0 = performance.now();
    const child = startPlugin(pluginDir, v, { NOTIFY_SOCKET: listener.socketPath });
    await listener.waitFor((a) => a.filter((x) => x === 'READY=1').length > seen);
    const took = performance.now() - t0;
    // Let the metrics come up before stopping, so the next start finds a clean directory.
    if (v.socket) await until(() => existsSync(v.socket ?? ''));
    await stopChild(child);
    return took;
  };
  const offs: number[] = [];
  const ons: number[] = [];
  // Each pair's difference, other - off, in the order of the pairs (off first in the even ones).
  const costDiffs: number[] = [];
  const controlDiffs: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      for (const [other, diffs] of [
        [on(vs), costDiffs],
        [off, controlDiffs],
      ] as const) {
        // By position, not by variant: in the control both are the same variant.
        const offFirst = i % 2 === 0;
        const a = await startOne(offFirst ? off : other);
        const b = await startOne(offFirst ? other : off);
        const [offTime, otherTime] = offFirst ? [a, b] : [b, a];
        if (other === off) offs.push(offTime, otherTime);
        else {
          offs.push(offTime);
          ons.push(otherTime);
        }
        diffs.push(otherTime - offTime);
      }
    }
  } finally {
    kubelet.stop();
    listener.close();
  }
  // Each pair's difference holds the cost plus or minus the order effect, so the median of all
  // of them lands on either side of it by chance. The median of each order's differences,
  // averaged, cancels the order effect; the drift of the machine's load over the runs moves both
  // halves of a pair alike and cancels in each difference.
  const estimate = (a: number[], b: number[]): number => (percentile(a, 50) + percentile(b, 50)) / 2;
  const byOrder = (diffs: number[]): [number[], number[]] => [diffs.filter((_, i) => i % 2 === 0), diffs.filter((_, i) => i % 2 === 1)];
  const [costOffFirst, costOnFirst] = byOrder(costDiffs);
  const [controlA, controlB] = byOrder(controlDiffs);
  emit(
    'start_to_ready_ms',
    {
      off_p50: percentile(offs, 50),
      on_p50: percentile(ons, 50),
      cost: Number(estimate(costOffFirst, costOnFirst).toFixed(2)),
      cost_se: bootstrapSe(costOffFirst, costOnFirst, estimate),
      control: Number(estimate(controlA, controlB).toFixed(2)),
      control_se: bootstrapSe(controlA, controlB, estimate),
      second_start_faster_by: Number(((percentile(costOffFirst, 50) - percentile(costOnFirst, 50)) / 2).toFixed(2)),
    },
    'ms',
    {
      runs,
      cost_is: "mean of the two orders' median differences (on - off), with its bootstrap standard error; control: the same of off against off",
      target: 'cost <= 5',
    },
  );
}

/**
 * The work enabling metrics adds before READY, timed step by step in a process of its own with
 * the package's Node flags (pre-ready-work.ts says what it covers): the whole start's figure
 * above cannot resolve a few ms on a machine whose starts vary by tens.
 */
async function preReadyWork(dir: string, vs: Variant[], rounds: number): Promise<void> {
  const config = (name: Variant['name']): string => vs.find((v) => v.name === name)?.config ?? '';
  const { stdout } = await execFileAsync(process.execPath, [...NODE_FLAGS, PRE_READY_WORK, config('off'), config('on'), path.join(dir, 'pre-ready'), String(rounds)]);
  const times = JSON.parse(stdout) as { off: number[]; on: number[] };
  const off = percentile(times.off, 50);
  const on = percentile(times.on, 50);
  emit('pre_ready_metrics_work_us', { off_p50: off, on_p50: on, cost: Number((on - off).toFixed(1)) }, 'µs', {
    rounds,
    covers: "reading the config and its metrics keys, the queueing recorder, the notifier that starts metrics at READY, a start's events",
  });
}

/**
 * The standard error of estimate(a, b) by the bootstrap: how far the figure would move if the
 * same number of starts were made again. A start's own time varies by ±10 % on a shared VM, and
 * this says how much of a cost that leaves unresolved. The resampling is seeded, so the same
 * starts give the same figure.
 */
function bootstrapSe(a: number[], b: number[], estimate: (a: number[], b: number[]) => number, rounds = 1000): number {
  let seed = 1;
  const random = (): number => {
    // A 32-bit LCG (Numerical Recipes' constants): plenty for picking indices.
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
  const resample = (xs: number[]): number[] => xs.map(() => xs[Math.floor(random() * xs.length)] ?? NaN);
  const values: number[] = [];
  for (let i = 0; i < rounds; i++) values.push(estimate(resample(a), resample(b)));
  const mean = values.reduce((x, y) => x + y, 0) / values.length;
  return Number(Math.sqrt(values.reduce((x, y) => x + (y - mean) ** 2, 0) / (values.length - 1)).toFixed(2));
}

/**
 * RSS after a full GC. Each start of the "on" variant is probed three times: once the endpoint is
 * up, right after a burst of back-to-back scrapes, and after scrapes once a second for a while,
 * the way Prometheus at a short interval scrapes. That last one is the cost: right after the
 * burst V8 still holds the young generation and the freed pages the burst's garbage grew, which
 * it gives back within seconds of the allocation rate falling. The "off" variant is probed after
 * as long registered.
 *
 * One plugin's RSS moves by about a MiB from start to start (where the allocator's arenas and
 * V8's pages happen to land), as much as the cost being measured, so each variant is started
 * `rounds` times, alternating, and the medians are compared.
 */
async function rss(dir: string, vs: Variant[], burst: number, rounds: number): Promise<void> {
  const rssOf = new Map<string, number[]>(vs.map((v) => [v.name, []]));
  const beforeScrapes: number[] = [];
  const afterBurst: number[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const v of vs) {
      const { pluginDir, kubelet } = await kubeletIn(dir, `rss-${v.name}-${round}`);
      const probeFile = path.join(dir, `memory-${v.name}.json`);
      const child = startPlugin(pluginDir, v, { RRN_MEMORY_PROBE: probeFile }, ['--expose-gc', '--import', MEMORY_PROBE]);
      try {
        await until(() => kubelet.allocatable('riseproject.com/runner') === 1);
        const registered = performance.now();
        if (v.socket) {
          await until(() => existsSync(v.socket ?? ''));
          await sleep(500);
          beforeScrapes.push((await probeMemory(child, probeFile)).rss);
          await scrapeTimes(`unix:${v.socket}`, burst, 0);
          afterBurst.push((await probeMemory(child, probeFile)).rss);
          for (let i = 0; i < PACED_SCRAPES; i++) {
            await sleep(1000);
            const answer = await get(`unix:${v.socket}`, '/metrics');
            if (answer.status !== 200) throw new Error(`bench: scrape answered ${answer.status}`);
          }
        }
        await sleep(Math.max(0, PACED_SCRAPES * 1000 + 1000 - (performance.now() - registered)));
        rssOf.get(v.name)?.push((await probeMemory(child, probeFile)).rss);
      } finally {
        await stopChild(child);
        kubelet.stop();
      }
    }
  }
  const off = percentile(rssOf.get('off') ?? [], 50);
  const on = percentile(rssOf.get('on') ?? [], 50);
  emit(
    'rss_mib',
    { off, on_before_scrapes: percentile(beforeScrapes, 50), on_after_burst: percentile(afterBurst, 50), on, cost: Number((on - off).toFixed(1)) },
    'MiB',
    {
      rounds,
      measured: `medians, after a full GC; on: once the endpoint is up, right after ${burst} back-to-back scrapes, then after ${PACED_SCRAPES} more a second apart (the cost); off: after as long registered`,
      target: 'cost <= 3',
    },
  );
}

/**
 * Scrape latency of a plugin as Prometheus finds it: settled after its start (scrapes come every
 * 15 s or so for the life of the daemon; the first few after a start are a rounding error of them).
 *
 * With a control: the same client against scrape-control-server.ts, which answers the plugin's
 * own body from memory under the same Node flags. On a shared 2-core VM the tail of even that
 * moves from day to day by more than the daemon's whole share, so the figure means something only
 * beside it. The two are scraped in alternating blocks, so a slow spell of the VM falls on both.
 */
async function scrapeLatency(dir: string, v: Variant, scrapes: number): Promise<void> {
  const { pluginDir, kubelet } = await kubeletIn(dir, 'scrape');
  const child = startPlugin(pluginDir, v, {});
  let control: ChildProcess | undefined;
  try {
    await until(() => kubelet.allocatable('riseproject.com/runner') === 1);
    await until(() => existsSync(v.socket ?? ''));
    await sleep(SETTLE_MS);
    const bodyFile = path.join(dir, 'scrape-body.txt');
    const answer = await get(`unix:${v.socket}`, '/metrics');
    if (answer.status !== 200) throw new Error(`bench: scrape answered ${answer.status}`);
    await writeFile(bodyFile, answer.body);
    const controlSocket = path.join(dir, 'run', 'control.sock');
    control = spawn(process.execPath, [...NODE_FLAGS, SCRAPE_CONTROL_SERVER, controlSocket, bodyFile], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      control?.stdout?.once('data', () => resolve());
      control?.once('exit', (code) => reject(new Error(`bench: the control server exited with ${code}`)));
    });
    const times: number[] = [];
    const controlTimes: number[] = [];
    const block = scrapes / SCRAPE_BLOCKS;
    for (let i = 0; i < SCRAPE_BLOCKS; i++) {
      const warmup = i === 0 ? 50 : 10;
      times.push(...(await scrapeTimes(`unix:${v.socket}`, block, warmup)));
      controlTimes.push(...(await scrapeTimes(`unix:${controlSocket}`, block, warmup)));
    }
    emit(
      'scrape_ms',
      {
        p50: percentile(times, 50),
        p99: percentile(times, 99),
        control_p50: percentile(controlTimes, 50),
        control_p99: percentile(controlTimes, 99),
      },
      'ms',
      {
        scrapes: times.length,
        body_bytes: Buffer.byteLength(answer.body),
        over: 'unix socket, a new connection each',
        client: `own process, ${SCRAPE_CLIENT_FLAGS.join(' ')}`,
        control: `node:http answering the same body from memory, ${NODE_FLAGS.join(' ')}, in ${SCRAPE_BLOCKS} blocks alternating with the plugin's`,
        after_start_ms: SETTLE_MS,
        target: 'p99 <= 5',
      },
    );
  } finally {
    if (control) await stopChild(control);
    await stopChild(child);
    kubelet.stop();
  }
}

/** Round trips of GET /metrics from scrape-client.ts, after `warmup` untimed ones. */
async function scrapeTimes(target: string, scrapes: number, warmup: number): Promise<number[]> {
  const { stdout } = await execFileAsync(process.execPath, [...SCRAPE_CLIENT_FLAGS, SCRAPE_CLIENT, target, String(scrapes), String(warmup)]);
  return JSON.parse(stdout) as number[];
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
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
      await sleep(SETTLE_MS);
      const before = switches(child.pid ?? 0);
      await sleep(seconds * 1000);
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

/** Runs the steps on both variants in a temp dir of their own, removed after. */
async function withVariants(steps: (dir: string, vs: Variant[]) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'rrn-bench-m-'));
  try {
    await steps(dir, await variants(dir));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function startFigures(dir: string, vs: Variant[]): Promise<void> {
  await startToReady(dir, vs, Number(process.env['BENCH_METRICS_RUNS'] ?? 40));
  await preReadyWork(dir, vs, 400);
}

async function rssAndScrapeFigures(dir: string, vs: Variant[]): Promise<void> {
  await rss(dir, vs, 500, RSS_ROUNDS);
  await scrapeLatency(dir, on(vs), 1000);
}

export async function benchMetrics(): Promise<void> {
  await withVariants(async (dir, vs) => {
    await startFigures(dir, vs);
    await rssAndScrapeFigures(dir, vs);
    await idleSwitches(dir, vs, 60);
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
  });
}

/** The start figures alone, for a quick look while changing what a start does. */
export function benchMetricsStart(): Promise<void> {
  return withVariants(startFigures);
}

/** The RSS and scrape figures alone, for a quick look while changing what metrics load. */
export function benchMetricsRss(): Promise<void> {
  return withVariants(rssAndScrapeFigures);
}
