// What the DRA driver asks of the API server (its Node's UID, its ResourceSlices, one claim), and
// that API over a kubeconfig's credentials.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Clock } from '../common/clock.js';
import { kubeRequest, kubeWatch, type WatchType } from '../common/kube-http.js';
import { credentialsNodeOf, deadline, loadKubeconfig } from '../labeller/client-node-api.js';
import { NodeApiError, unlessNotFound } from '../labeller/node-api.js';
import type { Slice } from './slices.js';

export { NodeApiError };

/** The parts of a ResourceClaim that Prepare reads. */
export interface ClaimView {
  metadata: { name: string; namespace: string; uid: string };
  status?: {
    allocation?: {
      devices?: { results?: Array<{ request: string; driver: string; pool: string; device: string; adminAccess?: boolean | null }> };
    };
  };
}

export interface SliceList {
  items: Slice[];
  resourceVersion: string;
}

export interface ResourceApi {
  /** The Node's UID, or undefined while the Node is not registered (404). */
  nodeUid(name: string, signal: AbortSignal): Promise<string | undefined>;
  /** Slices matching a field selector; with node credentials it must hold spec.nodeName=<own node>. */
  listSlices(fieldSelector: string, signal: AbortSignal): Promise<SliceList>;
  watchSlices(
    fieldSelector: string,
    resourceVersion: string,
    timeoutSeconds: number,
    onEvent: (type: WatchType, slice: Slice) => void,
    signal: AbortSignal,
  ): Promise<void>;
  createSlice(slice: Slice, signal: AbortSignal): Promise<Slice>;
  updateSlice(name: string, slice: Slice, signal: AbortSignal): Promise<Slice>;
  deleteSlice(name: string, signal: AbortSignal): Promise<void>;
  /** One claim, or undefined when it does not exist (404). */
  getClaim(namespace: string, name: string, signal: AbortSignal): Promise<ClaimView | undefined>;
  /** Reads the kubeconfig again (a rotated client certificate). */
  reload(): void;
  readonly server: string;
  readonly credentialsNode: string | undefined;
}

const SLICES = '/apis/resource.k8s.io/v1/resourceslices';

export interface KubeResourceApiOptions {
  kubeconfigFile: string;
  clock: Clock;
  requestTimeoutMs: number;
}

/** Bounds a request by the caller's signal and a deadline of its own. */
async function withDeadline<T>(clock: Clock, ms: number, outer: AbortSignal, fn: (s: AbortSignal) => Promise<T>): Promise<T> {
  const d = deadline(clock, ms, outer);
  try {
    return await fn(d.signal);
  } finally {
    d.done();
  }
}

export function kubeResourceApi(options: KubeResourceApiOptions): ResourceApi {
  let kc: KubeConfig = loadKubeconfig(options.kubeconfigFile);
  const call = <T>(signal: AbortSignal, request: Omit<Parameters<typeof kubeRequest>[1], 'signal'>): Promise<T> =>
    withDeadline(options.clock, options.requestTimeoutMs, signal, (s) => kubeRequest<T>(kc, { ...request, signal: s }));
  return {
    get server() {
      return kc.getCurrentCluster()?.server ?? '';
    },
    get credentialsNode() {
      return credentialsNodeOf(kc);
    },
    reload() {
      kc = loadKubeconfig(options.kubeconfigFile);
    },
    async nodeUid(name, signal) {
      const node = await unlessNotFound(call<{ metadata?: { uid?: string } }>(signal, { method: 'GET', path: `/api/v1/nodes/${encodeURIComponent(name)}` }));
      return node?.metadata?.uid;
    },
    async listSlices(fieldSelector, signal) {
      const list = await call<{ items?: Slice[]; metadata?: { resourceVersion?: string } }>(signal, { method: 'GET', path: SLICES, query: { fieldSelector } });
      return { items: list.items ?? [], resourceVersion: list.metadata?.resourceVersion ?? '' };
    },
    watchSlices(fieldSelector, resourceVersion, timeoutSeconds, onEvent, signal) {
      return kubeWatch(kc, SLICES, { fieldSelector, resourceVersion }, timeoutSeconds, (type, object) => onEvent(type, object as unknown as Slice), signal, options.clock);
    },
    createSlice(slice, signal) {
      return call<Slice>(signal, { method: 'POST', path: SLICES, body: slice });
    },
    updateSlice(name, slice, signal) {
      return call<Slice>(signal, { method: 'PUT', path: `${SLICES}/${encodeURIComponent(name)}`, body: slice });
    },
    async deleteSlice(name, signal) {
      await unlessNotFound(call<unknown>(signal, { method: 'DELETE', path: `${SLICES}/${encodeURIComponent(name)}` }));
    },
    getClaim(namespace, name, signal) {
      return unlessNotFound(call<ClaimView>(signal, { method: 'GET', path: `/apis/resource.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/resourceclaims/${encodeURIComponent(name)}` }));
    },
  };
}
