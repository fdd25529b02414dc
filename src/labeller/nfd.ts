// The Node Feature Discovery local-source file, for clusters where NFD already owns node labels.
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** `key=value` lines, as NFD's local source reads them from features.d. */
export function nfdFeaturesText(labels: Readonly<Record<string, string>>): string {
  const lines = ['# Written by riscv-runner-node node-labeller; rewritten whenever discovery changes.'];
  for (const key of Object.keys(labels).sort()) lines.push(`${key}=${labels[key] ?? ''}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Writes the file through a dot-file in the same directory and a rename: NFD ignores dot-files and
 * a rename is atomic, so it never reads half a file.
 */
export async function writeNfdFeatures(file: string, labels: Readonly<Record<string, string>>): Promise<void> {
  const dir = path.dirname(file);
  await mkdir(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(4).toString('hex')}`);
  try {
    await writeFile(tmp, nfdFeaturesText(labels), { mode: 0o644 });
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
