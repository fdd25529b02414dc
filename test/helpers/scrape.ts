// HTTP GETs against a metrics endpoint, over TCP or a unix socket, and `promtool check metrics` on the answer.
import { spawnSync } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import http from 'node:http';

export interface Answer {
  status: number;
  contentType: string;
  body: string;
}

/** GET path from a `listen` value as the config spells it (IP:PORT or unix:PATH). */
export function get(listen: string, path: string): Promise<Answer> {
  const target = listen.startsWith('unix:')
    ? { socketPath: listen.slice('unix:'.length) }
    : (() => {
        const m = /^\[?([^\]]+)\]?:(\d+)$/.exec(listen);
        return { host: m?.[1], port: Number(m?.[2]) };
      })();
  return new Promise((resolve, reject) => {
    const req = http.get({ ...target, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body }));
    });
    req.on('error', reject);
  });
}

/** A TCP port free on 127.0.0.1 a moment ago (the config does not take port 0). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Runs `promtool check metrics` on an exposition; returns its complaints ('' when clean). A
 * missing promtool fails the test with how to install it: a lint that did not run must not pass.
 */
export function promtoolProblems(exposition: string): string {
  const run = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
  if (run.error && (run.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error("promtool is not installed: run `bash test/setup.sh` as root, or `apt-get install prometheus` (Debian 12 and 13 ship promtool in it)");
  }
  if (run.status === 0) return '';
  return `${run.stdout}${run.stderr}`.trim() || `promtool exited ${run.status}`;
}
