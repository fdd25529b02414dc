// What every source returns, and the inputs sources share.
import type { ResourceSpec } from '../resource.js';

/** The names a host answers to: spookd mappings list either. */
export interface NodeNames {
  nodeName: string;
  hostName: string;
}

export interface SourceResult {
  resources: ResourceSpec[];
  /** Full sentences naming the input and the fix (a skipped name, an unreadable entry). */
  warnings: string[];
}

/** One entry under /dev, as the scan found it. */
export interface DevEntry {
  /** Relative to /dev, '/'-separated: "net/tun", "snd", "snd/controlC0". */
  path: string;
  kind: 'char' | 'block' | 'dir' | 'other';
  /** For a directory: the device nodes (char or block) under it, relative to /dev, sorted. */
  nodes?: string[];
}
