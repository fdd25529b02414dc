// Labeller benchmark: time to label once the API answers, API requests per node-hour, RSS of the daemon.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { systemClock, type Clock } from '../../src/common/clock.js';
import { defaultConfig } from '../../src/common/config.js';
import { memoryLogger } from '../../src/common/logger.js';
import { nullNotifier } from '../../src/common/notifier.js';
import { clientNodeApi } from '../../src/labeller/client-node-api.js';
import { NodeLabeller } from '../../src/labeller/labeller.js';
import { FakeApiServer } from '../fakes/apiserver.js';
import { scaledClock } from '../fakes/labeller-clock.js';
import { shippedNodeFlags } from '../helpers/shipped-node.js';

const root = path.resolve('test/fixtures/roots/scw-em-rv1');
const BOARD = 'riseproject.dev/board';

function emit(figure: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ bench: 'labeller', ...figure })}\n`);
}

async function until(check: () => boolean, limitMs = 60_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('benchmark condition not reached');
    await new Promise((r) => setTimeout(r, 1));
  }
}

async function withLabeller<T>(clock: Clock, scale: number, body: (api: FakeApiServer, abort: () => Promise<void>) => Promise<T>, setupNode = true): Promise<T> {
  const api = new FakeApiServer({ tokens: { tok: 'system:node:rv-1' }, watchTimeoutMs: (s) => (s * 1000) / scale });
  await api.start(0);
  if (setupNode) api.createNode('rv-1');
  const dir = await mkdtemp(path.join(tmpdir(), 'labeller-bench-'));
  const kubeconfig = path.join(dir, 'kubeconfig');
  await writeFile(kubeconfig, api.kubeconfig('tok'));
  const controller = new AbortController();
  const labeller = new NodeLabeller({
    nodeName: 'rv-1', root, config: defaultConfig().labeller,
    api: clientNodeApi({ kubeconfigFile: kubeconfig, clock, requestTimeoutMs: 30_000 }),
    clock, logger: memoryLogger(), notifier: nullNotifier, signal: controller.signal,
  });
  const done = labeller.run();
  const abort = async (): Promise<void> => {
    controller.abort();
    await done;
  };
  try {
    return await body(api, abort);
  } finally {
    await abort();
    await api.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

export async function benchLabeller(): Promise<void> {
  // 1. API reachable from the start: real time from start to every label applied (median of 5).
  const cold: number[] = [];
  for (let i = 0; i < 5; i += 1) {
    const t0 = performance.now();
    await withLabeller(systemClock, 1, async (api) => {
      await until(() => api.nodes.get('rv-1')?.metadata.labels[BOARD] !== undefined);
      cold.push(performance.now() - t0);
    });
  }
  cold.sort((a, b) => a - b);
  emit({ figure: 'start_to_labelled_ms', value: Math.round(cold[2] ?? 0), note: 'API reachable at start, real time, median of 5' });

  // 2. After a 30 s outage with the production backoff (1 s doubling to 60 s, jitter), run 100x faster.
  const scale = 100;
  await withLabeller(scaledClock(scale), scale, async (api) => {
    await api.stop();
    await new Promise((r) => setTimeout(r, 30_000 / scale));
    const t0 = performance.now();
    await api.start();
    await until(() => api.nodes.get('rv-1')?.metadata.labels[BOARD] !== undefined);
    emit({ figure: 'reachable_to_labelled_after_30s_outage_s', value: Math.round(((performance.now() - t0) * scale) / 100) / 10, note: 'simulated seconds (scaled run x100); bounded by the backoff step in progress' });
  });

  // 3. Steady state for one simulated hour, an owned label deleted by someone every simulated minute.
  const hourScale = 500;
  await withLabeller(scaledClock(hourScale), hourScale, async (api) => {
    await until(() => api.nodes.get('rv-1')?.metadata.labels[BOARD] !== undefined);
    api.resetCounts();
    for (let minute = 0; minute < 60; minute += 1) {
      await new Promise((r) => setTimeout(r, 60_000 / hourScale));
      api.editLabels('rv-1', { [BOARD]: null });
    }
    await until(() => api.nodes.get('rv-1')?.metadata.labels[BOARD] !== undefined);
    const reads = api.counts.get + api.counts.list + api.counts.watch;
    emit({ figure: 'requests_per_node_hour_reads', value: reads, detail: { get: api.counts.get, list: api.counts.list, watch: api.counts.watch }, note: `scaled run x${hourScale}; one drift repair per minute; watches last 5-10 min` });
    emit({ figure: 'requests_per_node_hour_writes', value: api.writes, note: '60 repairs expected' });
  });

  // 4. RSS of the real daemon process once it has labelled its node.
  const api = new FakeApiServer({ tokens: { tok: 'system:node:rv-1' } });
  await api.start(0);
  api.createNode('rv-1');
  const dir = await mkdtemp(path.join(tmpdir(), 'labeller-bench-rss-'));
  const kubeconfig = path.join(dir, 'kubeconfig');
  await writeFile(kubeconfig, api.kubeconfig('tok'));
  const child = spawn(process.execPath, [...shippedNodeFlags(), path.resolve('dist/src/cli.js'), 'node-labeller', '--kubeconfig', kubeconfig, '--node-name', 'rv-1', '--root', root, '--config', path.join(dir, 'none.yaml')], { stdio: 'ignore', env: { ...process.env, NOTIFY_SOCKET: '' } });
  try {
    await writeFile(path.join(dir, 'none.yaml'), '');
    await until(() => api.nodes.get('rv-1')?.metadata.labels[BOARD] !== undefined);
    await new Promise((r) => setTimeout(r, 500));
    const status = await readFile(`/proc/${child.pid ?? 0}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 'NaN');
    emit({ figure: 'rss_after_start_mib', value: Math.round(kb / 102.4) / 10, note: `node ${process.version} ${shippedNodeFlags().join(' ')}, after labelling` });
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await api.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
