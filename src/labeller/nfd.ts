// The Node Feature Discovery local-source file, for clusters where NFD already owns node labels.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../common/atomic-file.js';

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
  await mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, nfdFeaturesText(labels));
}
