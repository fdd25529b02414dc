// Our own record of prepared claims, one file per claim UID in a state directory, each written
// whole (temporary file, fsync, rename): Unprepare must work for a claim the API server has
// already deleted, and after this process restarted, so the record cannot live in memory or
// depend on the claim.
import { mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { removeIfPresent, writeFileAtomic } from '../common/atomic-file.js';

export interface PreparedDevice {
  requestNames: string[];
  pool: string;
  device: string;
  cdiDeviceIds: string[];
  adminAccess: boolean;
}

export interface PreparedClaim {
  uid: string;
  namespace: string;
  name: string;
  devices: PreparedDevice[];
  /** The CDI spec file written for the claim, if any. */
  cdiFile: string | undefined;
}

/** A claim UID as a file name: UIDs are UUIDs, anything else is refused rather than made a path. */
function fileFor(dir: string, uid: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(uid)) throw new Error(`claim UID ${JSON.stringify(uid)} is not a UID`);
  return path.join(dir, `${uid}.json`);
}

export class ClaimStore {
  constructor(readonly dir: string) {}

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
  }

  async read(uid: string): Promise<PreparedClaim | undefined> {
    try {
      return JSON.parse(await readFile(fileFor(this.dir, uid), 'utf8')) as PreparedClaim;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async write(claim: PreparedClaim): Promise<void> {
    await writeFileAtomic(fileFor(this.dir, claim.uid), `${JSON.stringify(claim, null, 2)}\n`, { mode: 0o600, durable: true });
  }

  async remove(uid: string): Promise<void> {
    await removeIfPresent(fileFor(this.dir, uid));
  }

  async all(): Promise<PreparedClaim[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return [];
    }
    const out: PreparedClaim[] = [];
    for (const name of names.filter((n) => n.endsWith('.json') && !n.startsWith('.')).sort()) {
      const claim = await this.read(name.slice(0, -'.json'.length)).catch(() => undefined);
      if (claim) out.push(claim);
    }
    return out;
  }
}
