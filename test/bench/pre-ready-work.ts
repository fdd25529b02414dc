// What enabling metrics adds to the device plugin's path to READY, timed in a process of its own.
//
// Both configs load the same code before READY (prom-client and the endpoint are a chunk loaded
// after it), so what differs is what runs: the config's metrics keys read and checked, the
// recorder that queues events until prom-client is loaded, the notifier that starts it at READY,
// and the events a start records. This times exactly those steps, alternating the two configs,
// where a whole start (some 400 ms, ±10 % from one to the next on a shared VM) cannot resolve a
// difference of a few ms. Prints {"off": [µs…], "on": [µs…]}.
//
// Usage: node --lite-mode pre-ready-work.js <off config> <on config> <device plugin dir> <rounds>
import { memoryLogger } from '../../src/common/logger.js';
import { nullNotifier } from '../../src/common/notifier.js';
import { devicePluginMetricsFor, resolveDevicePluginSettings, type DevicePluginArgs } from '../../src/deviceplugin/command.js';

const [off, on, devicePluginDir, roundsArg] = process.argv.slice(2);
if (off === undefined || on === undefined || devicePluginDir === undefined) {
  process.stderr.write('usage: pre-ready-work <off config> <on config> <device plugin dir> [rounds]\n');
  process.exit(64);
}
const rounds = Number(roundsArg ?? 400);
const RESOURCE = 'riseproject.com/runner';

const args = (config: string): DevicePluginArgs => ({
  config,
  logLevel: undefined,
  devicePluginDir,
  resourceName: undefined,
  deviceCount: undefined,
  socketName: undefined,
  maintenanceFile: undefined,
});

/** The steps of runDevicePluginCommand up to READY that depend on the config's metrics section. */
async function preReady(config: string): Promise<number> {
  const t0 = performance.now();
  const { settings } = await resolveDevicePluginSettings(args(config));
  const metrics = devicePluginMetricsFor(settings, () => undefined, memoryLogger());
  const notifier = metrics ? metrics.startingOnReady(nullNotifier) : nullNotifier;
  const recorder = metrics?.recorder;
  // What a first registration records: the devices, not yet registered, the Register call, registered.
  recorder?.devices(RESOURCE, [{ ID: 'runner-0', health: 'Healthy' }]);
  recorder?.registered(RESOURCE, false);
  recorder?.registration(RESOURCE, 'ok', 0.02);
  recorder?.registered(RESOURCE, true);
  notifier.status('registered with kubelet');
  return (performance.now() - t0) * 1000;
}

const times: { off: number[]; on: number[] } = { off: [], on: [] };
for (let i = 0; i < rounds; i++) {
  const order: Array<'off' | 'on'> = i % 2 === 0 ? ['off', 'on'] : ['on', 'off'];
  for (const v of order) times[v].push(await preReady(v === 'off' ? off : on));
}
process.stdout.write(`${JSON.stringify(times)}\n`);
