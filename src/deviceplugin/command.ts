// `riscv-runner-node device-plugin`: resolves settings (flag > env > config > default) and runs the plugin.
import path from 'node:path';
import { deviceCountProblem, socketNameProblem, type Config, type DevicePluginConfig } from '../common/config.js';
import { loggerFor, notifierFor, startWatchdog } from '../common/daemon.js';
import { ConfigError, EXIT_CONFIG } from '../common/errors.js';
import { LateMetrics } from '../common/late-metrics.js';
import { extendedResourceNameProblem } from '../common/labels.js';
import { isLogLevel, type Logger } from '../common/logger.js';
import type { Runtime } from '../common/runtime.js';
import { configFromFlag, nodeNameFrom, pick } from '../common/settings.js';
import { DEFAULT_DEV_RESCAN_MS, DEFAULT_RECHECK_MS, startDevicePlugin, type DevicePluginSettings, type RunningDevicePlugin } from './daemon.js';
import { noDevicePluginMetrics, type DevicePluginMetrics } from './metrics.js';
import { MAX_SOCKET_PATH } from './sources/index.js';

export interface DevicePluginArgs {
  config: string | undefined;
  logLevel: string | undefined;
  devicePluginDir: string;
  resourceName: string | undefined;
  deviceCount: number | undefined;
  socketName: string | undefined;
  maintenanceFile: string | undefined;
  /** Filesystem root /dev is read from; answers keep the real paths. */
  root?: string;
  /** Where /dev is listed, when not <root>/dev. */
  devDir?: string | undefined;
  /** The routing table PCI pools read the default route from, when not <root>/proc/net/route. */
  routeFile?: string | undefined;
  nodeName?: string | undefined;
}

/** The flags that override the runner section of the config, checked as the config file is. */
function flagProblems(args: DevicePluginArgs): string[] {
  const problems: string[] = [];
  const flag = (name: string, value: unknown, problem: string): void => {
    problems.push(`--${name} ${typeof value === 'string' ? `'${value}'` : String(value)} ${problem}`);
  };
  if (args.resourceName !== undefined) {
    const p = extendedResourceNameProblem(args.resourceName);
    if (p) flag('resource-name', args.resourceName, `is not a valid extended resource name: ${p}`);
  }
  if (args.deviceCount !== undefined) {
    const p = deviceCountProblem(args.deviceCount);
    if (p) flag('device-count', args.deviceCount, p);
  }
  if (args.socketName !== undefined) {
    const p = socketNameProblem(args.socketName);
    if (p) flag('socket-name', args.socketName, p);
  }
  if (args.maintenanceFile !== undefined && !args.maintenanceFile.startsWith('/')) {
    flag('maintenance-file', args.maintenanceFile, 'must be an absolute path');
  }
  if (args.logLevel !== undefined && !isLogLevel(args.logLevel)) {
    flag('log-level', args.logLevel, 'is not one of error, warn, info, debug');
  }
  return problems;
}

/** The plugin's section of a config with the flags laid over it; reload lays them over again. */
function withFlags(config: Config, args: DevicePluginArgs): DevicePluginConfig {
  const dp = config.deviceplugin;
  return {
    ...dp,
    resourceName: pick(args.resourceName, dp.resourceName),
    deviceCount: pick(args.deviceCount, dp.deviceCount),
    socketName: pick(args.socketName, dp.socketName),
    maintenanceFile: pick(args.maintenanceFile, dp.maintenanceFile),
    handedToDra: config.dra.resources,
  };
}

/** Validates flags the way the config file is validated; every problem names its flag. */
export async function resolveDevicePluginSettings(
  args: DevicePluginArgs,
  hostname = '',
): Promise<{ settings: DevicePluginSettings; logLevel: string }> {
  const { file, config } = await configFromFlag(args.config);
  const problems = flagProblems(args);
  const dir = path.resolve(args.devicePluginDir);
  const dp = withFlags(config, args);
  const socketPath = path.join(dir, dp.socketName);
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) {
    problems.push(`socket path ${socketPath} is longer than ${MAX_SOCKET_PATH} bytes, the limit of a unix socket path; use a shorter --device-plugin-dir or socketName`);
  }
  if (problems.length > 0) throw new ConfigError(problems.map((p) => `device-plugin: ${p} (config ${file})`).join('\n'));
  const configFile = args.config ?? file;
  return {
    logLevel: pick(args.logLevel, config.logLevel),
    settings: {
      dir,
      kubeletSocketName: 'kubelet.sock',
      root: path.resolve(args.root ?? '/'),
      devDir: path.resolve(args.devDir ?? path.join(args.root ?? '/', 'dev')),
      ...(args.routeFile === undefined ? {} : { routeFile: path.resolve(args.routeFile) }),
      names: { nodeName: nodeNameFrom(args.nodeName, config, hostname), hostName: hostname },
      config: dp,
      configFile,
      // A config file named on the command line must stay; the default one may come and go.
      reloadConfig: async () => withFlags((await configFromFlag(args.config)).config, args),
      recheckMs: DEFAULT_RECHECK_MS,
      devRescanMs: DEFAULT_DEV_RESCAN_MS,
    },
  };
}

export async function runDevicePluginCommand(args: DevicePluginArgs, rt: Runtime): Promise<number> {
  let resolved;
  try {
    resolved = await resolveDevicePluginSettings(args, rt.hostname);
  } catch (err) {
    if (err instanceof ConfigError) {
      rt.stderr(`${err.message}\n`);
      return EXIT_CONFIG;
    }
    throw err;
  }
  const level = isLogLevel(resolved.logLevel) ? resolved.logLevel : 'info';
  const logger = loggerFor(rt, level);
  const { settings } = resolved;
  const dp = settings.config;
  let plugin: RunningDevicePlugin | undefined;
  const metrics = devicePluginMetricsFor(settings, () => plugin, logger);
  const notifier = metrics ? metrics.startingOnReady(notifierFor(rt, logger)) : notifierFor(rt, logger);
  const extra = [
    dp.virtual ? 'virtual devices' : '',
    dp.dev ? `/dev entries listed in ${settings.devDir}` : '',
    dp.pci
      ? `${dp.pci.resources.length} PCI pool${dp.pci.resources.length === 1 ? '' : 's'} from ${path.join(settings.root, 'sys/bus/pci/devices')}` +
        ` (default route from ${settings.routeFile ?? path.join(settings.root, 'proc/net/route')})`
      : '',
  ].filter(Boolean);
  logger.info(
    `starting device plugin: ${dp.resourceName} × ${dp.deviceCount} on ${path.join(settings.dir, dp.socketName)}` +
      `${extra.length ? `, plus ${extra.join(' and ')}` : ''}` +
      ` (maintenance flag ${dp.maintenanceFile}, notify: ${notifier.backend})` +
      `${dp.handedToDra?.length ? `; left to the DRA driver (dra.resources): ${dp.handedToDra.join(', ')}` : ''}`,
  );
  const stopWatchdog = startWatchdog(rt, notifier, logger);
  try {
    plugin = await startDevicePlugin(
      settings,
      {
        clock: rt.clock,
        logger,
        notifier,
        monotonicUsec: rt.monotonicUsec,
        onReload: rt.onReload,
        ...(metrics ? { metrics: metrics.recorder, statusNote: metrics.note } : {}),
      },
      rt.signal,
    );
    // A kubelet that is absent or refuses: the metrics (and /healthz) say so without READY.
    metrics?.startAfter(METRICS_FALLBACK_MS);
    await plugin.done;
  } finally {
    stopWatchdog();
    await metrics?.close();
  }
  logger.info('stopped');
  return 0;
}

/** Metrics start at READY, or this long after start when READY is slow to come. */
export const METRICS_FALLBACK_MS = 1000;

/**
 * The recorder for deviceplugin.metrics, or undefined when it is off (prom-client is then never
 * loaded). It is loaded after READY: registering first keeps a start as fast as without metrics.
 */
export function devicePluginMetricsFor(
  settings: DevicePluginSettings,
  plugin: () => RunningDevicePlugin | undefined,
  logger: Logger,
): LateMetrics<DevicePluginMetrics> | undefined {
  const config = settings.config.metrics;
  if (config === undefined) return undefined;
  const health = (): { ok: boolean; reason: string } => plugin()?.health() ?? { ok: false, reason: 'starting' };
  return new LateMetrics(noDevicePluginMetrics, async () => (await import('./prom-metrics.js')).loadDevicePluginMetrics(config, health, logger), logger);
}
