// What the node labeller reports to its metrics: a recorder interface, and the no-op used when metrics are off.

/** Events of the labeller's lifecycle; implementations only count, do no I/O and never throw. */
export interface LabellerMetrics {
  /** A label patch was written; repair: it put back an owned label someone changed or deleted. */
  patched(repair: boolean): void;
  /** An API call failed: the HTTP status, or undefined when no answer came. */
  apiError(status: number | undefined): void;
  /** A watch of the Node ended and another is started. */
  watchRestart(): void;
  /** The Node carries every desired label (owned: keys recorded as ours), checked at atMs (unix ms). */
  synced(owned: number, atMs: number): void;
  /** The labeller is waiting (API server, credentials, the Node): the Node may be out of date. */
  unsynced(): void;
}

export const noLabellerMetrics: LabellerMetrics = {
  patched: () => undefined,
  apiError: () => undefined,
  watchRestart: () => undefined,
  synced: () => undefined,
  unsynced: () => undefined,
};
