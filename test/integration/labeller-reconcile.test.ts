// The node labeller against the fake API server over real HTTP: apply, repair, outages, 403, 404, steady state.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { defaultConfig } from '../../src/common/config.js';
import { memoryLogger } from '../../src/common/logger.js';
import type { Notifier } from '../../src/common/notifier.js';
import { clientNodeApi } from '../../src/labeller/client-node-api.js';
import { NodeLabeller } from '../../src/labeller/labeller.js';
import { OWNED_ANNOTATION } from '../../src/labeller/reconcile.js';
import { FakeApiServer } from '../fakes/apiserver.js';
import { scaledClock } from '../fakes/labeller-clock.js';

const roots = path.resolve('test/fixtures/roots');

/** Polls a condition that should become true quickly; the generous limit only guards against a hang. */
async function eventually(what: string, check: () => boolean, limitMs = 15_000): Promise<void> {
  const until = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function recordingNotifier(): Notifier & { statuses: string[]; readies: number; stops: number } {
  const n = {
    statuses: [] as string[],
    readies: 0,
    stops: 0,
    ready: () => void (n.readies += 1),
    status: (text: string) => void n.statuses.push(text),
    watchdog: () => undefined,
    stopping: () => void (n.stops += 1),
    reloading: () => undefined,
    flush: () => Promise.resolve(),
    backend: 'none' as const,
  };
  return n;
}

interface Setup {
  api: FakeApiServer;
  kubeconfig: string;
  dir: string;
}

async function setup(t: ExecutionContext, options: { scale?: number; identity?: string } = {}): Promise<Setup> {
  const scale = options.scale ?? 100;
  const api = new FakeApiServer({ tokens: { tok: options.identity ?? 'system:node:rv-1' }, watchTimeoutMs: (s) => (s * 1000) / scale });
  await api.start(0);
  t.teardown(() => api.stop());
  const dir = await mkdtemp(path.join(tmpdir(), 'labeller-it-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const kubeconfig = path.join(dir, 'kubeconfig');
  await writeFile(kubeconfig, api.kubeconfig('tok'));
  return { api, kubeconfig, dir };
}

function startLabeller(
  t: ExecutionContext,
  s: Setup,
  options: { scale?: number; node?: string; root?: string; rediscoverSeconds?: number; nfd?: string; requestTimeoutMs?: number } = {},
) {
  const scale = options.scale ?? 100;
  const clock = scaledClock(scale);
  const logger = memoryLogger();
  const notifier = recordingNotifier();
  const controller = new AbortController();
  const config = { ...defaultConfig().labeller, rediscoverSeconds: options.rediscoverSeconds ?? 300, nfdFeaturesFile: options.nfd };
  const labeller = new NodeLabeller({
    nodeName: options.node ?? 'rv-1',
    root: options.root ?? path.join(roots, 'scw-em-rv1'),
    config,
    api: clientNodeApi({ kubeconfigFile: s.kubeconfig, clock, requestTimeoutMs: options.requestTimeoutMs ?? 30_000 }),
    clock,
    logger,
    notifier,
    signal: controller.signal,
    backoff: { initialMs: 1000, maxMs: 30_000 },
    watchTimeoutSeconds: () => 600,
    kubeconfigFile: s.kubeconfig,
  });
  const done = labeller.run();
  t.teardown(async () => {
    controller.abort();
    await done;
  });
  return { labeller, logger, notifier, controller, done };
}

const labelsOf = (api: FakeApiServer, name = 'rv-1'): Record<string, string> => api.nodes.get(name)?.metadata.labels ?? {};

test('labels applied; foreign labels untouched; an owned label no longer discovered removed', async (t) => {
  const s = await setup(t);
  s.api.createNode('rv-1', { 'team/owner': 'ci', 'riseproject.dev/uarch': 'old-core', 'riseproject.dev/pool': 'a' }, {
    [OWNED_ANNOTATION]: 'riseproject.dev/board,riseproject.dev/uarch',
  });
  const { notifier } = startLabeller(t, s);
  await eventually('board label', () => labelsOf(s.api)['riseproject.dev/board'] === 'scw-em-rv1');
  const labels = labelsOf(s.api);
  t.is(labels['riseproject.dev/isa.xtheadvector'], 'true');
  t.is(labels['riseproject.dev/harts'], '4');
  t.is(labels['team/owner'], 'ci');
  t.is(labels['riseproject.dev/pool'], 'a', 'a label under our prefix that we never owned stays');
  t.false('riseproject.dev/uarch' in labels, 'owned, no longer discovered: removed');
  t.false(s.api.nodes.get('rv-1')?.metadata.annotations[OWNED_ANNOTATION]?.includes('uarch'));
  t.is(s.api.counts.patch, 1);
  t.true(s.api.log.filter((r) => r.verb === 'patch').every((r) => r.contentType === 'application/merge-patch+json'));
  t.is(s.api.counts.update, 0);
  await eventually('in sync status', () => notifier.statuses.includes('node rv-1: riseproject.dev/board=scw-em-rv1 (in sync)'));
  t.is(notifier.readies, 1);
});

test('an owned label deleted or edited by someone else is restored through the watch, without polling', async (t) => {
  const s = await setup(t);
  s.api.createNode('rv-1');
  startLabeller(t, s);
  await eventually('labelled', () => labelsOf(s.api)['riseproject.dev/board'] === 'scw-em-rv1');
  const gets = s.api.counts.get;
  s.api.editLabels('rv-1', { 'riseproject.dev/board': null, 'team/other': 'x' });
  await eventually('board restored', () => labelsOf(s.api)['riseproject.dev/board'] === 'scw-em-rv1');
  s.api.editLabels('rv-1', { 'riseproject.dev/harts': '999' });
  await eventually('harts restored', () => labelsOf(s.api)['riseproject.dev/harts'] === '4');
  t.is(labelsOf(s.api)['team/other'], 'x');
  t.is(s.api.counts.get, gets, 'repairs come from watch events, not reads');
  t.is(s.api.counts.patch, 3);
});

test('API server down for 30 s (connections refused), then back: labels applied without a restart', async (t) => {
  const s = await setup(t);
  s.api.createNode('rv-1');
  await s.api.stop();
  const { logger } = startLabeller(t, s, { scale: 100 });
  // 30 simulated seconds at scale 100.
  await new Promise((r) => setTimeout(r, 300));
  t.true(logger.lines.some((l) => l.level === 'warn' && /failed to reach the API server .*ECONNREFUSED.*retrying in/.test(l.message)));
  const failures = logger.lines.filter((l) => /failed to reach/.test(l.message)).length;
  t.true(failures >= 2 && failures <= 8, `backoff, not a tight loop: ${failures} attempts in 30 s`);
  await s.api.start();
  await eventually('labelled after the outage', () => labelsOf(s.api)['riseproject.dev/board'] === 'scw-em-rv1');
});

test('5xx, resets and a server that stops mid-watch: retried until labels hold', async (t) => {
  const s = await setup(t);
  s.api.createNode('rv-1');
  s.api.failNext(2, 503);
  s.api.failNext(1, 'reset');
  startLabeller(t, s);
  await eventually('labelled through faults', () => labelsOf(s.api)['riseproject.dev/board'] === 'scw-em-rv1');
  t.deepEqual(s.api.log.slice(0, 3).map((r) => r.status), [503, 503, 0]);
  await s.api.stop();
  s.api.editLabels('rv-1', { 'riseproject.dev/board': null });
  await s.api.start();
  await eventually('repaired after reconnecting', () => labelsOf(s.api)['riseproject.dev/board'] === 'scw-em-rv1');
  t.is(s.api.counts.update, 0);
});

test('403: a clear message about NodeRestriction naming the labels, and retries', async (t) => {
  const s = await setup(t, { identity: 'system:node:rv-1' });
  s.api.createNode('rv-1');
  s.api.createNode('rv-2');
  const { logger, notifier } = startLabeller(t, s, { node: 'rv-2' });
  await eventually('several attempts', () => s.api.counts.get >= 3);
  const errors = logger.lines.filter((l) => l.level === 'error');
  t.true(errors.length >= 2);
  t.regex(errors[0]?.message ?? '', /failed to label node rv-2: forbidden: .*only its own Node object.*NodeRestriction.*riseproject\.dev\/board/);
  t.true(notifier.statuses.some((st) => /waiting for permission to label the Node \(403\)/.test(st)));
  t.deepEqual(labelsOf(s.api, 'rv-2')['riseproject.dev/board'], undefined);
});

test('node absent, then registered: labelled', async (t) => {
  const s = await setup(t);
  const { logger, notifier } = startLabeller(t, s);
  await eventually('waiting for registration', () => logger.lines.some((l) => /does not exist yet \(404\)/.test(l.message)));
  t.true(notifier.statuses.some((st) => /waiting for the Node to be registered/.test(st)));
  s.api.createNode('rv-1');
  await eventually('labelled once registered', () => labelsOf(s.api)['riseproject.dev/board'] === 'scw-em-rv1');
});

test('a rotated credential (401) makes it read the kubeconfig again', async (t) => {
  const s = await setup(t);
  s.api.createNode('rv-1');
  const { logger } = startLabeller(t, s);
  await eventually('labelled', () => labelsOf(s.api)['riseproject.dev/board'] === 'scw-em-rv1');
  s.api.removeToken('tok');
  s.api.addToken('tok2', 'system:node:rv-1');
  await writeFile(s.kubeconfig, s.api.kubeconfig('tok2'));
  s.api.editLabels('rv-1', { 'riseproject.dev/board': null });
  await eventually('repaired with the new credential', () => labelsOf(s.api)['riseproject.dev/board'] === 'scw-em-rv1');
  t.true(logger.lines.some((l) => /401.*reloading/.test(l.message)));
  t.true(s.api.log.some((r) => r.verb === 'unauthorized'));
});

test('steady state over a simulated hour: no writes, no reads besides the watch', async (t) => {
  const scale = 1000;
  const s = await setup(t, { scale });
  s.api.createNode('rv-1');
  // 30 simulated seconds would be 30 ms of real time here: a busy machine answering a watch that
  // slowly is not what this test is about, so the request timeout is 2 s of real time.
  startLabeller(t, s, { scale, rediscoverSeconds: 300, requestTimeoutMs: 2000 * scale });
  await eventually('labelled', () => labelsOf(s.api)['riseproject.dev/board'] === 'scw-em-rv1');
  s.api.resetCounts();
  // One simulated hour: 12 rediscoveries, watches of 600 s re-established about 6 times.
  await new Promise((r) => setTimeout(r, 3600));
  t.is(s.api.writes, 0);
  t.is(s.api.counts.get, 0);
  t.is(s.api.counts.list, 0);
  t.true(s.api.counts.watch >= 4 && s.api.counts.watch <= 8, `watches: ${s.api.counts.watch}`);
});

test('rediscovery picks up a changed board and rewrites the NFD file', async (t) => {
  const s = await setup(t);
  s.api.createNode('rv-1');
  const root = path.join(s.dir, 'root');
  const dt = path.join(root, 'sys/firmware/devicetree/base');
  const { mkdir } = await import('node:fs/promises');
  await mkdir(dt, { recursive: true });
  await writeFile(path.join(dt, 'compatible'), 'sophgo,mango\0');
  const nfd = path.join(s.dir, 'features.d', 'riscv-runner-node');
  startLabeller(t, s, { root, rediscoverSeconds: 10, nfd });
  await eventually('pioneer', () => labelsOf(s.api)['riseproject.dev/board'] === 'cloudv10x-pioneer');
  await writeFile(path.join(dt, 'compatible'), 'spacemit,k1-x\0');
  await eventually('jupiter', () => labelsOf(s.api)['riseproject.dev/board'] === 'cloudv10x-jupiter');
  const nfdSays = (): string => {
    try {
      return readFileSync(nfd, 'utf8');
    } catch {
      return '';
    }
  };
  await eventually('nfd file', () => nfdSays().includes('riseproject.dev/board=cloudv10x-jupiter'));
  t.notRegex(nfdSays(), /cloudv10x-pioneer/);
});

test('the node-labeller command: labels its node, then SIGTERM stops it with exit 0', async (t) => {
  const s = await setup(t, { scale: 1 });
  s.api.createNode('rv-1');
  const child = spawn(process.execPath, [
    path.resolve('dist/src/cli.js'), 'node-labeller', '--kubeconfig', s.kubeconfig, '--node-name', 'rv-1',
    '--root', path.join(roots, 'visionfive2'), '--config', path.resolve('test/fixtures/labeller/empty-config.yaml'),
  ], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NOTIFY_SOCKET: '' } });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.teardown(() => void child.kill('SIGKILL'));
  await eventually('labelled by the command', () => labelsOf(s.api)['riseproject.dev/uarch'] === 'sifive-u74-mc');
  child.kill('SIGTERM');
  t.is(await exited, 0, stderr);
  t.regex(stderr, /stopped/);
});
