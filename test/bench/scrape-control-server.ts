// The control of the scrape figure: a node:http server that answers GET /metrics with a fixed
// body read once from a file, and nothing else. Started by the metrics benchmark with the
// package's Node flags and given the daemon's own answer, it takes what any Node.js endpoint
// takes on this machine (a connection accepted, a request parsed, an answer written) and none of
// what the daemon does, so the daemon's share of a scrape is the difference.
//
// Usage: node <the package's flags> scrape-control-server.js <socket path> <body file>
// Prints "listening" once it accepts connections; stops on SIGTERM.
import { readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';

const [socket, bodyFile] = process.argv.slice(2);
if (socket === undefined || bodyFile === undefined) {
  process.stderr.write('usage: scrape-control-server <socket path> <body file>\n');
  process.exit(64);
}
const body = readFileSync(bodyFile);
rmSync(socket, { force: true });
const server = createServer((req, res) => {
  if (req.url !== '/metrics') res.writeHead(404).end();
  else res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(body);
});
server.listen(socket, () => process.stdout.write('listening\n'));
process.once('SIGTERM', () => server.close(() => process.exit(0)));
