// The label patch: what to send so a Node carries the desired labels, touching only the keys we own.

/** Annotation holding the label keys this labeller set, as Node Feature Discovery records its own. */
export const OWNED_ANNOTATION = 'riseproject.dev/labeller.owned-labels';

/** The parts of a Node the labeller reads. */
export interface NodeView {
  name: string;
  resourceVersion: string | undefined;
  labels: Readonly<Record<string, string>>;
  annotations: Readonly<Record<string, string>>;
}

/** A JSON merge patch (RFC 7386) of labels and the ownership annotation; null deletes a key. */
export interface LabelPatch {
  metadata: {
    labels?: Record<string, string | null>;
    annotations?: Record<string, string | null>;
  };
}

export interface Plan {
  /** undefined when the Node already matches: nothing is written. */
  patch: LabelPatch | undefined;
  /** Keys set or changed. */
  set: string[];
  /** Owned keys no longer discovered, to delete. */
  removed: string[];
}

/** The owned keys recorded on a Node (comma-separated in the annotation). */
export function ownedKeys(node: NodeView): string[] {
  const raw = node.annotations[OWNED_ANNOTATION];
  if (raw === undefined) return [];
  return raw.split(',').map((k) => k.trim()).filter((k) => k !== '');
}

/**
 * Compares the desired labels with the Node. Owned keys that are no longer desired are deleted;
 * keys never recorded as ours are left alone even when they share our prefix.
 */
export function planLabels(node: NodeView, desired: Readonly<Record<string, string>>): Plan {
  const labels: Record<string, string | null> = {};
  const set: string[] = [];
  const removed: string[] = [];
  for (const [key, value] of Object.entries(desired)) {
    if (node.labels[key] !== value) {
      labels[key] = value;
      set.push(key);
    }
  }
  for (const key of ownedKeys(node)) {
    if (!(key in desired) && key in node.labels) {
      labels[key] = null;
      removed.push(key);
    }
  }
  const owned = Object.keys(desired).sort().join(',');
  const ownedChanged = (node.annotations[OWNED_ANNOTATION] ?? '') !== owned;
  if (set.length === 0 && removed.length === 0 && !ownedChanged) return { patch: undefined, set, removed };
  const patch: LabelPatch = { metadata: {} };
  if (set.length > 0 || removed.length > 0) patch.metadata.labels = labels;
  // The record is written with the labels, so a crash between the two cannot orphan a label.
  if (ownedChanged) patch.metadata.annotations = { [OWNED_ANNOTATION]: owned };
  return { patch, set, removed };
}

/**
 * What takes the labeller off a Node for good (the package's purge): every owned label still there
 * and the ownership record; undefined when there is neither. Labels not recorded as ours stay.
 */
export function unlabelPlan(node: NodeView): { patch: LabelPatch; removed: string[] } | undefined {
  const removed = ownedKeys(node).filter((key) => key in node.labels);
  const recorded = OWNED_ANNOTATION in node.annotations;
  if (removed.length === 0 && !recorded) return undefined;
  const patch: LabelPatch = { metadata: {} };
  if (removed.length > 0) patch.metadata.labels = Object.fromEntries(removed.map((key) => [key, null]));
  if (recorded) patch.metadata.annotations = { [OWNED_ANNOTATION]: null };
  return { patch, removed };
}

/** True when the Node carries every desired label with its value (owned extras aside). */
export function inSync(node: NodeView, desired: Readonly<Record<string, string>>): boolean {
  return planLabels(node, desired).patch === undefined;
}
