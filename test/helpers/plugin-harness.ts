// Starts the device plugin in-process against the kubelet stand-in, in a temp dir, and stops both after.
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { systemClock } from '../../src/common/clock.js';
import { memoryLogger } from '../../src/common/logger.js';
import { startDevicePlugin, type DevicePluginSettings, type RunningDevicePlugin } from '../../src/deviceplugin/daemon.js';
import { FakeKubelet } from '../fakes/kubelet.js';
import { RecordingNotifier } from './recording-notifier.js';
import { tempDir } from './tmp.js';

export const RESOURCE = 'riseproject.com/runner';

export interface Harness {
  dir: string;
  kubelet: FakeKubelet;
  plugin: RunningDevicePlugin;
  notifier: RecordingNotifier;
  logger: ReturnType<typeof memoryLogger>;
  settings: DevicePluginSettings;
  stop: () => Promise<void>;
}

export async function startHarness(
  t: ExecutionContext,
  options: { dir?: string; startKubelet?: boolean; refuse?: number; settings?: Partial<Omit<DevicePluginSettings, 'dir'>> } = {},
): Promise<Harness> {
  const dir = options.dir ?? (await tempDir(t, 'rrn-dp-'));
  const kubelet = new FakeKubelet({ dir, refuseRegistrations: options.refuse ?? 0 });
  if (options.startKubelet ?? true) await kubelet.start();
  const settings: DevicePluginSettings = {
    dir,
    socketName: 'rise-riscv-runner.sock',
    kubeletSocketName: 'kubelet.sock',
    resourceName: RESOURCE,
    deviceCount: 1,
    maintenanceFile: path.join(dir, 'etc', 'maintenance'),
    allocateEnv: {},
    recheckMs: 5000,
    ...options.settings,
  };
  const notifier = new RecordingNotifier();
  const logger = memoryLogger();
  const controller = new AbortController();
  const plugin = await startDevicePlugin(settings, { clock: systemClock, logger, notifier }, controller.signal);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    controller.abort();
    await plugin.done;
    kubelet.stop();
  };
  t.teardown(stop);
  return { dir, kubelet, plugin, notifier, logger, settings, stop };
}
