// CDI specs for PCI pools with cdi: true: one file per resource under /var/run/cdi, written atomically, ours only.
import { chmod, mkdir, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../common/logger.js';
import { describeError } from '../common/logger.js';
import type { ResourceSpec } from './resource.js';

export const DEFAULT_CDI_DIR = '/var/run/cdi';
/** Spec-level annotations came with 0.6.0; containerd 1.7 and CRI-O read it. */
export const CDI_VERSION = '0.6.0';
/** Our specs, told apart from every other program's by both the file name and this annotation. */
export const CDI_FILE_PREFIX = 'riscv-runner-node_';
export const CDI_OWNER_ANNOTATION = 'riseproject.com/cdi-spec-owner';
export const CDI_OWNER = 'rise-device-plugin';

export interface CdiDeviceNode {
  path: string;
  permissions: string;
}

export interface CdiSpec {
  cdiVersion: string;
  kind: string;
  annotations: Record<string, string>;
  devices: Array<{ name: string; containerEdits: { deviceNodes?: CdiDeviceNode[] } }>;
}

/** `riscv-runner-node_intel.com_intel_sriov_dpdk.json`: the kind with '/' → '_', so one file per resource. */
export function cdiFileName(kind: string): string {
  return `${CDI_FILE_PREFIX}${kind.replace(/\//g, '_')}.json`;
}

/**
 * The spec of a resource answered through CDI: one device per PCI function that has device
 * nodes, named by its address, carrying the nodes DeviceSpecs would have carried. A function with
 * none (a NIC on its kernel driver) has no CDI device: CDI refuses a device with no edits, and a
 * runtime then refuses the whole spec. Undefined for a resource without CDI, and for one with no
 * such device (a runtime refuses a spec without devices; nothing would be in it).
 */
export function cdiSpecFor(spec: ResourceSpec): CdiSpec | undefined {
  const grant = spec.grant;
  if (grant.kind !== 'pci' || grant.cdiKind === undefined) return undefined;
  const devices = spec.devices.flatMap((d) => {
    const nodes = grant.devices[d.ID]?.nodes ?? [];
    return nodes.length > 0 ? [{ name: d.ID, containerEdits: { deviceNodes: nodes.map((p) => ({ path: p, permissions: 'rw' })) } }] : [];
  });
  if (devices.length === 0) return undefined;
  return { cdiVersion: CDI_VERSION, kind: grant.cdiKind, annotations: { [CDI_OWNER_ANNOTATION]: CDI_OWNER }, devices };
}

/** Whether a file in the CDI directory is one this plugin wrote: our prefix and our annotation. */
function isOurs(name: string, text: string): boolean {
  if (!name.startsWith(CDI_FILE_PREFIX) || !name.endsWith('.json')) return false;
  try {
    const parsed = JSON.parse(text) as { annotations?: Record<string, unknown> };
    return parsed.annotations?.[CDI_OWNER_ANNOTATION] === CDI_OWNER;
  } catch {
    return false;
  }
}

/**
 * Keeps the CDI directory holding exactly the specs of the resources served with CDI. Writes
 * only when a spec's content changed, each through a temp file (a name runtimes skip) renamed
 * over the old one, so a runtime never reads half a spec. Failures are logged, once per cause,
 * never thrown: the other resources keep serving.
 */
export class CdiSpecs {
  private readonly written = new Map<string, string>();
  private readonly failed = new Set<string>();

  constructor(
    private readonly dir: string,
    private readonly logger: Logger,
  ) {}

  /** Removes the specs an earlier run of this plugin left (a crash, a kill): they may name devices gone since. */
  async removeStale(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return [];
    }
    const removed: string[] = [];
    for (const name of names.filter((n) => n.startsWith(CDI_FILE_PREFIX)).sort()) {
      const file = path.join(this.dir, name);
      try {
        if (!isOurs(name, await readFile(file, 'utf8'))) continue;
        await unlink(file);
        removed.push(name);
      } catch (err) {
        this.fail(`remove the stale CDI spec ${file}`, err);
      }
    }
    if (removed.length > 0) this.logger.info(`removed ${removed.length} stale CDI spec${removed.length === 1 ? '' : 's'} from ${this.dir}: ${removed.join(', ')}`);
    return removed;
  }

  async sync(resources: readonly ResourceSpec[]): Promise<void> {
    const wanted = new Map<string, string>();
    for (const spec of resources) {
      const cdi = cdiSpecFor(spec);
      if (cdi !== undefined) wanted.set(cdiFileName(cdi.kind), `${JSON.stringify(cdi, null, 2)}\n`);
    }
    for (const name of [...this.written.keys()]) {
      if (!wanted.has(name)) await this.remove(name);
    }
    for (const [name, text] of wanted) {
      if (this.written.get(name) === text) continue;
      await this.write(name, text);
    }
  }

  /** At stop: every spec this run wrote goes, so no runtime resolves a device nobody serves. */
  async removeAll(): Promise<void> {
    for (const name of [...this.written.keys()]) await this.remove(name);
  }

  /** The files this run has written, for STATUS and tests. */
  files(): string[] {
    return [...this.written.keys()].sort();
  }

  private async write(name: string, text: string): Promise<void> {
    const file = path.join(this.dir, name);
    // A dot-name without .json: runtimes list only *.json and *.yaml.
    const temp = path.join(this.dir, `.${name}.tmp`);
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o755 });
      await writeFile(temp, text, { mode: 0o644 });
      // The unit's UMask=0077 would leave it 0600: runtimes may read as another user.
      await chmod(temp, 0o644);
      await rename(temp, file);
      this.written.set(name, text);
      this.failed.delete(`write the CDI spec ${file}`);
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      this.fail(`write the CDI spec ${file}`, err);
    }
  }

  private async remove(name: string): Promise<void> {
    const file = path.join(this.dir, name);
    try {
      await unlink(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return this.fail(`remove the CDI spec ${file}`, err);
    }
    this.written.delete(name);
  }

  private fail(what: string, err: unknown): void {
    if (this.failed.has(what)) return;
    this.failed.add(what);
    this.logger.error(`failed to ${what}: ${describeError(err)}; containers of that resource cannot start until it is fixed`);
  }
}
