// The claims' CDI specs on disk: /var/run/cdi, which runtimes watch and a reboot empties.
import path from 'node:path';
import { removeIfPresent, writeFileAtomic } from '../common/atomic-file.js';
import type { CdiSpecDir } from './claims.js';

export function cdiSpecDir(dir: string): CdiSpecDir {
  return {
    path: (name) => path.join(dir, name),
    write: (file, text) => writeFileAtomic(file, text),
    remove: removeIfPresent,
  };
}
