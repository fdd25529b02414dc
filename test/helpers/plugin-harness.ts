// Starts the device plugin in-process against the kubelet stand-in, in a temp dir, and stops both after.
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { systemClock } from '../../src/common/clock.js';
import { defaultConfig, type DevicePluginConfig } from '../../src/common/config.js';
import { memoryLogger } from '../../src/common/logger.js';
import type { LateMetrics } from '../../src/common/late-metrics.js';
import { devicePluginMetricsFor } from '../../src/deviceplugin/command.js';
import { startDevicePlugin, type DevicePluginSettings, type RunningDevicePlugin } from '../../src/deviceplugin/daemon.js';
import type { DevicePluginMetrics } from '../../src/deviceplugin/metrics.js';
import type { ResourceStore } from '../../src/deviceplugin/resource-store.js';
import type { PluginLifecycle } from '../../src/deviceplugin/lifecycle.js';
import { FakeKubelet } from '../fakes/kubelet.js';
import { RecordingNotifier } from './recording-notifier.js';
import { tempDir } from './tmp.js';

export const RESOURCE = 'riseproject.com/runner';

/** The plugin's config section, and the daemon settings a test may want to change. */
export type HarnessSettings = Partial<DevicePluginConfig> &
  Partial<Pick<DevicePluginSettings, 'recheckMs' | 'devRescanMs' | 'root' | 'devDir' | 'names' | 'configFile' | 'reloadConfig' | 'pciRescanMs' | 'cdiDir'>>;

export interface Harness {
  dir: string;
  kubelet: FakeKubelet;
  plugin: RunningDevicePlugin;
  notifier: RecordingNotifier;
  logger: ReturnType<typeof memoryLogger>;
  settings: DevicePluginSettings;
  /** The plugin's config at start. */
  config: DevicePluginConfig;
  /** The runner resource's live store and lifecycle. */
  runner: () => { store: ResourceStore; lifecycle: PluginLifecycle };
  /** With config.metrics: the metrics as the command wires them (started at READY). */
  metrics: LateMetrics<DevicePluginMetrics> | undefined;
  /** Sends a reload as SIGHUP would. */
  hangup: () => void;
  /** Stops the plugin alone, as SIGTERM does, leaving the kubelet stand-in running. */
  stopPlugin: () => Promise<void>;
  stop: () => Promise<void>;
}

export async function startHarness(
  t: ExecutionContext,
  options: { dir?: string; startKubelet?: boolean; refuse?: number; settings?: HarnessSettings } = {},
): Promise<Harness> {
  const dir = options.dir ?? (await tempDir(t, 'rrn-dp-'));
  const kubelet = new FakeKubelet({ dir, refuseRegistrations: options.refuse ?? 0 });
  if (options.startKubelet ?? true) await kubelet.start();
  const { recheckMs, devRescanMs, root, devDir, names, configFile, reloadConfig, pciRescanMs, cdiDir, ...section } = options.settings ?? {};
  const config: DevicePluginConfig = {
    ...defaultConfig().deviceplugin,
    maintenanceFile: path.join(dir, 'etc', 'maintenance'),
    ...section,
  };
  const settings: DevicePluginSettings = {
    dir,
    kubeletSocketName: 'kubelet.sock',
    root: root ?? '/nonexistent-root',
    devDir: devDir ?? path.join(root ?? '/nonexistent-root', 'dev'),
    names: names ?? { nodeName: 'rv-01', hostName: 'rv-01' },
    config,
    configFile,
    reloadConfig,
    recheckMs: recheckMs ?? 5000,
    devRescanMs: devRescanMs ?? 60_000,
    ...(pciRescanMs !== undefined ? { pciRescanMs } : {}),
    // Never the host's /var/run/cdi: a test that turns CDI on names its own directory.
    cdiDir: cdiDir ?? path.join(dir, 'cdi'),
  };
  const notifier = new RecordingNotifier();
  const logger = memoryLogger();
  const controller = new AbortController();
  const reloads = new Set<() => void>();
  let running: RunningDevicePlugin | undefined;
  const metrics = devicePluginMetricsFor(settings, () => running, logger);
  const plugin = await startDevicePlugin(
    settings,
    {
      clock: systemClock,
      logger,
      notifier: metrics ? metrics.startingOnReady(notifier) : notifier,
      ...(metrics ? { metrics: metrics.recorder, statusNote: metrics.note } : {}),
      monotonicUsec: () => 42n,
      onReload: (listener) => {
        reloads.add(listener);
        return () => reloads.delete(listener);
      },
    },
    controller.signal,
  );
  running = plugin;
  let stopped = false;
  const stopPlugin = async (): Promise<void> => {
    controller.abort();
    await plugin.done;
    await metrics?.close();
  };
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await stopPlugin();
    kubelet.stop();
  };
  t.teardown(stop);
  const runner = (): { store: ResourceStore; lifecycle: PluginLifecycle } => {
    const found = plugin.manager.get(config.resourceName);
    if (!found) throw new Error(`no running resource ${config.resourceName}`);
    return found;
  };
  const hangup = (): void => {
    for (const listener of [...reloads]) listener();
  };
  return { dir, kubelet, plugin, notifier, logger, settings, config, runner, metrics, hangup, stopPlugin, stop };
}
