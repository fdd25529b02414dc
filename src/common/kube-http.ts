// Plain JSON requests and watches to the API server, with client-node's credentials and agent.
//
// client-node 1.4's Watch calls AbortSignal.any (Node ≥ 20.3), and its typed models rename
// fields (a DeviceAttribute's `int` is `_int`), so requests whose bodies must be exactly the
// API's JSON go through here: the body is sent and read as the API server writes it.
import http from 'node:http';
import https from 'node:https';
import { createInterface } from 'node:readline';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Clock } from './clock.js';
import { NodeApiError } from '../labeller/node-api.js';

interface StatusBody {
  kind?: string;
  message?: string;
  reason?: string;
  code?: number;
}

export function parseStatus(body: unknown): StatusBody | undefined {
  let value = body;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  return typeof value === 'object' && value !== null ? (value as StatusBody) : undefined;
}

/** Normalises socket and parse failures into a NodeApiError with no status. */
export function transportError(err: unknown): NodeApiError {
  if (err instanceof NodeApiError) return err;
  const e = err as { code?: unknown; message?: unknown; name?: unknown };
  const code = typeof e.code === 'string' ? e.code : undefined;
  const message = typeof e.message === 'string' ? e.message : String(err);
  if (e.name === 'AbortError') return new NodeApiError('request timed out or was cancelled', undefined, undefined);
  return new NodeApiError(code !== undefined && !message.includes(code) ? `${message} (${code})` : message, undefined, undefined);
}

interface Prepared {
  url: URL;
  transport: typeof http | typeof https;
  headers: Record<string, string>;
  agent: http.Agent | undefined;
}

async function prepare(kc: KubeConfig, path: string, query: Record<string, string>): Promise<Prepared> {
  const cluster = kc.getCurrentCluster();
  if (cluster === null) throw new NodeApiError('kubeconfig names no current cluster', undefined, undefined);
  const url = new URL(`${cluster.server.replace(/\/+$/, '')}${path}`);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  const opts: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const headers: Record<string, string> = { Accept: 'application/json' };
  for (const [k, v] of Object.entries(opts.headers ?? {})) if (v !== undefined) headers[k] = String(v);
  if (opts.auth) headers['Authorization'] = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
  return { url, transport: url.protocol === 'https:' ? https : http, headers, agent: opts.agent as http.Agent | undefined };
}

export interface KubeRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  query?: Record<string, string>;
  body?: unknown;
  signal: AbortSignal;
}

/**
 * One request; resolves to the decoded body of a 2xx answer, rejects with a NodeApiError carrying
 * the status and the Status reason otherwise. The caller's signal bounds it (deadline included).
 */
export async function kubeRequest<T>(kc: KubeConfig, request: KubeRequest): Promise<T> {
  const p = await prepare(kc, request.path, request.query ?? {});
  const payload = request.body === undefined ? undefined : JSON.stringify(request.body);
  if (payload !== undefined) p.headers['Content-Type'] = 'application/json';
  try {
    return await new Promise<T>((resolve, reject) => {
      const onAbort = (): void => {
        req.destroy();
        reject(new NodeApiError('request timed out or was cancelled', undefined, undefined));
      };
      const req = p.transport.request(p.url, { method: request.method, headers: p.headers, ...(p.agent ? { agent: p.agent } : {}) }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('error', (err) => reject(transportError(err)));
        res.on('end', () => {
          request.signal.removeEventListener('abort', onAbort);
          const code = res.statusCode ?? 0;
          if (code >= 200 && code < 300) {
            try {
              resolve((text === '' ? {} : JSON.parse(text)) as T);
            } catch {
              reject(new NodeApiError(`HTTP ${code} with a body that is not JSON`, code, undefined));
            }
            return;
          }
          const status = parseStatus(text);
          reject(new NodeApiError(status?.message ?? `HTTP ${code}`, code, status?.reason));
        });
      });
      req.on('error', (err) => {
        request.signal.removeEventListener('abort', onAbort);
        reject(transportError(err));
      });
      if (request.signal.aborted) return onAbort();
      request.signal.addEventListener('abort', onAbort, { once: true });
      req.end(payload);
    });
  } finally {
    // client-node makes an agent per call; keep-alive sockets of ours would outlive it.
    p.agent?.destroy();
  }
}

export type WatchType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';

/**
 * One watch request, line by line, until the server ends it or the signal aborts. Rejects on an
 * ERROR event (e.g. 410 Expired), a non-200 answer, or silence past timeoutSeconds + 30 s.
 */
export async function kubeWatch(
  kc: KubeConfig,
  path: string,
  query: Record<string, string>,
  timeoutSeconds: number,
  onEvent: (type: WatchType, object: Record<string, unknown>) => void,
  signal: AbortSignal,
  clock: Clock,
): Promise<void> {
  const p = await prepare(kc, path, { ...query, watch: 'true', allowWatchBookmarks: 'true', timeoutSeconds: String(timeoutSeconds) });
  // The server ends the watch after timeoutSeconds; a connection that silently died must end too.
  const stopTimer = new AbortController();
  try {
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const finish = (err?: NodeApiError): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        req.destroy();
        if (err) reject(err);
        else resolve();
      };
      const onAbort = (): void => finish();
      const req = p.transport.request(p.url, { method: 'GET', headers: p.headers, ...(p.agent ? { agent: p.agent } : {}) }, (res) => {
        if (res.statusCode !== 200) {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => {
            const status = parseStatus(body);
            finish(new NodeApiError(status?.message ?? `HTTP ${res.statusCode ?? 0}`, res.statusCode, status?.reason));
          });
          res.on('error', () => finish(new NodeApiError(`HTTP ${res.statusCode ?? 0}`, res.statusCode, undefined)));
          return;
        }
        const lines = createInterface({ input: res, crlfDelay: Infinity });
        // readline re-emits its input's errors (a reset connection); unhandled, they would crash us.
        lines.on('error', (err) => finish(transportError(err)));
        lines.on('line', (line) => {
          if (settled || line.trim() === '') return;
          let event: { type?: string; object?: Record<string, unknown> };
          try {
            event = JSON.parse(line) as typeof event;
          } catch {
            finish(new NodeApiError('watch sent a line that is not JSON', undefined, undefined));
            return;
          }
          if (event.type === 'ERROR') {
            const status = parseStatus(event.object);
            finish(new NodeApiError(status?.message ?? 'watch error', status?.code, status?.reason));
            return;
          }
          if (event.type === 'ADDED' || event.type === 'MODIFIED' || event.type === 'DELETED' || event.type === 'BOOKMARK') {
            try {
              onEvent(event.type, event.object ?? {});
            } catch (err) {
              finish(err instanceof NodeApiError ? err : new NodeApiError(String(err), undefined, undefined));
            }
          }
        });
        res.on('error', (err) => finish(transportError(err)));
        res.on('close', () => finish());
      });
      req.on('error', (err) => finish(transportError(err)));
      signal.addEventListener('abort', onAbort, { once: true });
      if (signal.aborted) onAbort();
      req.end();
      void clock.sleep((timeoutSeconds + 30) * 1000, stopTimer.signal).then(() => {
        if (!stopTimer.signal.aborted) finish(new NodeApiError('watch went silent past its timeout', undefined, undefined));
      });
    });
  } finally {
    stopTimer.abort();
    p.agent?.destroy();
  }
}
