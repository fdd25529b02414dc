// The Node.js flags the packaged wrapper starts the daemons with, read from the wrapper itself,
// so benchmarks measure the process the package ships rather than a plain `node`.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const WRAPPER = fileURLToPath(new URL('../../../packaging/riscv-runner-node.sh', import.meta.url));

/** The `--flags` between `node` and the script on the wrapper's exec line. */
export function parseWrapperNodeFlags(script: string): string[] {
  const exec = script.split('\n').find((line) => /^\s*exec\s+\S*node\s/.test(line));
  if (exec === undefined) throw new Error('wrapper: no `exec …node …` line found');
  const words = exec.trim().split(/\s+/).slice(2);
  const flags: string[] = [];
  for (const word of words) {
    if (!word.startsWith('--')) break;
    flags.push(word);
  }
  return flags;
}

export function shippedNodeFlags(file = WRAPPER): string[] {
  return parseWrapperNodeFlags(readFileSync(file, 'utf8'));
}
