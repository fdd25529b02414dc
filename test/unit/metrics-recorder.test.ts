// Recorder events → Prometheus exposition: each daemon's metric names, labels and values, and the late start.
import test from 'ava';
import { LateMetrics } from '../../src/common/late-metrics.js';
import { memoryLogger } from '../../src/common/logger.js';
import { noDevicePluginMetrics, type DevicePluginMetrics, type RegistrationResult } from '../../src/deviceplugin/metrics.js';
import { promDevicePluginMetrics } from '../../src/deviceplugin/prom-metrics.js';
import { registrationResult } from '../../src/deviceplugin/manager.js';
import { promLabellerMetrics } from '../../src/labeller/prom-metrics.js';
import { parseExposition } from '../helpers/exposition.js';

const RUNNER = 'riseproject.com/runner';

test('device plugin: every event shows under its documented name and labels', async (t) => {
  let changes = 0;
  const { registry, recorder } = promDevicePluginMetrics(() => (changes += 1));
  recorder.devices(RUNNER, [{ ID: 'runner-0', health: 'Healthy' }, { ID: 'runner-1', health: 'Unhealthy' }]);
  recorder.registered(RUNNER, false);
  recorder.registration(RUNNER, 'refused');
  recorder.registration(RUNNER, 'error');
  recorder.registration(RUNNER, 'ok', 0.012);
  recorder.registered(RUNNER, true);
  recorder.kubeletRestart();
  recorder.allocation(RUNNER, false);
  recorder.allocation(RUNNER, true);
  recorder.configReload(true);
  recorder.configReload(false);
  recorder.configReload(false);
  recorder.maintenance(true);
  const m = parseExposition(await registry.metrics());
  const table: Array<[string, Record<string, string>, number]> = [
    ['rise_device_plugin_registrations_total', { resource: RUNNER, result: 'ok' }, 1],
    ['rise_device_plugin_registrations_total', { resource: RUNNER, result: 'refused' }, 1],
    ['rise_device_plugin_registrations_total', { resource: RUNNER, result: 'error' }, 1],
    ['rise_device_plugin_kubelet_restarts_total', {}, 1],
    ['rise_device_plugin_registration_latency_seconds_count', { resource: RUNNER }, 1],
    ['rise_device_plugin_registration_latency_seconds_sum', { resource: RUNNER }, 0.012],
    ['rise_device_plugin_registration_latency_seconds_bucket', { resource: RUNNER, le: '0.025' }, 1],
    ['rise_device_plugin_registration_latency_seconds_bucket', { resource: RUNNER, le: '0.01' }, 0],
    ['rise_device_plugin_registered', { resource: RUNNER }, 1],
    ['rise_device_plugin_devices', { resource: RUNNER, health: 'healthy' }, 1],
    ['rise_device_plugin_devices', { resource: RUNNER, health: 'unhealthy' }, 1],
    ['rise_device_plugin_allocations_total', { resource: RUNNER }, 2],
    ['rise_device_plugin_allocations_refused_total', { resource: RUNNER }, 1],
    ['rise_device_plugin_config_reloads_total', { result: 'success' }, 1],
    ['rise_device_plugin_config_reloads_total', { result: 'failure' }, 2],
    ['rise_device_plugin_maintenance', {}, 1],
  ];
  for (const [name, labels, value] of table) t.is(m.value(name, labels), value, `${name}${JSON.stringify(labels)}`);
  t.deepEqual(m.types.get('rise_device_plugin_registration_latency_seconds'), 'histogram');
  t.deepEqual(m.types.get('rise_device_plugin_registered'), 'gauge');
  t.deepEqual(m.types.get('rise_device_plugin_registrations_total'), 'counter');
  t.true(changes > 0);
});

test('device plugin: a value set to what it was is no change, so the textfile is not rewritten', (t) => {
  let changes = 0;
  const { recorder } = promDevicePluginMetrics(() => (changes += 1));
  recorder.maintenance(false);
  recorder.registered(RUNNER, true);
  recorder.devices(RUNNER, [{ ID: 'runner-0', health: 'Healthy' }]);
  const before = changes;
  recorder.maintenance(false);
  recorder.registered(RUNNER, true);
  recorder.devices(RUNNER, [{ ID: 'runner-0', health: 'Healthy' }]);
  t.is(changes, before);
  recorder.devices(RUNNER, [{ ID: 'runner-0', health: 'Unhealthy' }]);
  t.is(changes, before + 1);
});

test('device plugin: counters of a resource start at 0, and a removed resource loses its series', async (t) => {
  const { registry, recorder } = promDevicePluginMetrics(() => undefined);
  recorder.registered('example.com/widget', false);
  let m = parseExposition(await registry.metrics());
  t.is(m.value('rise_device_plugin_allocations_total', { resource: 'example.com/widget' }), 0);
  t.is(m.value('rise_device_plugin_registrations_total', { resource: 'example.com/widget', result: 'ok' }), 0);
  t.is(m.value('rise_device_plugin_config_reloads_total', { result: 'failure' }), 0);
  recorder.registered(RUNNER, true);
  recorder.resourceGone('example.com/widget');
  m = parseExposition(await registry.metrics());
  t.false(m.samples.some((s) => s.labels['resource'] === 'example.com/widget'));
  t.is(m.value('rise_device_plugin_registered', { resource: RUNNER }), 1);
});

const codes: Array<[string, unknown, RegistrationResult]> = [
  ['the kubelet answered with an error', { code: 2 }, 'refused'],
  ['invalid argument', { code: 3 }, 'refused'],
  ['unavailable', { code: 14 }, 'error'],
  ['deadline exceeded', { code: 4 }, 'error'],
  ['no gRPC status at all', new Error('boom'), 'error'],
];
for (const [name, err, expected] of codes) {
  test(`registration result: ${name} is ${expected}`, (t) => {
    t.is(registrationResult(err), expected);
  });
}

test('labeller: patches, repairs, API errors by code, watch restarts and sync state', async (t) => {
  const { registry, recorder } = promLabellerMetrics(() => undefined);
  let m = parseExposition(await registry.metrics());
  t.is(m.value('rise_node_labeller_in_sync', {}), 0);
  t.is(m.value('rise_node_labeller_last_sync_timestamp_seconds', {}), 0);
  recorder.patched(false);
  recorder.patched(true);
  recorder.apiError(403);
  recorder.apiError(403);
  recorder.apiError(undefined);
  recorder.watchRestart();
  recorder.synced(5, 1_700_000_000_750);
  m = parseExposition(await registry.metrics());
  const table: Array<[string, Record<string, string>, number]> = [
    ['rise_node_labeller_patches_total', {}, 2],
    ['rise_node_labeller_drift_repairs_total', {}, 1],
    ['rise_node_labeller_api_errors_total', { code: '403' }, 2],
    ['rise_node_labeller_api_errors_total', { code: 'network' }, 1],
    ['rise_node_labeller_watch_restarts_total', {}, 1],
    ['rise_node_labeller_owned_labels', {}, 5],
    ['rise_node_labeller_last_sync_timestamp_seconds', {}, 1_700_000_000],
    ['rise_node_labeller_in_sync', {}, 1],
  ];
  for (const [name, labels, value] of table) t.is(m.value(name, labels), value, `${name}${JSON.stringify(labels)}`);
  recorder.unsynced();
  t.is(parseExposition(await registry.metrics()).value('rise_node_labeller_in_sync', {}), 0);
});

test('labeller: a sync within the same second and label count is no change', (t) => {
  let changes = 0;
  const { recorder } = promLabellerMetrics(() => (changes += 1));
  recorder.synced(3, 10_000);
  recorder.synced(3, 10_900);
  t.is(changes, 1);
  recorder.synced(3, 11_000);
  recorder.unsynced();
  recorder.unsynced();
  t.is(changes, 3);
});

test('late metrics: events before the start are replayed once, in order, then go straight through', async (t) => {
  const calls: string[] = [];
  const real: DevicePluginMetrics = {
    ...noDevicePluginMetrics,
    registered: (resource, ok) => calls.push(`registered ${resource} ${ok}`),
    allocation: (resource, refused) => calls.push(`allocation ${resource} ${refused}`),
  };
  let began = 0;
  const late = new LateMetrics(noDevicePluginMetrics, async () => ({
    recorder: real,
    begin: async () => {
      began += 1;
      t.deepEqual(calls, ['registered a true', 'allocation a false'], 'replayed before the outputs start');
      return { note: { text: () => undefined, onChange: () => () => undefined }, close: async () => undefined };
    },
  }), memoryLogger());
  late.recorder.registered('a', true);
  late.recorder.allocation('a', false);
  t.deepEqual(calls, []);
  await Promise.all([late.start(), late.start()]);
  late.recorder.registered('a', false);
  t.deepEqual(calls, ['registered a true', 'allocation a false', 'registered a false']);
  t.is(began, 1);
  await late.close();
});

test('late metrics: a failed load is logged and the daemon carries on without metrics', async (t) => {
  const logger = memoryLogger();
  const late = new LateMetrics(noDevicePluginMetrics, () => Promise.reject(new Error('cannot find module prom-client')), logger);
  late.recorder.kubeletRestart();
  await late.start();
  late.recorder.kubeletRestart();
  t.true(logger.lines.some((l) => l.level === 'error' && l.message.includes('metrics: failed to start: cannot find module prom-client')));
  await late.close();
});
