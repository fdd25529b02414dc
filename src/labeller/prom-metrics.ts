// The node labeller's metrics in prom-client objects: the recorder the labeller reports to.
import { Counter, Gauge, Registry } from '../common/prom-client.js';
import type { MetricsConfig } from '../common/config.js';
import type { LoadedMetrics } from '../common/late-metrics.js';
import type { Logger } from '../common/logger.js';
import type { EndpointHealth } from '../common/metrics-endpoint.js';
import { loadMetrics } from '../common/prom.js';
import type { LabellerMetrics } from './metrics.js';

export const LABELLER_PREFIX = 'rise_node_labeller_';

export interface PromLabellerMetrics {
  registry: Registry;
  recorder: LabellerMetrics;
}

/** Creates the metrics on a registry of their own; `changed` hears of every value that changed. */
export function promLabellerMetrics(changed: () => void): PromLabellerMetrics {
  const registers = [new Registry()];
  const p = LABELLER_PREFIX;
  const patches = new Counter({ name: `${p}patches_total`, help: 'Label patches written to the Node.', registers });
  const repairs = new Counter({ name: `${p}drift_repairs_total`, help: 'Patches that put back an owned label someone changed or deleted.', registers });
  const apiErrors = new Counter({ name: `${p}api_errors_total`, help: 'Failed API calls, by HTTP status code, or "network" when no answer came.', labelNames: ['code'], registers });
  const watchRestarts = new Counter({ name: `${p}watch_restarts_total`, help: 'Watches of the Node started again after one ended (server timeout, error).', registers });
  const owned = new Gauge({ name: `${p}owned_labels`, help: 'Labels the Node records as owned by the labeller.', registers });
  const lastSync = new Gauge({ name: `${p}last_sync_timestamp_seconds`, help: 'Unix time the Node was last found carrying every desired label.', registers });
  const inSync = new Gauge({ name: `${p}in_sync`, help: '1 while the Node carries every desired label, else 0.', registers });
  inSync.set(0);
  owned.set(0);

  let lastInSync = 0;
  let lastOwned = 0;
  let lastSeconds = 0;
  const recorder: LabellerMetrics = {
    patched: (repair) => {
      patches.inc();
      if (repair) repairs.inc();
      changed();
    },
    apiError: (status) => {
      apiErrors.inc({ code: status === undefined ? 'network' : String(status) });
      changed();
    },
    watchRestart: () => {
      watchRestarts.inc();
      changed();
    },
    synced: (count, atMs) => {
      // Whole seconds: the textfile changes at most once a second for a Node that keeps changing.
      const seconds = Math.floor(atMs / 1000);
      if (lastInSync === 1 && lastOwned === count && lastSeconds === seconds) return;
      lastInSync = 1;
      lastOwned = count;
      lastSeconds = seconds;
      inSync.set(1);
      owned.set(count);
      lastSync.set(seconds);
      changed();
    },
    unsynced: () => {
      if (lastInSync === 0) return;
      lastInSync = 0;
      inSync.set(0);
      changed();
    },
  };
  return { registry: registers[0] as Registry, recorder };
}

/** The recorder, endpoint and textfile, for LateMetrics to start. */
export function loadLabellerMetrics(config: MetricsConfig, health: () => EndpointHealth, logger: Logger): LoadedMetrics<LabellerMetrics> {
  return loadMetrics(LABELLER_PREFIX, promLabellerMetrics, config, health, logger);
}
