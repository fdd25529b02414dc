// The Node API over @kubernetes/client-node: readNode, patchNode with a merge patch, a watch of one Node.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { createInterface } from 'node:readline';
import { CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions, type V1Node } from '@kubernetes/client-node';
import type { Clock } from '../common/clock.js';
import { NodeApiError, type NodeApi, type WatchEvent } from './node-api.js';
import { nodeOfCertificate } from './node-identity.js';
import type { NodeView } from './reconcile.js';

/** Loads a kubeconfig file; throws with the file named when it cannot be used. */
export function loadKubeconfig(file: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  if (kc.getCurrentCluster() === null) throw new Error(`kubeconfig ${file} names no current cluster`);
  return kc;
}

/** The Node whose client certificate the kubeconfig's current user presents, if it is a node's. */
export function credentialsNodeOf(kc: KubeConfig): string | undefined {
  const user = kc.getCurrentUser();
  try {
    if (user?.certData) return nodeOfCertificate(Buffer.from(user.certData, 'base64').toString('utf8'));
    if (user?.certFile) return nodeOfCertificate(readFileSync(user.certFile, 'utf8'));
  } catch {
    // An unreadable certificate fails the first request with a message of its own.
  }
  return undefined;
}

export function nodeView(node: V1Node | Record<string, unknown>): NodeView {
  const meta = (node as { metadata?: { name?: string; resourceVersion?: string; labels?: Record<string, string>; annotations?: Record<string, string> } }).metadata ?? {};
  return {
    name: meta.name ?? '',
    resourceVersion: meta.resourceVersion,
    labels: meta.labels ?? {},
    annotations: meta.annotations ?? {},
  };
}

interface StatusBody {
  kind?: string;
  message?: string;
  reason?: string;
  code?: number;
}

function parseStatus(body: unknown): StatusBody | undefined {
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

/** Normalises what client-node and node-fetch throw into a NodeApiError. */
export function toNodeApiError(err: unknown): NodeApiError {
  if (err instanceof NodeApiError) return err;
  const e = err as { code?: unknown; body?: unknown; message?: unknown; name?: unknown };
  if (typeof e.code === 'number') {
    const status = parseStatus(e.body);
    return new NodeApiError(status?.message ?? `HTTP ${e.code}`, e.code, status?.reason);
  }
  const code = typeof e.code === 'string' ? e.code : undefined;
  const message = typeof e.message === 'string' ? e.message : String(err);
  if (e.name === 'AbortError') return new NodeApiError('request timed out or was cancelled', undefined, undefined);
  return new NodeApiError(code !== undefined && !message.includes(code) ? `${message} (${code})` : message, undefined, undefined);
}

export interface ClientNodeApiOptions {
  kubeconfigFile: string;
  clock: Clock;
  /** Longest a GET or PATCH may take before it is abandoned and retried. */
  requestTimeoutMs: number;
}

/** Aborts when either the caller's signal aborts or the request has taken too long. */
function deadline(clock: Clock, ms: number, outer: AbortSignal): { signal: AbortSignal; done: () => void } {
  const controller = new AbortController();
  const stop = new AbortController();
  const abort = (): void => controller.abort();
  // AbortSignal.any is Node ≥ 20.3; the runtime floor is 18.19, so the two signals are joined by hand.
  outer.addEventListener('abort', abort, { once: true });
  if (outer.aborted) controller.abort();
  void clock.sleep(ms, stop.signal).then(() => {
    if (!stop.signal.aborted) controller.abort();
  });
  return {
    signal: controller.signal,
    done: () => {
      stop.abort();
      outer.removeEventListener('abort', abort);
    },
  };
}

/**
 * client-node's generated layers disagree on middleware: some call `.toPromise()` on what `pre`
 * returns, some await it. A promise that also has toPromise() satisfies both.
 */
function settled<T>(value: T): Promise<T> & { toPromise(): Promise<T> } {
  const p = Promise.resolve(value);
  return Object.assign(p, { toPromise: () => p });
}

type Options = ReturnType<typeof setHeaderOptions>;
type Middleware = NonNullable<Options['middleware']>[number];

/** Passes an AbortSignal into client-node's request, so shutdown and timeouts end it. */
function withSignal(signal: AbortSignal, options: Options | undefined): Options {
  const middleware = {
    pre: (context: { setSignal(s: AbortSignal): void }) => {
      context.setSignal(signal);
      return settled(context);
    },
    post: (response: unknown) => settled(response),
  };
  return {
    ...options,
    middleware: [...(options?.middleware ?? []), middleware as unknown as Middleware],
    middlewareMergeStrategy: 'append',
  };
}

export function clientNodeApi(options: ClientNodeApiOptions): NodeApi {
  let kc = loadKubeconfig(options.kubeconfigFile);
  let core = kc.makeApiClient(CoreV1Api);

  const call = async <T>(signal: AbortSignal, fn: (s: AbortSignal) => Promise<T>): Promise<T> => {
    const d = deadline(options.clock, options.requestTimeoutMs, signal);
    try {
      return await fn(d.signal);
    } catch (err) {
      throw toNodeApiError(err);
    } finally {
      d.done();
    }
  };

  return {
    get server() {
      return kc.getCurrentCluster()?.server ?? '';
    },
    get credentialsNode() {
      return credentialsNodeOf(kc);
    },
    reload() {
      kc = loadKubeconfig(options.kubeconfigFile);
      core = kc.makeApiClient(CoreV1Api);
    },
    async get(name, signal) {
      try {
        return nodeView(await call(signal, (s) => core.readNode({ name }, withSignal(s, undefined))));
      } catch (err) {
        if (err instanceof NodeApiError && err.status === 404) return undefined;
        throw err;
      }
    },
    async patch(name, patch, signal) {
      const opts = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
      return nodeView(await call(signal, (s) => core.patchNode({ name, body: patch }, withSignal(s, opts))));
    },
    watch(name, resourceVersion, timeoutSeconds, onEvent, signal) {
      return watchNode(kc, name, resourceVersion, timeoutSeconds, onEvent, signal, options.clock);
    },
  };
}

/**
 * One watch request on one Node. client-node 1.4's Watch calls AbortSignal.any (Node ≥ 20.3), so
 * the watch is a plain request with client-node's agent and headers, which works on Node 18.
 */
async function watchNode(
  kc: KubeConfig,
  name: string,
  resourceVersion: string | undefined,
  timeoutSeconds: number,
  onEvent: (e: WatchEvent) => void,
  signal: AbortSignal,
  clock: Clock,
): Promise<void> {
  const cluster = kc.getCurrentCluster();
  if (cluster === null) throw new NodeApiError('kubeconfig names no current cluster', undefined, undefined);
  const url = new URL(`${cluster.server.replace(/\/+$/, '')}/api/v1/nodes`);
  url.searchParams.set('watch', 'true');
  url.searchParams.set('fieldSelector', `metadata.name=${name}`);
  url.searchParams.set('allowWatchBookmarks', 'true');
  url.searchParams.set('timeoutSeconds', String(timeoutSeconds));
  if (resourceVersion !== undefined) url.searchParams.set('resourceVersion', resourceVersion);

  const opts: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const agent = opts.agent as http.Agent | undefined;
  const transport = url.protocol === 'https:' ? https : http;
  const headers: Record<string, string> = { Accept: 'application/json' };
  for (const [k, v] of Object.entries(opts.headers ?? {})) if (v !== undefined) headers[k] = String(v);
  if (opts.auth) headers['Authorization'] = `Basic ${Buffer.from(opts.auth).toString('base64')}`;

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
      const req = transport.request(url, { method: 'GET', headers, ...(agent ? { agent } : {}) }, (res) => {
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
        lines.on('error', (err) => finish(toNodeApiError(err)));
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
              onEvent({ type: event.type, node: nodeView(event.object ?? {}) });
            } catch (err) {
              finish(err instanceof NodeApiError ? err : new NodeApiError(String(err), undefined, undefined));
            }
          }
        });
        res.on('error', (err) => finish(toNodeApiError(err)));
        res.on('close', () => finish());
      });
      req.on('error', (err) => finish(toNodeApiError(err)));
      signal.addEventListener('abort', onAbort, { once: true });
      if (signal.aborted) onAbort();
      req.end();
      void clock.sleep((timeoutSeconds + 30) * 1000, stopTimer.signal).then(() => {
        if (!stopTimer.signal.aborted) finish(new NodeApiError('watch went silent past its timeout', undefined, undefined));
      });
    });
  } finally {
    stopTimer.abort();
    agent?.destroy();
  }
}
