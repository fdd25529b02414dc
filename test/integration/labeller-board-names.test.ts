// Switching labeller.boardNames on a running cluster, against the API server stand-in: one patch, owned keys only.
import test, { type ExecutionContext } from 'ava';
import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import { defaultConfig, type BoardNames } from '../../src/common/config.js';
import { memoryLogger } from '../../src/common/logger.js';
import { clientNodeApi } from '../../src/labeller/client-node-api.js';
import { NodeLabeller } from '../../src/labeller/labeller.js';
import { OWNED_ANNOTATION } from '../../src/labeller/reconcile.js';
import { FakeApiServer } from '../fakes/apiserver.js';
import { scaledClock } from '../fakes/labeller-clock.js';
import { RecordingNotifier } from '../helpers/recording-notifier.js';
import { tempDir } from '../helpers/tmp.js';

const roots = path.resolve('test/fixtures/roots');

async function eventually(what: string, check: () => boolean, limitMs = 15_000): Promise<void> {
  const until = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Runs the labeller until stop() is called, as one start of the service. */
function start(kubeconfig: string, boardNames: BoardNames, root: string) {
  const clock = scaledClock(100);
  const controller = new AbortController();
  const labeller = new NodeLabeller({
    nodeName: 'rv-1',
    root,
    config: { ...defaultConfig().labeller, boardNames },
    api: clientNodeApi({ kubeconfigFile: kubeconfig, clock, requestTimeoutMs: 30_000 }),
    clock,
    logger: memoryLogger(),
    notifier: new RecordingNotifier(),
    signal: controller.signal,
    backoff: { initialMs: 1000, maxMs: 30_000 },
    watchTimeoutSeconds: () => 600,
  });
  const done = labeller.run();
  return async (): Promise<void> => {
    controller.abort();
    await done;
  };
}

async function setup(t: ExecutionContext): Promise<{ api: FakeApiServer; kubeconfig: string }> {
  const api = new FakeApiServer({ tokens: { tok: 'system:node:rv-1' }, watchTimeoutMs: (s) => s * 10 });
  await api.start(0);
  t.teardown(() => api.stop());
  const kubeconfig = path.join(await tempDir(t, 'rrn-bn-'), 'kubeconfig');
  await writeFile(kubeconfig, api.kubeconfig('tok'));
  return { api, kubeconfig };
}

// Set by hand on the fleet, and by other tools: never the labeller's to change.
const foreign = { 'riseproject.dev/provider': 'scaleway', 'riseproject.dev/pool': 'spacemit-k1', 'team/owner': 'ci' };

for (const [board, root, original, fleet] of [
  ['SpacemiT K1', 'jupiter', 'cloudv10x-jupiter', 'spacemit-k1'],
  ['Scaleway EM-RV1', 'scw-em-rv1', 'scw-em-rv1', 'scaleway-em-rv1'],
] as const) {
  test(`${board}: original, then fleet after a restart: the board value replaced in one patch, nothing else touched`, async (t) => {
    const { api, kubeconfig } = await setup(t);
    api.createNode('rv-1', { ...foreign });
    const labelsOf = (): Record<string, string> => api.nodes.get('rv-1')?.metadata.labels ?? {};

    const stop1 = start(kubeconfig, 'original', path.join(roots, root));
    await eventually('original board', () => labelsOf()['riseproject.dev/board'] === original);
    await stop1();
    const before = { labels: { ...labelsOf() }, annotations: { ...api.nodes.get('rv-1')?.metadata.annotations } };
    t.like(before.labels, foreign);
    const patches = api.log.filter((r) => r.verb === 'patch').length;

    const stop2 = start(kubeconfig, 'fleet', path.join(roots, root));
    t.teardown(stop2);
    await eventually('fleet board', () => labelsOf()['riseproject.dev/board'] === fleet);
    // Let the watch settle: a second write would show up here.
    await new Promise((r) => setTimeout(r, 300));
    const written = api.log.filter((r) => r.verb === 'patch').slice(patches);
    t.is(written.length, 1);
    t.deepEqual(JSON.parse(written[0]?.body ?? '{}'), { metadata: { labels: { 'riseproject.dev/board': fleet } } });
    t.deepEqual(labelsOf(), { ...before.labels, 'riseproject.dev/board': fleet });
    t.deepEqual(api.nodes.get('rv-1')?.metadata.annotations, before.annotations);
    t.false(before.annotations[OWNED_ANNOTATION]?.split(',').includes('riseproject.dev/provider'));
  });
}

test('riseproject.dev/provider and other labels the labeller does not own survive every change it makes', async (t) => {
  const { api, kubeconfig } = await setup(t);
  // Even a value that disagrees with discovery, and a key the labeller would own were it discovered.
  api.createNode('rv-1', { ...foreign, 'riseproject.dev/uarch': 'by-hand', 'riseproject.dev/isa.zzz': 'true' });
  const labelsOf = (): Record<string, string> => api.nodes.get('rv-1')?.metadata.labels ?? {};
  const stop = start(kubeconfig, 'fleet', path.join(roots, 'milkv-pioneer'));
  t.teardown(stop);
  await eventually('labelled', () => labelsOf()['riseproject.dev/harts'] === '64');
  // Someone edits the foreign labels while it runs; it watches the Node and must not react.
  api.editLabels('rv-1', { 'riseproject.dev/provider': 'ovh', 'riseproject.dev/pool': null });
  api.editLabels('rv-1', { 'riseproject.dev/harts': '1' });
  await eventually('owned label repaired', () => labelsOf()['riseproject.dev/harts'] === '64');
  const labels = labelsOf();
  t.is(labels['riseproject.dev/provider'], 'ovh');
  t.false('riseproject.dev/pool' in labels);
  t.is(labels['team/owner'], 'ci');
  t.is(labels['riseproject.dev/uarch'], 'by-hand');
  t.is(labels['riseproject.dev/isa.zzz'], 'true');
  t.false('riseproject.dev/board' in labels, 'the fleet does not know a Pioneer');
  for (const r of api.log.filter((x) => x.verb === 'patch')) {
    const keys = Object.keys((JSON.parse(r.body ?? '{}') as { metadata: { labels?: Record<string, unknown> } }).metadata.labels ?? {});
    t.deepEqual(keys.filter((k) => k in foreign || k === 'riseproject.dev/uarch' || k === 'riseproject.dev/isa.zzz'), [], r.body);
  }
});
