// The outside programs the picture needs, found before the run rather than after it: the run
// takes a quarter of an hour, and a browser missing at its end would throw all of it away.
import { access, constants, stat } from 'node:fs/promises';
import path from 'node:path';

export interface Program {
  /** Names to try, in order (Debian's first). */
  names: string[];
  /** The Debian package that installs one of them. */
  pkg: string;
}

export const CHROMIUM: Program = { names: ['chromium', 'chromium-browser'], pkg: 'chromium' };
export const PROMETHEUS: Program = { names: ['prometheus'], pkg: 'prometheus' };

/**
 * The first of the program's names that is an executable file in one of searchPath's
 * directories (a PATH value) or in the extra ones, as a full path; otherwise an error that names
 * the package to install.
 */
export async function findProgram(program: Program, searchPath: string, extra: string[] = ['/usr/bin', '/usr/sbin', '/usr/local/bin']): Promise<string> {
  const dirs = [...new Set([...searchPath.split(path.delimiter).filter(Boolean), ...extra])];
  for (const name of program.names)
    for (const dir of dirs) {
      const file = path.join(dir, name);
      try {
        await access(file, constants.X_OK);
        if ((await stat(file)).isFile()) return file;
      } catch {
        // Not there, or not executable: the next directory.
      }
    }
  throw new Error(`${program.names.join(' or ')} not found in ${dirs.join(':')}: apt-get install ${program.pkg}`);
}
