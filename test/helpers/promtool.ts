// Runs Prometheus's promtool (Debian's prometheus package, installed by test/setup.sh).
import { execFile } from 'node:child_process';

export interface PromtoolRun {
  code: number;
  /** stdout then stderr: promtool says SUCCESS and FAILED on either. */
  output: string;
}

/** A missing promtool rejects with the fix, so a test that needs it fails rather than skips. */
export function promtool(args: string[], options: { cwd?: string; input?: string } = {}): Promise<PromtoolRun> {
  return new Promise((resolve, reject) => {
    const child = execFile('promtool', args, { cwd: options.cwd }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new Error('promtool not found: run test/setup.sh as root, or apt-get install prometheus'));
        return;
      }
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, output: stdout + stderr });
    });
    child.stdin?.end(options.input ?? '');
  });
}
