// prom-client, set up once for either daemon: registries, cheap process metrics, the endpoint and the textfile.
import { renderRegistry } from './exposition.js';
import { DEFAULT_METRICS, Registry } from './prom-client.js';
import { parseListen, type MetricsConfig } from './config.js';
import { describeError, type Logger } from './logger.js';
import { describeListen, MetricsEndpoint, type EndpointHealth } from './metrics-endpoint.js';
import type { LoadedMetrics } from './late-metrics.js';
import { TextfileWriter } from './textfile.js';

/**
 * Gauges that prom-client names like counters, which `promtool check metrics` rejects; the
 * same counts by type (nodejs_active_handles{type}, …) stay.
 */
const GAUGES_NAMED_TOTAL = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/**
 * prom-client's process and Node.js metrics under the daemon's prefix. The event-loop lag is not
 * among them: it comes from a libuv timer that fires every few milliseconds, and an idle daemon
 * would wake hundreds of times a second for it. Everything here is read at scrape time or from
 * GC events.
 */
export function processRegistry(prefix: string): Registry {
  const registry = new Registry();
  for (const add of DEFAULT_METRICS) add(registry, { prefix });
  for (const name of GAUGES_NAMED_TOTAL) registry.removeSingleMetric(`${prefix}${name}`);
  return registry;
}

export interface MetricsOutputs {
  /** A value of the daemon's registry changed: the textfile is rewritten if its text did. */
  changed(): void;
  /** The trouble of the endpoint or textfile, for STATUS; onChange returns the unsubscribe function. */
  note: { text(): string | undefined; onChange(listener: () => void): () => void };
  /** The endpoint's address once listening (a TCP port 0 is resolved). */
  listening: string | undefined;
  /** Writes the last values, stops listening. */
  close(): Promise<void>;
}

export interface MetricsOutputsOptions {
  config: MetricsConfig;
  /** The daemon's own metrics: served and written to the textfile. */
  daemon: Registry;
  /** Process metrics: served only, as they change on every read and would force periodic writes. */
  process: Registry;
  health: () => EndpointHealth;
  logger: Logger;
}

/**
 * Starts what the config asks for. A failure to listen is logged and kept for STATUS, never
 * thrown: the board keeps serving devices or labels without its metrics.
 */
export async function startMetricsOutputs(options: MetricsOutputsOptions): Promise<MetricsOutputs> {
  const { config, daemon, logger } = options;
  const listeners = new Set<() => void>();
  let listenProblem: string | undefined;
  const notify = (): void => {
    for (const listener of [...listeners]) listener();
  };
  // The daemon's own series change only through its recorder, which reports every change (the
  // textfile depends on that too): their text is rendered once per change and shared by the
  // scrapes and the textfile until the next one. The process metrics are read at every scrape.
  let daemonText: Promise<string> | undefined;
  const daemonMetrics = (): Promise<string> =>
    (daemonText ??= renderRegistry(daemon).catch((err: unknown) => {
      daemonText = undefined;
      throw err;
    }));
  const textfile =
    config.textfile === undefined ? undefined : new TextfileWriter({ file: config.textfile, render: daemonMetrics, logger, onProblem: notify });
  let endpoint: MetricsEndpoint | undefined;
  const address = config.listen === undefined ? undefined : parseListen(config.listen);
  if (address !== undefined) {
    try {
      endpoint = await MetricsEndpoint.start({
        address,
        contentType: daemon.contentType,
        scrape: async () => `${await daemonMetrics()}\n${await renderRegistry(options.process)}`,
        health: options.health,
      });
      logger.info(`metrics: serving /metrics and /healthz on ${describeListen(endpoint.address)}`);
    } catch (err) {
      listenProblem = `metrics: ${describeError(err)}`;
      logger.error(`${listenProblem}; devices and labels are served as before, without this endpoint`);
    }
  }
  if (textfile) {
    logger.info(`metrics: writing ${config.textfile} when a value changes`);
    textfile.changed();
  }
  return {
    changed: () => {
      daemonText = undefined;
      textfile?.changed();
    },
    note: {
      text: () => {
        const problems = [listenProblem, textfile?.problem].filter((p): p is string => p !== undefined);
        return problems.length > 0 ? problems.join('; ') : undefined;
      },
      onChange: (listener) => {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    },
    listening: endpoint ? describeListen(endpoint.address) : undefined,
    close: async () => {
      await textfile?.flush();
      await endpoint?.close();
    },
  };
}

/**
 * A daemon's metrics ready for LateMetrics: its recorder over its own registry (made with the
 * function that tells the textfile of a change), then the outputs the config asks for.
 */
export function loadMetrics<R>(
  prefix: string,
  make: (changed: () => void) => { registry: Registry; recorder: R },
  config: MetricsConfig,
  health: () => EndpointHealth,
  logger: Logger,
): LoadedMetrics<R> {
  let outputs: MetricsOutputs | undefined;
  const { registry, recorder } = make(() => outputs?.changed());
  return {
    recorder,
    begin: async () => {
      outputs = await startMetricsOutputs({ config, daemon: registry, process: processRegistry(prefix), health, logger });
      return outputs;
    },
  };
}
