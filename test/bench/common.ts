// What the benchmarks share: figures as JSON lines, percentiles, memory read after a full GC, stand-ins.
import { execFile, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { FakeKubelet } from '../fakes/kubelet.js';

/** One JSON line per figure, tagged with the benchmark's name. */
export function emitFor(bench: string) {
  return (figure: string, value: number | Record<string, number>, unit: string, extra: Record<string, unknown> = {}): void => {
    process.stdout.write(`${JSON.stringify({ bench, figure, ...(typeof value === 'number' ? { value } : value), unit, ...extra })}\n`);
  };
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return Number((sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN).toFixed(2));
}

export function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return mib(Number(line?.split(/\s+/)[1] ?? 0) * 1024);
}

export function mib(bytes: number): number {
  return Number((bytes / 1048576).toFixed(1));
}

export interface ProbedMemory {
  rss: number;
  heapUsed: number;
}

/** RSS and heap of a child started with the memory probe, read after a full GC in the child. */
export async function probeMemory(child: ChildProcess, file: string): Promise<ProbedMemory> {
  await rm(file, { force: true });
  child.kill('SIGUSR2');
  const end = Date.now() + 10_000;
  for (;;) {
    try {
      const m = JSON.parse(await readFile(file, 'utf8')) as { rssKiB: number; heapUsed: number };
      return { rss: mib(m.rssKiB * 1024), heapUsed: mib(m.heapUsed) };
    } catch {
      if (Date.now() > end) throw new Error('bench: the memory probe did not answer');
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

/** CPU time a process has used so far, user + system, in ms (10 ms steps: the kernel's ticks). */
export function cpuMs(pid: number): number {
  // Fields after the command name, which may hold spaces, are counted from the closing ')'.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * Resolves once the process has used no CPU for `quietMs` (or after `timeoutMs` regardless): what
 * it was still doing after the last event (a GC, streams to answer) is done.
 */
export async function settled(pid: number, quietMs = 100, timeoutMs = 3_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last = cpuMs(pid);
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, quietMs));
    const now = cpuMs(pid);
    if (now === last) return;
    last = now;
  }
}

export async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('bench: timed out');
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** A kubelet stand-in listening in its own device-plugins directory under dir. */
export async function kubeletIn(dir: string, name: string): Promise<{ pluginDir: string; kubelet: FakeKubelet }> {
  const pluginDir = path.join(dir, name);
  await mkdir(pluginDir, { recursive: true });
  const kubelet = new FakeKubelet({ dir: pluginDir });
  await kubelet.start();
  return { pluginDir, kubelet };
}

export function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

const TOP = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * The CLI as the package ships it: packaging/bundle.mjs's output in dir, with proto/ and the
 * sd-notify build for this Node beside it where the package installs them (without the build, a
 * bundle outside the checkout finds no addon and notifies through systemd-notify, a process per
 * message). Returns the path of cli.js.
 */
export async function buildBundle(dir: string): Promise<string> {
  const built = path.join(TOP, 'node_modules', 'sd-notify', 'build', 'Release', 'notify.node');
  if (!existsSync(built)) throw new Error(`bench: ${built} is missing; run bash test/setup.sh, which builds it`);
  await promisify(execFile)(process.execPath, [path.join(TOP, 'packaging', 'bundle.mjs'), dir], { cwd: TOP });
  await cp(path.join(TOP, 'proto'), path.join(dir, 'proto'), { recursive: true });
  const addon = path.join(dir, 'native', 'sd-notify', `node-v${process.versions.modules}`, 'notify.node');
  await mkdir(path.dirname(addon), { recursive: true });
  await cp(built, addon);
  return path.join(dir, 'cli.js');
}
