// The device plugin's metrics in prom-client objects: the recorder the manager, handlers and daemon report to.
import { Counter, Gauge, Histogram, Registry } from '../common/prom-client.js';
import type { MetricsConfig } from '../common/config.js';
import type { LoadedMetrics } from '../common/late-metrics.js';
import type { Logger } from '../common/logger.js';
import type { EndpointHealth } from '../common/metrics-endpoint.js';
import { loadMetrics } from '../common/prom.js';
import type { DevicePluginMetrics } from './metrics.js';

export const DEVICE_PLUGIN_PREFIX = 'rise_device_plugin_';

/** Registration latency: milliseconds after a kubelet restart, up to the backoff's 10 s steps. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export interface PromDevicePluginMetrics {
  registry: Registry;
  recorder: DevicePluginMetrics;
}

/**
 * Creates the metrics on a registry of their own; `changed` hears of every value that changed
 * (the textfile), and of nothing that was set to what it already was.
 */
export function promDevicePluginMetrics(changed: () => void): PromDevicePluginMetrics {
  const registers = [new Registry()];
  const p = DEVICE_PLUGIN_PREFIX;
  const registrations = new Counter({
    name: `${p}registrations_total`,
    help: 'Register calls to the kubelet, by resource and result: ok, refused (the kubelet answered with an error), error (no answer).',
    labelNames: ['resource', 'result'],
    registers,
  });
  const kubeletRestarts = new Counter({ name: `${p}kubelet_restarts_total`, help: 'Kubelet restarts seen (kubelet.sock recreated).', registers });
  const latency = new Histogram({
    name: `${p}registration_latency_seconds`,
    help: "Time from the resource's server start, or a kubelet restart seen, to the kubelet accepting its registration.",
    labelNames: ['resource'],
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const registered = new Gauge({ name: `${p}registered`, help: '1 while the resource is registered with the kubelet, else 0.', labelNames: ['resource'], registers });
  const devices = new Gauge({ name: `${p}devices`, help: 'Devices the resource advertises, by health.', labelNames: ['resource', 'health'], registers });
  const allocations = new Counter({ name: `${p}allocations_total`, help: 'Allocate calls, answered or refused.', labelNames: ['resource'], registers });
  const refused = new Counter({ name: `${p}allocations_refused_total`, help: 'Allocate calls refused (unknown device IDs, too many for the resource).', labelNames: ['resource'], registers });
  const reloads = new Counter({ name: `${p}config_reloads_total`, help: 'Config reloads (SIGHUP or file change), by result.', labelNames: ['result'], registers });
  const maintenance = new Gauge({ name: `${p}maintenance`, help: '1 while the maintenance flag file is present, else 0.', registers });
  // Counters with a fixed label set start at 0, so rate() and increase() see the first event.
  reloads.inc({ result: 'success' }, 0);
  reloads.inc({ result: 'failure' }, 0);

  const last = new Map<string, number>();
  /** Sets a gauge series; true when its value changed. */
  const set = (gauge: Gauge, key: string, labels: Record<string, string>, value: number): boolean => {
    if (last.get(key) === value) return false;
    last.set(key, value);
    gauge.set(labels, value);
    return true;
  };
  const known = new Set<string>();
  /** A resource's counters appear at 0 the first time it is seen. */
  const seen = (resource: string): void => {
    if (known.has(resource)) return;
    known.add(resource);
    for (const result of ['ok', 'refused', 'error']) registrations.inc({ resource, result }, 0);
    allocations.inc({ resource }, 0);
    refused.inc({ resource }, 0);
  };

  const recorder: DevicePluginMetrics = {
    registration: (resource, result, latencySeconds) => {
      seen(resource);
      registrations.inc({ resource, result });
      if (result === 'ok' && latencySeconds !== undefined) latency.observe({ resource }, latencySeconds);
      changed();
    },
    registered: (resource, ok) => {
      seen(resource);
      if (set(registered, `registered\0${resource}`, { resource }, ok ? 1 : 0)) changed();
    },
    kubeletRestart: () => {
      kubeletRestarts.inc();
      changed();
    },
    devices: (resource, list) => {
      seen(resource);
      const healthy = list.filter((d) => d.health === 'Healthy').length;
      const a = set(devices, `devices\0${resource}\0healthy`, { resource, health: 'healthy' }, healthy);
      const b = set(devices, `devices\0${resource}\0unhealthy`, { resource, health: 'unhealthy' }, list.length - healthy);
      if (a || b) changed();
    },
    allocation: (resource, wasRefused) => {
      seen(resource);
      allocations.inc({ resource });
      if (wasRefused) refused.inc({ resource });
      changed();
    },
    configReload: (ok) => {
      reloads.inc({ result: ok ? 'success' : 'failure' });
      changed();
    },
    maintenance: (present) => {
      if (set(maintenance, 'maintenance', {}, present ? 1 : 0)) changed();
    },
    resourceGone: (resource) => {
      known.delete(resource);
      for (const key of [...last.keys()]) if (key.split('\0')[1] === resource) last.delete(key);
      // remove() wants every label value: each series this recorder made, one by one.
      for (const result of ['ok', 'refused', 'error']) registrations.remove({ resource, result });
      for (const health of ['healthy', 'unhealthy']) devices.remove({ resource, health });
      for (const metric of [latency, registered, allocations, refused]) metric.remove({ resource });
      changed();
    },
  };
  return { registry: registers[0] as Registry, recorder };
}

/** The recorder, endpoint and textfile, for LateMetrics to start. */
export function loadDevicePluginMetrics(config: MetricsConfig, health: () => EndpointHealth, logger: Logger): LoadedMetrics<DevicePluginMetrics> {
  return loadMetrics(DEVICE_PLUGIN_PREFIX, promDevicePluginMetrics, config, health, logger);
}
