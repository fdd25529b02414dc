// The claims' CDI specs on disk: /var/run/cdi, which runtimes watch and a reboot empties.
import { unlink } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../common/atomic-file.js';
import type { CdiSpecDir } from './claims.js';

export function cdiSpecDir(dir: string): CdiSpecDir {
  return {
    path: (name) => path.join(dir, name),
    write: (file, text) => writeFileAtomic(file, text),
    remove: async (file) => {
      try {
        await unlink(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    },
  };
}
