// The Node API the labeller needs (get, merge-patch, watch one Node), and which credentials it uses.
import type { LabelPatch, NodeView } from './reconcile.js';

/** A failed API call, reduced to what decides the next step. */
export class NodeApiError extends Error {
  override readonly name = 'NodeApiError';
  constructor(
    message: string,
    /** HTTP status, or undefined when no answer came (refused, reset, timed out). */
    readonly status: number | undefined,
    /** The Status reason (Forbidden, NotFound, Expired…) when the server sent one. */
    readonly reason: string | undefined,
  ) {
    super(message);
  }
}

/** The answer, or undefined when the API server says 404 Not Found. */
export async function unlessNotFound<T>(request: Promise<T>): Promise<T | undefined> {
  try {
    return await request;
  } catch (err) {
    if (err instanceof NodeApiError && err.status === 404) return undefined;
    throw err;
  }
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';

export interface WatchEvent {
  type: WatchEventType;
  node: NodeView;
}

export interface NodeApi {
  /**
   * The Node, or undefined when it does not exist (404: not registered yet). A node's own
   * credentials asking for any other name get 403, whether or not that Node exists.
   */
  get(name: string, signal: AbortSignal): Promise<NodeView | undefined>;
  /** A JSON merge patch of labels and annotations; returns the Node as stored. */
  patch(name: string, patch: LabelPatch, signal: AbortSignal): Promise<NodeView>;
  /**
   * Watches the one Node from resourceVersion (none: current state first, as ADDED) until the
   * server ends the watch or the signal aborts. Rejects on an ERROR event (e.g. 410 Expired).
   */
  watch(name: string, resourceVersion: string | undefined, timeoutSeconds: number, onEvent: (e: WatchEvent) => void, signal: AbortSignal): Promise<void>;
  /** Reads the kubeconfig again (a rotated client certificate, a replaced token). */
  reload(): void;
  /** The API server URL, for messages. */
  readonly server: string;
  /** The Node these credentials are, when they are a node's own (the kubelet's client certificate). */
  readonly credentialsNode: string | undefined;
}

export interface KubeconfigChoice {
  /** --kubeconfig, or KUBECONFIG (which may list several files; the first is used). */
  flag: string | undefined;
  /** labeller.kubeconfig from the config file. */
  fromConfig: string | undefined;
  /** The kubelet's own kubeconfig, used when present (kubeadm: /etc/kubernetes/kubelet.conf). */
  kubeletKubeconfig: string;
  /** The package's own kubeconfig, the last resort. */
  ownKubeconfig: string;
  exists: (file: string) => boolean;
}

/** Which kubeconfig to use: flag or KUBECONFIG, then the config file, then kubelet's, then our own. */
export function chooseKubeconfig(choice: KubeconfigChoice): string {
  const flag = choice.flag?.split(':').find((f) => f !== '');
  if (flag !== undefined) return flag;
  if (choice.fromConfig !== undefined) return choice.fromConfig;
  if (choice.exists(choice.kubeletKubeconfig)) return choice.kubeletKubeconfig;
  return choice.ownKubeconfig;
}

