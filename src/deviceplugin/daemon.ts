// Wires discovery, the device store, the handlers and the lifecycle into the running device plugin.
import path from 'node:path';
import type { Clock } from '../common/clock.js';
import { DirectoryWatch } from '../common/dirwatch.js';
import type { Logger } from '../common/logger.js';
import { describeError } from '../common/logger.js';
import type { Notifier } from '../common/notifier.js';
import { DeviceStore } from './device-store.js';
import { healthyCount, maintenanceFlagPresent, runnerDevices } from './devices.js';
import { grpcCodeName } from './kubelet-client.js';
import { PluginLifecycle } from './lifecycle.js';
import { addDevicePluginService, createDevicePluginHandlers, PLUGIN_OPTIONS } from './service.js';

export interface DevicePluginSettings {
  dir: string;
  socketName: string;
  kubeletSocketName: string;
  resourceName: string;
  deviceCount: number;
  maintenanceFile: string;
  allocateEnv: Readonly<Record<string, string>>;
  /** Backstop period for the socket and flag checks; also the longest idle sleep. */
  recheckMs: number;
}

export const DEFAULT_RECHECK_MS = 5000;

export interface DevicePluginDeps {
  clock: Clock;
  logger: Logger;
  notifier: Notifier;
  random?: () => number;
}

export interface RunningDevicePlugin {
  /** Resolves once the plugin has stopped serving and removed its socket. */
  done: Promise<void>;
  store: DeviceStore;
  lifecycle: PluginLifecycle;
}

export async function startDevicePlugin(
  settings: DevicePluginSettings,
  deps: DevicePluginDeps,
  signal: AbortSignal,
): Promise<RunningDevicePlugin> {
  const { logger, notifier } = deps;
  let maintenance = await maintenanceFlagPresent(settings.maintenanceFile);
  const store = new DeviceStore(runnerDevices(settings.deviceCount, maintenance));
  if (maintenance) logger.warn(`maintenance flag ${settings.maintenanceFile} is present: runner devices start Unhealthy`);

  let phase: { kind: 'waiting' } | { kind: 'registered' } | { kind: 'failing'; attempt: number; cause: string } | { kind: 'starting' } = {
    kind: 'starting',
  };
  let ready = false;
  const devicesText = (): string => {
    const devices = store.get();
    const note = maintenance ? ` (maintenance: ${settings.maintenanceFile} present)` : '';
    return `${settings.resourceName} ${healthyCount(devices)}/${devices.length} healthy${note}`;
  };
  const updateStatus = (): void => {
    switch (phase.kind) {
      case 'starting':
        notifier.status(`starting: ${devicesText()}`);
        break;
      case 'waiting':
        notifier.status(`waiting for kubelet: ${path.join(settings.dir, settings.kubeletSocketName)} does not exist yet`);
        break;
      case 'failing':
        notifier.status(`registering with kubelet (attempt ${phase.attempt} failed: ${phase.cause}); retrying`);
        break;
      case 'registered':
        notifier.status(`registered with kubelet: ${devicesText()}`);
        break;
    }
  };

  const lifecycle = new PluginLifecycle({
    dir: settings.dir,
    socketName: settings.socketName,
    kubeletSocketName: settings.kubeletSocketName,
    resourceName: settings.resourceName,
    pluginOptions: PLUGIN_OPTIONS,
    addServices: (server) =>
      addDevicePluginService(
        server,
        createDevicePluginHandlers({
          resourceName: settings.resourceName,
          store,
          allocateEnv: settings.allocateEnv,
          logger,
          onStreamEnded: () => lifecycle.hint(),
        }),
      ),
    clock: deps.clock,
    logger,
    observer: {
      waitingForKubelet: (socket) => {
        logger.info(`waiting for kubelet: ${socket} does not exist yet`);
        phase = { kind: 'waiting' };
        updateStatus();
      },
      registered: (count) => {
        logger.info(`registered with kubelet: ${devicesText()}${count > 1 ? ` (registration ${count})` : ''}`);
        phase = { kind: 'registered' };
        updateStatus();
        if (!ready) notifier.ready();
        ready = true;
      },
      registerFailed: (err, retryInMs, attempt) => {
        const cause = `${grpcCodeName(err)}: ${describeError(err).replace(/^\d+ [A-Z_]+: /, '')}`;
        // The first failures after a kubelet restart are routine (it is not listening yet).
        const line = `failed to register with kubelet (attempt ${attempt}): ${cause}; retrying in ${retryInMs} ms`;
        if (attempt >= 3) logger.warn(line);
        else logger.debug(line);
        phase = { kind: 'failing', attempt, cause };
        updateStatus();
      },
      restarting: (reason) => {
        logger.info(`kubelet restart noticed (${reason}): serving and registering again`);
      },
      serveFailed: (err, retryInMs) => {
        logger.error(`failed to serve the device plugin: ${describeError(err)}; retrying in ${retryInMs} ms`);
      },
    },
    recheckMs: settings.recheckMs,
    registerTimeoutMs: 15_000,
    probeTimeoutMs: 5_000,
    registerBackoff: { initialMs: 20, maxMs: 10_000 },
    ...(deps.random ? { random: deps.random } : {}),
  });

  // Maintenance: the flag file's directory is watched, so the change shows within a moment.
  let checking: Promise<void> = Promise.resolve();
  const checkFlag = (): void => {
    checking = checking.then(async () => {
      const now = await maintenanceFlagPresent(settings.maintenanceFile);
      if (now === maintenance) return;
      maintenance = now;
      store.set(runnerDevices(settings.deviceCount, maintenance));
      if (maintenance) logger.warn(`maintenance flag ${settings.maintenanceFile} appeared: runner devices are Unhealthy, no new runners`);
      else logger.info(`maintenance flag ${settings.maintenanceFile} removed: runner devices are Healthy`);
      updateStatus();
    });
  };
  const flagName = path.basename(settings.maintenanceFile);
  const flagWatch = new DirectoryWatch(path.dirname(settings.maintenanceFile), {
    intervalMs: settings.recheckMs,
    onChange: (name) => {
      if (name === undefined || name === flagName) checkFlag();
    },
  });

  updateStatus();
  const onAbort = (): void => {
    logger.info('stopping: closing the device plugin socket');
    notifier.stopping();
    notifier.status('stopping');
  };
  signal.addEventListener('abort', onAbort, { once: true });

  const done = lifecycle.run(signal).finally(async () => {
    flagWatch.close();
    signal.removeEventListener('abort', onAbort);
    await checking;
    await notifier.flush();
  });
  return { done, store, lifecycle };
}
