// The Node API over @kubernetes/client-node: readNode, patchNode with a merge patch, a watch of one Node.
import { readFileSync } from 'node:fs';
import { CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions, type V1Node } from '@kubernetes/client-node';
import type { Clock } from '../common/clock.js';
import { kubeWatch, parseStatus, transportError } from '../common/kube-http.js';
import { NodeApiError, unlessNotFound, type NodeApi, type WatchEvent } from './node-api.js';
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

/** Normalises what client-node and node-fetch throw into a NodeApiError. */
export function toNodeApiError(err: unknown): NodeApiError {
  if (err instanceof NodeApiError) return err;
  const e = err as { code?: unknown; body?: unknown; message?: unknown; name?: unknown };
  if (typeof e.code === 'number') {
    const status = parseStatus(e.body);
    return new NodeApiError(status?.message ?? `HTTP ${e.code}`, e.code, status?.reason);
  }
  return transportError(err);
}

export interface ClientNodeApiOptions {
  kubeconfigFile: string;
  clock: Clock;
  /** Longest a GET or PATCH may take before it is abandoned and retried. */
  requestTimeoutMs: number;
}

/** Aborts when either the caller's signal aborts or the request has taken too long. */
export function deadline(clock: Clock, ms: number, outer: AbortSignal): { signal: AbortSignal; done: () => void } {
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
      const node = await unlessNotFound(call(signal, (s) => core.readNode({ name }, withSignal(s, undefined))));
      return node === undefined ? undefined : nodeView(node);
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

/** One watch request on one Node, by name; the events carry the Node as the labeller sees it. */
function watchNode(
  kc: KubeConfig,
  name: string,
  resourceVersion: string | undefined,
  timeoutSeconds: number,
  onEvent: (e: WatchEvent) => void,
  signal: AbortSignal,
  clock: Clock,
): Promise<void> {
  const query: Record<string, string> = { fieldSelector: `metadata.name=${name}` };
  if (resourceVersion !== undefined) query['resourceVersion'] = resourceVersion;
  return kubeWatch(kc, '/api/v1/nodes', query, timeoutSeconds, (type, object) => onEvent({ type, node: nodeView(object) }), signal, clock);
}
