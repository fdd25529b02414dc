// ResourceSlices of this node's pool, as plain data, and what to write to make the stored ones match.
import { canonical } from '../deviceplugin/resource.js';
import type { DraDevice } from './devices.js';

/** resource.k8s.io/v1 ResourceSliceMaxDevices. */
export const MAX_DEVICES_PER_SLICE = 128;

export interface PoolIdentity {
  driver: string;
  nodeName: string;
  /** The Node's UID, for the owner reference that lets garbage collection remove the slices with the Node. */
  nodeUid: string;
}

export interface SliceDevice {
  name: string;
  attributes: DraDevice['attributes'];
  capacity: DraDevice['capacity'];
}

/** The parts of a stored ResourceSlice this driver reads and writes. */
export interface Slice {
  apiVersion: 'resource.k8s.io/v1';
  kind: 'ResourceSlice';
  metadata: {
    name?: string;
    generateName?: string;
    resourceVersion?: string;
    ownerReferences?: Array<{ apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }>;
  };
  spec: {
    driver: string;
    nodeName?: string;
    pool: { name: string; generation: number; resourceSliceCount: number };
    devices?: SliceDevice[];
  };
}

/** The devices split into slices of at most 128, in order; no devices, no slice. */
export function chunkDevices(devices: readonly DraDevice[]): SliceDevice[][] {
  const chunks: SliceDevice[][] = [];
  for (let i = 0; i < devices.length; i += MAX_DEVICES_PER_SLICE) {
    chunks.push(devices.slice(i, i + MAX_DEVICES_PER_SLICE).map((d) => ({ name: d.name, attributes: d.attributes, capacity: d.capacity })));
  }
  return chunks;
}

export function sliceFor(id: PoolIdentity, devices: SliceDevice[], generation: number, count: number): Slice {
  return {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceSlice',
    metadata: {
      generateName: `${id.nodeName}-${id.driver}-`,
      // blockOwnerDeletion is not needed (the upstream helper does not set it either).
      ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: id.nodeName, uid: id.nodeUid, controller: true }],
    },
    spec: { driver: id.driver, nodeName: id.nodeName, pool: { name: id.nodeName, generation, resourceSliceCount: count }, devices },
  };
}

export function sameDevicesIn(stored: Slice, devices: readonly SliceDevice[]): boolean {
  return canonical(stored.spec.devices ?? []) === canonical(devices);
}

export type SliceWrite =
  | { op: 'create'; slice: Slice }
  | { op: 'update'; name: string; slice: Slice }
  | { op: 'delete'; name: string };

export interface SlicePlan {
  writes: SliceWrite[];
  generation: number;
}

/** The stored slices of this driver's pool on this node, in name order. */
export function poolSlices(id: PoolIdentity, stored: readonly Slice[]): Slice[] {
  return stored
    .filter((s) => s.spec.driver === id.driver && s.spec.nodeName === id.nodeName && s.spec.pool.name === id.nodeName)
    .sort((a, b) => ((a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1));
}

function writesAt(id: PoolIdentity, ours: readonly Slice[], chunks: readonly SliceDevice[][], generation: number): SliceWrite[] {
  const published = (s: Slice, chunk: SliceDevice[]): boolean =>
    s.spec.pool.generation === generation &&
    s.spec.pool.resourceSliceCount === chunks.length &&
    sameDevicesIn(s, chunk) &&
    (s.metadata.ownerReferences ?? []).some((o) => o.kind === 'Node' && o.uid === id.nodeUid);
  const kept = new Set<Slice>();
  const missing: number[] = [];
  chunks.forEach((chunk, i) => {
    const match = ours.find((s) => !kept.has(s) && published(s, chunk));
    if (match) kept.add(match);
    else missing.push(i);
  });
  const spare = ours.filter((s) => !kept.has(s));
  const writes: SliceWrite[] = [];
  for (const i of missing) {
    const slice = sliceFor(id, chunks[i] ?? [], generation, chunks.length);
    const reuse = spare.shift();
    if (reuse?.metadata.name === undefined) {
      writes.push({ op: 'create', slice });
    } else {
      const metadata = { ...slice.metadata, name: reuse.metadata.name, resourceVersion: reuse.metadata.resourceVersion ?? '' };
      delete metadata.generateName;
      writes.push({ op: 'update', name: reuse.metadata.name, slice: { ...slice, metadata } });
    }
  }
  for (const extra of spare) if (extra.metadata.name !== undefined) writes.push({ op: 'delete', name: extra.metadata.name });
  return writes;
}

/**
 * What to write so the stored slices of the pool publish `devices`; nothing when they already do.
 * Putting back slices someone deleted (creates only) keeps the generation: the pool did not
 * change. Anything that changes or removes a published slice bumps it on every slice, since
 * consumers only trust the slices of a pool's highest generation; so does `changed`, the
 * caller's word that the devices differ from those it last published.
 */
export function planSlices(id: PoolIdentity, stored: readonly Slice[], devices: readonly DraDevice[], lastGeneration: number, changed = false): SlicePlan {
  const ours = poolSlices(id, stored);
  const chunks = chunkDevices(devices);
  const current = Math.max(lastGeneration, ...ours.map((s) => s.spec.pool.generation));
  // The devices differ from what we last published: a new generation, even if no slice is left to update.
  if (changed) return { writes: writesAt(id, ours, chunks, current + 1), generation: current + 1 };
  const writes = writesAt(id, ours, chunks, current);
  if (writes.every((w) => w.op === 'create')) return { writes, generation: current };
  return { writes: writesAt(id, ours, chunks, current + 1), generation: current + 1 };
}
