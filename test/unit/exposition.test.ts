// renderRegistry writes what prom-client's Registry.metrics() writes, byte for byte, for every
// registry the daemons serve and for the corners of the text format.
import test from 'ava';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { renderRegistry } from '../../src/common/exposition.js';
import { processRegistry } from '../../src/common/prom.js';
import { HEALTHY, UNHEALTHY } from '../../src/deviceplugin/proto.js';
import { promDevicePluginMetrics } from '../../src/deviceplugin/prom-metrics.js';
import { promLabellerMetrics } from '../../src/labeller/prom-metrics.js';

interface Collectable {
  name: string;
  get(): Promise<unknown>;
  getForPromString?: () => Promise<unknown>;
}

/**
 * The process metrics change between two reads, so each is read once and served from a copy
 * (a fresh one per read: prom-client's histogram get() rewrites what it returns).
 */
async function frozen(registry: Registry): Promise<Registry> {
  const copy = new Registry();
  for (const metric of registry.getMetricsAsArray() as unknown as Collectable[]) {
    const plain = structuredClone(await metric.get());
    const forText = metric.getForPromString ? structuredClone(await metric.getForPromString()) : undefined;
    const stand: Collectable = { name: metric.name, get: () => Promise.resolve(structuredClone(plain)) };
    if (forText !== undefined) stand.getForPromString = () => Promise.resolve(structuredClone(forText));
    copy.registerMetric(stand as never);
  }
  return copy;
}

function devicePlugin(): Registry {
  const { registry, recorder } = promDevicePluginMetrics(() => undefined);
  recorder.registration('riseproject.com/runner', 'ok', 0.012);
  recorder.registration('riseproject.com/runner', 'ok', 3.5);
  recorder.registration('smarter-devices/fuse', 'refused');
  recorder.registration('smarter-devices/fuse', 'ok', 0.2);
  recorder.registered('riseproject.com/runner', true);
  recorder.registered('smarter-devices/fuse', false);
  recorder.kubeletRestart();
  recorder.devices('riseproject.com/runner', [{ ID: 'runner-0', health: HEALTHY }]);
  recorder.devices('smarter-devices/fuse', [
    { ID: 'fuse-0', health: HEALTHY },
    { ID: 'fuse-1', health: UNHEALTHY },
  ]);
  recorder.allocation('riseproject.com/runner', false);
  recorder.allocation('riseproject.com/runner', true);
  recorder.configReload(true);
  recorder.configReload(false);
  recorder.maintenance(true);
  return registry;
}

function labeller(): Registry {
  const { registry, recorder } = promLabellerMetrics(() => undefined);
  recorder.patched(false);
  recorder.patched(true);
  recorder.apiError(403);
  recorder.apiError(undefined);
  recorder.watchRestart();
  recorder.synced(4, 1_765_000_000_123);
  return registry;
}

/** What the format must get right: escapes in help and label values, odd values, empty families. */
function corners(): Registry {
  const registers = [new Registry()];
  const g = new Gauge({ name: 'x_gauge', help: 'back\\slash and\nnew line', labelNames: ['a', 'b'], registers });
  g.set({ a: 'quote " here', b: 'back\\slash' }, 1);
  g.set({ a: 'new\nline', b: '' }, Number.NaN);
  g.set({ a: 'plain', b: 'ünïcode' }, Number.POSITIVE_INFINITY);
  g.set({ a: 'minus', b: 'inf' }, Number.NEGATIVE_INFINITY);
  g.set({ a: 'tiny', b: 'e' }, 1e-7);
  g.set({ a: 'big', b: 'e' }, 2 ** 53 + 2);
  new Gauge({ name: 'x_unlabelled', help: 'one series', registers }).set(-0.5);
  new Counter({ name: 'x_never_total', help: 'a labelled family with no series yet', labelNames: ['code'], registers });
  const h = new Histogram({ name: 'x_seconds', help: 'two label sets', labelNames: ['r'], buckets: [0.1, 1], registers });
  h.observe({ r: 'a"b' }, 0.05);
  h.observe({ r: 'c' }, 5);
  new Histogram({ name: 'x_unlabelled_seconds', help: 'no labels', buckets: [1], registers }).observe(0.5);
  // A collector's series whose labels repeat a shared one: the shared value is written, once.
  const overlap = {
    name: 'x_overlap',
    get: () => Promise.resolve({ name: 'x_overlap', help: 'own and shared labels', type: 'gauge', values: [{ labels: { a: 'own', b: '1' }, sharedLabels: { a: 'shared' }, value: 1 }] }),
  };
  (registers[0] as Registry).registerMetric(overlap as never);
  return registers[0] as Registry;
}

const cases: [string, () => Registry | Promise<Registry>][] = [
  ["the process metrics, read once (prom-client's defaults, GC histogram included)", () => frozen(processRegistry('rise_device_plugin_'))],
  ["the device plugin's metrics after registrations, restarts, devices, allocations and reloads", devicePlugin],
  ["the labeller's metrics after patches, errors and a sync", labeller],
  ['escapes, NaN and infinities, a family with no series, histograms with and without labels, repeated shared labels', corners],
  ['an empty registry', () => new Registry()],
];

for (const [title, make] of cases) {
  test(`renders as Registry.metrics() does: ${title}`, async (t) => {
    const registry = await make();
    const expected = await registry.metrics();
    t.is(await renderRegistry(registry), expected);
    // The check can fail: the registry's text has series to get wrong where it has any.
    if (registry.getMetricsAsArray().length > 0) t.regex(expected, /^[a-z_]+(\{.*\})? \S+$/m);
  });
}
