// Scrapes from a process of its own, as Prometheus makes them: GET /metrics on a new connection
// each, one at a time. Prints the round-trip times in ms as a JSON array.
//
// Started by the metrics benchmark with --lite-mode, for the reason allocate-client.ts gives: the
// bench process's own JIT compiles and heap collections, on two cores shared with the daemon,
// would put pauses of their own into the round trips. Prometheus is a compiled Go program.
//
// Usage: node --lite-mode scrape-client.js <listen: IP:PORT or unix:PATH> <scrapes> <warm-up scrapes>
import { describeError } from '../../src/common/logger.js';
import { get } from '../helpers/scrape.js';
import { roundTrips } from './round-trips.js';

const [listen, scrapesArg, warmupArg] = process.argv.slice(2);
if (listen === undefined) {
  process.stderr.write('usage: scrape-client <IP:PORT or unix:PATH> [scrapes] [warm-up scrapes]\n');
  process.exit(64);
}
const scrapes = Number(scrapesArg ?? 500);
const warmup = Number(warmupArg ?? 20);

const scrape = async (): Promise<void> => {
  const answer = await get(listen, '/metrics');
  if (answer.status !== 200) throw new Error(`GET /metrics answered ${answer.status}`);
};

try {
  process.stdout.write(`${JSON.stringify(await roundTrips(scrape, scrapes, warmup))}\n`);
} catch (err) {
  process.stderr.write(`scrape-client: ${describeError(err)}\n`);
  process.exitCode = 1;
}
