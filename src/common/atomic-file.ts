// Replaces a file whole: a dot-file in the same directory, then a rename, so a reader never sees half of it.
import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * Writes text to file atomically. The temporary name starts with a dot and ends in random hex:
 * node_exporter reads only `*.prom` and NFD skips dot-files, so neither picks it up half-written.
 */
export async function writeFileAtomic(file: string, text: string, mode = 0o644): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(4).toString('hex')}`);
  try {
    await writeFile(tmp, text, { mode });
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
