// The metrics HTTP endpoint: /metrics and /healthz on a loopback TCP port or a unix socket.
import { createConnection } from 'node:net';
import { lstatSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import path from 'node:path';
import { removeIfPresentSync } from './atomic-file.js';
import type { ListenAddress } from './config.js';

export interface EndpointHealth {
  ok: boolean;
  /** One line: the daemon's status line. */
  reason: string;
}

export interface MetricsEndpointOptions {
  address: ListenAddress;
  /** The Prometheus text exposition. */
  scrape: () => Promise<string>;
  contentType: string;
  health: () => EndpointHealth;
}

/** How long a connection may sit without sending a byte: a scraper sends its request at once. */
const IDLE_CONNECTION_MS = 10_000;
/**
 * Node's HTTP server checks its request timeouts on a timer of its own (every 30 s by default),
 * which would wake an idle daemon. The longest interval a timer takes stands in for "never";
 * the per-connection timeout above is what ends a silent client.
 */
const NO_CONNECTION_CHECKS_MS = 2 ** 31 - 1;

export function describeListen(address: ListenAddress): string {
  if (address.kind === 'unix') return `unix:${address.path}`;
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

export class MetricsEndpoint {
  private constructor(
    private readonly server: Server,
    readonly address: ListenAddress,
  ) {}

  /** Listens; rejects with a message naming the address, the cause and the fix. */
  static async start(options: MetricsEndpointOptions): Promise<MetricsEndpoint> {
    const { address } = options;
    const server = createServer({ connectionsCheckingInterval: NO_CONNECTION_CHECKS_MS }, (req, res) => {
      void answer(req, res, options);
    });
    server.timeout = IDLE_CONNECTION_MS;
    server.keepAliveTimeout = 5_000;
    const where = describeListen(address);
    if (address.kind === 'unix') await clearStaleSocket(address.path, where);
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(new Error(`failed to listen on ${where}: ${err.code ?? err.message}${listenFix(err, address)}`)));
      if (address.kind === 'unix') server.listen(address.path, resolve);
      else server.listen({ host: address.host, port: address.port, exclusive: true }, resolve);
    });
    // Errors after listening (a failed accept) are the kernel's passing trouble, not a reason to stop.
    server.on('error', () => undefined);
    const bound = server.address();
    const actual: ListenAddress = address.kind === 'tcp' && bound !== null && typeof bound === 'object' ? { ...address, port: bound.port } : address;
    return new MetricsEndpoint(server, actual);
  }

  /** Stops listening and drops open connections; a unix socket's file goes with it. */
  close(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

async function answer(req: IncomingMessage, res: ServerResponse, options: MetricsEndpointOptions): Promise<void> {
  const url = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('only GET and HEAD\n');
    return;
  }
  try {
    if (url === '/metrics') {
      const body = await options.scrape();
      res.writeHead(200, { 'content-type': options.contentType }).end(req.method === 'HEAD' ? undefined : body);
    } else if (url === '/healthz') {
      const health = options.health();
      res.writeHead(health.ok ? 200 : 503, { 'content-type': 'text/plain; charset=utf-8' }).end(req.method === 'HEAD' ? undefined : `${health.reason}\n`);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: try /metrics or /healthz\n');
    }
  } catch (err) {
    res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`failed to collect metrics: ${err instanceof Error ? err.message : String(err)}\n`);
  }
}

/**
 * A socket file left by a crash is removed; one that a live process answers on is not ours to
 * take (the other daemon, or a second instance, configured with the same path).
 */
async function clearStaleSocket(file: string, where: string): Promise<void> {
  const st = lstatSync(file, { throwIfNoEntry: false });
  if (st === undefined) return;
  if (!st.isSocket()) throw new Error(`failed to listen on ${where}: ${file} exists and is not a socket; remove it or choose another path`);
  const answered = await new Promise<boolean>((resolve) => {
    const probe = createConnection(file);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (answered) throw new Error(`failed to listen on ${where}: another process listens on ${file}; give each daemon its own socket path`);
  removeIfPresentSync(file);
}

function listenFix(err: NodeJS.ErrnoException, address: ListenAddress): string {
  switch (err.code) {
    case 'EADDRINUSE':
      return ' (another process uses that address; choose another port)';
    case 'EADDRNOTAVAIL':
      return ' (no interface of this host has that address)';
    case 'EAFNOSUPPORT':
    case 'EPERM':
      return address.kind === 'tcp'
        ? ' (the unit allows no TCP sockets: add the network drop-in of docs/metrics.md, or listen on a unix socket)'
        : '';
    case 'EACCES':
      return address.kind === 'tcp' && address.port < 1024
        ? ' (ports below 1024 need a capability the unit does not grant; choose a port from 1024 up)'
        : ' (the unit may not create it there: use the path of docs/metrics.md, which the unit provides)';
    case 'ENOENT':
      return address.kind === 'unix' ? ` (directory ${path.dirname(address.path)} does not exist)` : '';
    case 'EROFS':
      return ' (the unit may not create it there: use the path of docs/metrics.md, which the unit provides)';
    default:
      return '';
  }
}
