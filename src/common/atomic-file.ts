// Replaces a file whole: a dot-file in the same directory, then a rename, so a reader never sees half of it.
import { randomBytes } from 'node:crypto';
import { unlinkSync } from 'node:fs';
import { open, rename, rm, unlink } from 'node:fs/promises';
import path from 'node:path';

export interface AtomicWriteOptions {
  mode?: number;
  /**
   * fsync before the rename: after a crash or power loss the file holds the old text or the new,
   * never an empty one. For records the daemon must find again; a file rewritten at every start
   * (a textfile, a CDI spec under /var/run) does without the flush.
   */
  durable?: boolean;
}

/**
 * Writes text to file atomically. The temporary name starts with a dot and ends in random hex:
 * node_exporter reads only `*.prom`, NFD skips dot-files and CDI runtimes read only `*.json`, so
 * none picks it up half-written; two writers never share one.
 */
export async function writeFileAtomic(file: string, text: string, options: AtomicWriteOptions = {}): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(4).toString('hex')}`);
  try {
    const handle = await open(tmp, 'w', options.mode ?? 0o644);
    try {
      await handle.writeFile(text);
      if (options.durable) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Removes a file; one already gone is what was wanted, any other failure is thrown. */
export async function removeIfPresent(file: string): Promise<void> {
  try {
    await unlink(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** removeIfPresent, synchronous: for a stale socket cleared just before a listen. */
export function removeIfPresentSync(file: string): void {
  try {
    unlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
