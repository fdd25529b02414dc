// Allocate calls from a process of their own, as the kubelet makes them: one container per call,
// one at a time, over one channel. Prints the round-trip times in ms as a JSON array.
//
// Started by the PCI benchmark with --lite-mode. The kubelet is a compiled Go program; a client
// that JIT-compiles grpc-js while it measures (TurboFan's background compiles and deopts, on a
// machine with two cores shared with the plugin) puts pauses of its own into the round trips, and
// one sharing a process with the kubelet stand-in's bookkeeping adds that heap's collections too.
// Neither is the plugin's latency.
//
// Usage: node --lite-mode allocate-client.js <socket> <device IDs as JSON> <calls> <warm-up calls>
import * as grpc from '@grpc/grpc-js';
import { describeError } from '../../src/common/logger.js';
import { devicePluginApi } from '../../src/deviceplugin/proto.js';
import { roundTrips } from './round-trips.js';

const [socket, idsJson, callsArg, warmupArg] = process.argv.slice(2);
if (socket === undefined || idsJson === undefined) {
  process.stderr.write('usage: allocate-client <socket> <device IDs as JSON> [calls] [warm-up calls]\n');
  process.exit(64);
}
const ids = JSON.parse(idsJson) as string[];
const calls = Number(callsArg ?? 1000);
const warmup = Number(warmupArg ?? 200);

const api = devicePluginApi();
const client = new api.DevicePlugin(`unix:${socket}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'localhost' });
const allocate = (): Promise<void> =>
  new Promise((resolve, reject) => client.Allocate({ container_requests: [{ devices_ids: ids }] }, (err, res) => (err || !res ? reject(err ?? new Error('no answer')) : resolve())));

try {
  process.stdout.write(`${JSON.stringify(await roundTrips(allocate, calls, warmup))}\n`);
} catch (err) {
  process.stderr.write(`allocate-client: ${describeError(err)}\n`);
  process.exitCode = 1;
} finally {
  client.close();
}
