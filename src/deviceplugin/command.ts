// `riscv-runner-node device-plugin`: resolves settings (flag > env > config > default) and runs the plugin.
import path from 'node:path';
import { deviceCountProblem, socketNameProblem } from '../common/config.js';
import { loggerFor, notifierFor, startWatchdog } from '../common/daemon.js';
import { ConfigError, EXIT_CONFIG } from '../common/errors.js';
import { extendedResourceNameProblem } from '../common/labels.js';
import { isLogLevel } from '../common/logger.js';
import type { Runtime } from '../common/runtime.js';
import { configFromFlag, pick } from '../common/settings.js';
import { DEFAULT_RECHECK_MS, startDevicePlugin, type DevicePluginSettings } from './daemon.js';

export interface DevicePluginArgs {
  config: string | undefined;
  logLevel: string | undefined;
  devicePluginDir: string;
  resourceName: string | undefined;
  deviceCount: number | undefined;
  socketName: string | undefined;
  maintenanceFile: string | undefined;
}

// sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH = 107;

/** Validates flags the way the config file is validated; every problem names its flag. */
export async function resolveDevicePluginSettings(args: DevicePluginArgs): Promise<{ settings: DevicePluginSettings; logLevel: string }> {
  const { file, config } = await configFromFlag(args.config);
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
  const dir = path.resolve(args.devicePluginDir);
  const socketName = pick(args.socketName, config.deviceplugin.socketName);
  const socketPath = path.join(dir, socketName);
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) {
    problems.push(`socket path ${socketPath} is longer than ${MAX_SOCKET_PATH} bytes, the limit of a unix socket path; use a shorter --device-plugin-dir or socketName`);
  }
  if (problems.length > 0) throw new ConfigError(problems.map((p) => `device-plugin: ${p} (config ${file})`).join('\n'));
  return {
    logLevel: pick(args.logLevel, config.logLevel),
    settings: {
      dir,
      socketName,
      kubeletSocketName: 'kubelet.sock',
      resourceName: pick(args.resourceName, config.deviceplugin.resourceName),
      deviceCount: pick(args.deviceCount, config.deviceplugin.deviceCount),
      maintenanceFile: pick(args.maintenanceFile, config.deviceplugin.maintenanceFile),
      allocateEnv: config.deviceplugin.allocateEnv,
      recheckMs: DEFAULT_RECHECK_MS,
    },
  };
}

export async function runDevicePluginCommand(args: DevicePluginArgs, rt: Runtime): Promise<number> {
  let resolved;
  try {
    resolved = await resolveDevicePluginSettings(args);
  } catch (err) {
    if (err instanceof ConfigError) {
      rt.stderr(`${err.message}\n`);
      return EXIT_CONFIG;
    }
    throw err;
  }
  const level = isLogLevel(resolved.logLevel) ? resolved.logLevel : 'info';
  const logger = loggerFor(rt, level);
  const notifier = notifierFor(rt, logger);
  const { settings } = resolved;
  logger.info(
    `starting device plugin: ${settings.resourceName} × ${settings.deviceCount} on ${path.join(settings.dir, settings.socketName)}` +
      ` (maintenance flag ${settings.maintenanceFile}, notify: ${notifier.backend})`,
  );
  const stopWatchdog = startWatchdog(rt, notifier, logger);
  try {
    const plugin = await startDevicePlugin(settings, { clock: rt.clock, logger, notifier }, rt.signal);
    await plugin.done;
  } finally {
    stopWatchdog();
  }
  logger.info('stopped');
  return 0;
}
