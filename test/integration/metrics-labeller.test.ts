// The node labeller's /metrics, /healthz and textfile against the API server stand-in, over real HTTP and a unix socket.
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import type { Clock } from '../../src/common/clock.js';
import { defaultConfig, type MetricsConfig } from '../../src/common/config.js';
import { memoryLogger } from '../../src/common/logger.js';
import { clientNodeApi } from '../../src/labeller/client-node-api.js';
import { labellerMetricsFor } from '../../src/labeller/command.js';
import { NodeLabeller } from '../../src/labeller/labeller.js';
import { FakeApiServer } from '../fakes/apiserver.js';
import { scaledClock } from '../fakes/labeller-clock.js';
import { eventually } from '../helpers/eventually.js';
import { parseExposition } from '../helpers/exposition.js';
import { RecordingNotifier } from '../helpers/recording-notifier.js';
import { freePort, get, promtoolProblems } from '../helpers/scrape.js';

const ROOT = path.resolve('test/fixtures/roots/scw-em-rv1');
const BOARD = 'riseproject.dev/board';

/** Polls an async condition; the limit only guards against a hang. */
async function until(check: () => Promise<boolean>, limitMs = 10_000): Promise<boolean> {
  const end = Date.now() + limitMs;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return check();
}

async function startLabeller(t: ExecutionContext, metrics: MetricsConfig, options: { node?: boolean; clock?: Clock } = {}) {
  const api = new FakeApiServer({ tokens: { tok: 'system:node:rv-1' }, watchTimeoutMs: (s) => s * 10 });
  await api.start(0);
  t.teardown(() => api.stop());
  if (options.node ?? true) api.createNode('rv-1');
  const dir = await mkdtemp(path.join(tmpdir(), 'rrn-lm-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const kubeconfig = path.join(dir, 'kubeconfig');
  await writeFile(kubeconfig, api.kubeconfig('tok'));
  const config = { ...defaultConfig(), labeller: { ...defaultConfig().labeller, metrics } };
  const logger = memoryLogger();
  const recording = new RecordingNotifier();
  let labeller: NodeLabeller | undefined;
  const late = labellerMetricsFor(config, () => labeller?.health() ?? { ok: false, reason: 'starting' }, logger);
  if (!late) throw new Error('metrics configured, yet none made');
  const clock = options.clock ?? scaledClock(100);
  const controller = new AbortController();
  labeller = new NodeLabeller({
    nodeName: 'rv-1',
    root: ROOT,
    config: config.labeller,
    api: clientNodeApi({ kubeconfigFile: kubeconfig, clock, requestTimeoutMs: 30_000 }),
    clock,
    logger,
    notifier: late.startingOnReady(recording),
    signal: controller.signal,
    backoff: { initialMs: 1000, maxMs: 30_000 },
    watchTimeoutSeconds: () => 600,
    metrics: late.recorder,
    statusNote: late.note,
  });
  const done = labeller.run();
  const stop = async (): Promise<void> => {
    controller.abort();
    await done;
    await late.close();
  };
  t.teardown(stop);
  return { api, late, logger, notifier: recording, stop, dir };
}

test('over TCP: patches, a drift repair, API errors and watch restarts; /healthz follows in sync', async (t) => {
  const listen = `127.0.0.1:${await freePort()}`;
  const { api, late } = await startLabeller(t, { listen, textfile: undefined });
  await late.start();
  t.true(await eventually(() => api.nodes.get('rv-1')?.metadata.labels[BOARD] === 'scw-em-rv1'));
  t.true(await until(async () => (await get(listen, '/healthz')).status === 200));
  const health = await get(listen, '/healthz');
  t.is(health.body, 'node rv-1: riseproject.dev/board=scw-em-rv1 (in sync)\n');

  api.editLabels('rv-1', { [BOARD]: null });
  t.true(await eventually(() => api.nodes.get('rv-1')?.metadata.labels[BOARD] === 'scw-em-rv1'));
  const scrape = await get(listen, '/metrics');
  const m = parseExposition(scrape.body);
  t.is(m.value('rise_node_labeller_patches_total', {}), 2);
  t.is(m.value('rise_node_labeller_drift_repairs_total', {}), 1);
  t.is(m.value('rise_node_labeller_in_sync', {}), 1);
  t.true((m.value('rise_node_labeller_owned_labels', {}) ?? 0) >= 5);
  const lastSync = m.value('rise_node_labeller_last_sync_timestamp_seconds', {}) ?? 0;
  t.true(lastSync > 1_600_000_000, String(lastSync));
  t.true(m.samples.some((s) => s.name === 'rise_node_labeller_process_resident_memory_bytes'));
  t.is(promtoolProblems(scrape.body), '');

  // A 403 on the repair: counted by its code, and the watch it ended is started again.
  api.failNext(1, 403);
  api.editLabels('rv-1', { 'riseproject.dev/harts': '999' });
  const errorsSeen = async (): Promise<boolean> =>
    parseExposition((await get(listen, '/metrics')).body).value('rise_node_labeller_api_errors_total', { code: '403' }) !== undefined;
  t.true(await until(errorsSeen));
  t.is(parseExposition((await get(listen, '/metrics')).body).value('rise_node_labeller_api_errors_total', { code: '403' }), 1);
  // After its backoff the labeller reads the Node again and watches anew.
  const watchedAgain = async (): Promise<boolean> =>
    (parseExposition((await get(listen, '/metrics')).body).value('rise_node_labeller_watch_restarts_total', {}) ?? 0) >= 1;
  t.true(await until(watchedAgain), 'the failed repair ended the watch; a new one started');
});

test('over a unix socket: /healthz is 503 while the Node is not registered, 200 once labelled', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'rrn-ls-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const listen = `unix:${path.join(dir, 'metrics.sock')}`;
  const { api, late } = await startLabeller(t, { listen, textfile: undefined }, { node: false });
  await late.start();
  t.true(await until(async () => (await get(listen, '/healthz')).body.includes('waiting for the Node')));
  const waiting = await get(listen, '/healthz');
  t.is(waiting.status, 503);
  t.is(waiting.body, 'node rv-1: riseproject.dev/board=scw-em-rv1 (waiting for the Node to be registered)\n');
  api.createNode('rv-1');
  t.true(await until(async () => (await get(listen, '/healthz')).status === 200));
  t.is(promtoolProblems((await get(listen, '/metrics')).body), '');
});

test('textfile: written once in sync, not rewritten by watch events that change no value', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'rrn-lt-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const textfile = path.join(dir, 'rise-node-labeller.prom');
  // Time stands still, so the sync time cannot move either: what is left to change is the events' doing.
  const scaled = scaledClock(100);
  const frozen: Clock = { now: () => 1_700_000_000_000, sleep: scaled.sleep };
  const { api, late, stop } = await startLabeller(t, { listen: undefined, textfile }, { clock: frozen });
  await late.start();
  t.true(await until(async () => /^rise_node_labeller_in_sync 1$/m.test(await readFile(textfile, 'utf8').catch(() => ''))));
  const text = await readFile(textfile, 'utf8');
  t.is(promtoolProblems(text), '');
  t.false(text.includes('process_'), 'process metrics are not in the textfile');
  t.regex(text, /^rise_node_labeller_last_sync_timestamp_seconds 1700000000$/m);
  const before = await stat(textfile);
  // Foreign label edits: watch events the labeller handles by finding the Node still in sync.
  const patches = api.counts.patch;
  api.editLabels('rv-1', { 'team/x': '1' });
  api.editLabels('rv-1', { 'team/x': '2' });
  t.true(await eventually(() => api.nodes.get('rv-1')?.metadata.labels['team/x'] === '2'));
  await new Promise((r) => setTimeout(r, 100));
  t.is(api.counts.patch, patches);
  const after = await stat(textfile);
  t.is(after.ino, before.ino);
  t.is(after.mtimeMs, before.mtimeMs);
  // A repair changes the counters: a new file.
  api.editLabels('rv-1', { [BOARD]: null });
  t.true(await until(async () => /^rise_node_labeller_drift_repairs_total 1$/m.test(await readFile(textfile, 'utf8'))));
  await stop();
});
