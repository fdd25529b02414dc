// Scrapes from a process of its own, as Prometheus makes them: GET /metrics on a new connection
// each, one at a time. Prints the round-trip times in ms as a JSON array.
//
// Started by the metrics benchmark with --lite-mode, for the reason allocate-client.ts gives: the
// bench process's own JIT compiles and heap collections, on two cores shared with the daemon,
// would put pauses of their own into the round trips. For the same reason it speaks HTTP/1.1 over
// a plain socket instead of through node:http, whose client parses every header of the answer in
// JavaScript: Prometheus is a compiled Go program, and the time to measure is the daemon's.
//
// Usage: node --lite-mode scrape-client.js <listen: IP:PORT or unix:PATH> <scrapes> <warm-up scrapes>
import { createConnection, type NetConnectOpts } from 'node:net';
import { describeError } from '../../src/common/logger.js';
import { roundTrips } from './round-trips.js';

const [listen, scrapesArg, warmupArg] = process.argv.slice(2);
if (listen === undefined) {
  process.stderr.write('usage: scrape-client <IP:PORT or unix:PATH> [scrapes] [warm-up scrapes]\n');
  process.exit(64);
}
const scrapes = Number(scrapesArg ?? 500);
const warmup = Number(warmupArg ?? 20);
const tcp = /^\[?([^\]]+)\]?:(\d+)$/.exec(listen);
const target: NetConnectOpts = listen.startsWith('unix:') ? { path: listen.slice('unix:'.length) } : { host: tcp?.[1] ?? '', port: Number(tcp?.[2]) };
const REQUEST = 'GET /metrics HTTP/1.1\r\nHost: localhost\r\nAccept: text/plain\r\nConnection: close\r\n\r\n';

/** One scrape: the whole answer read to the server's close; a status other than 200, or no body, fails. */
const scrape = (): Promise<void> =>
  new Promise((resolve, reject) => {
    const socket = createConnection(target, () => socket.write(REQUEST));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const answer = Buffer.concat(chunks).toString('latin1');
      const status = answer.slice(0, answer.indexOf('\r\n'));
      const body = answer.indexOf('\r\n\r\n');
      if (!status.startsWith('HTTP/1.1 200 ')) reject(new Error(`GET /metrics answered ${JSON.stringify(status)}`));
      else if (body < 0 || body + 4 >= answer.length) reject(new Error('GET /metrics answered without a body'));
      else resolve();
    });
  });

try {
  process.stdout.write(`${JSON.stringify(await roundTrips(scrape, scrapes, warmup))}\n`);
} catch (err) {
  process.stderr.write(`scrape-client: ${describeError(err)}\n`);
  process.exitCode = 1;
}
