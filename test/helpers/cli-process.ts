// The riscv-runner-node command as a child process: its stderr collected, its exit awaited, killed after the test.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';

export const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

export interface CliProcess {
  child: ChildProcess;
  exited: Promise<number | null>;
  stderr: () => string;
}

export function startCli(t: ExecutionContext, args: string[], env: Record<string, string> = {}): CliProcess {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.teardown(() => void child.kill('SIGKILL'));
  return { child, exited, stderr: () => stderr };
}
