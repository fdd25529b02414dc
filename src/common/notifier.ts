// systemd readiness protocol (sd_notify): the sd-notify addon when a build matches this Node, else systemd-notify.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Logger } from './logger.js';
import { describeError } from './logger.js';

export interface Notifier {
  /** READY=1: the service is up; systemd finishes `systemctl start` on it. */
  ready(): void;
  /** STATUS=: the one line `systemctl status` shows under the unit. */
  status(text: string): void;
  /** WATCHDOG=1: proof of life when the unit sets WatchdogSec. */
  watchdog(): void;
  /** STOPPING=1: shutdown has begun. */
  stopping(): void;
  /**
   * RELOADING=1 with MONOTONIC_USEC (CLOCK_MONOTONIC, µs): a reload has begun; READY=1 ends it.
   * Type=notify-reload units need both, or `systemctl reload` waits out its timeout.
   */
  reloading(monotonicUsec: bigint): void;
  /** Resolves once every message so far has been handed to the service manager. */
  flush(): Promise<void>;
  /** Which way messages travel, for logs and tests. */
  readonly backend: 'none' | 'sd-notify' | 'systemd-notify';
}

/** Used where NOTIFY_SOCKET is unset (not under systemd, or Type= is not notify). */
export const nullNotifier: Notifier = {
  ready: () => undefined,
  status: () => undefined,
  watchdog: () => undefined,
  stopping: () => undefined,
  reloading: () => undefined,
  flush: () => Promise.resolve(),
  backend: 'none',
};

/** The raw sd-notify binding (notify.cc): sendState passes its string to sd_notify(0, …). */
interface SdNotifyBinding {
  sendState(state: string): void;
}

export interface NotifierOptions {
  env: Readonly<Record<string, string | undefined>>;
  /** process.versions.modules: the Node ABI a native build must match. */
  abi: string;
  /**
   * Directories holding per-ABI builds as `node-v<abi>/notify.node` (the package ships one per
   * supported Node), tried before the build npm made in node_modules.
   */
  nativeDirs: readonly string[];
  logger: Logger;
  /** The systemd-notify binary for the fallback. */
  systemdNotify?: string;
  /** Loads a native module; injectable so tests can simulate a missing build. */
  loadNative?: (file: string) => unknown;
}

export function createNotifier(options: NotifierOptions): Notifier {
  const socket = options.env['NOTIFY_SOCKET'];
  if (socket === undefined || socket === '') return nullNotifier;
  const binding = loadBinding(options);
  if (binding !== undefined) return bindingNotifier(binding, options.logger);
  options.logger.warn(
    `no sd-notify build for this Node (ABI ${options.abi}); using systemd-notify, so the unit needs NotifyAccess=all`,
  );
  return commandNotifier(options.systemdNotify ?? 'systemd-notify', options.env, options.logger);
}

/** Candidate files for the addon, in the order they are tried. */
export function bindingCandidates(abi: string, nativeDirs: readonly string[]): string[] {
  const files = nativeDirs.map((dir) => path.join(dir, `node-v${abi}`, 'notify.node'));
  try {
    const require = createRequire(import.meta.url);
    const pkg = require.resolve('sd-notify/package.json');
    files.push(path.join(path.dirname(pkg), 'build', 'Release', 'notify.node'));
  } catch {
    // sd-notify is optional: absent where it could not be built.
  }
  return files;
}

function loadBinding(options: NotifierOptions): SdNotifyBinding | undefined {
  const load = options.loadNative ?? createRequire(import.meta.url);
  for (const file of bindingCandidates(options.abi, options.nativeDirs)) {
    try {
      const mod = load(file) as Partial<SdNotifyBinding> | undefined;
      if (typeof mod?.sendState === 'function') return mod as SdNotifyBinding;
    } catch (err) {
      // A build for another ABI throws "compiled against a different Node.js version": try the next.
      options.logger.debug(`sd-notify build ${file} not usable: ${describeError(err)}`);
    }
  }
  return undefined;
}

function bindingNotifier(binding: SdNotifyBinding, logger: Logger): Notifier {
  const send = (state: string): void => {
    try {
      binding.sendState(state);
    } catch (err) {
      logger.warn(`failed to notify systemd (${state.split('=')[0]}): ${describeError(err)}`);
    }
  };
  return {
    ready: () => send('READY=1'),
    status: (text) => send(`STATUS=${oneLine(text)}`),
    watchdog: () => send('WATCHDOG=1'),
    stopping: () => send('STOPPING=1'),
    // One datagram: systemd must see both assignments together.
    reloading: (usec) => send(`RELOADING=1\nMONOTONIC_USEC=${usec}`),
    flush: () => Promise.resolve(),
    backend: 'sd-notify',
  };
}

function commandNotifier(
  command: string,
  env: Readonly<Record<string, string | undefined>>,
  logger: Logger,
): Notifier {
  // One systemd-notify at a time, in order: READY must not overtake the STATUS sent before it.
  let queue: Promise<void> = Promise.resolve();
  let failed = false;
  const send = (...assignments: string[]): void => {
    queue = queue.then(
      () =>
        new Promise<void>((resolve) => {
          const child = spawn(command, assignments, { env: { ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
          let stderr = '';
          child.stderr.setEncoding('utf8');
          child.stderr.on('data', (chunk: string) => {
            stderr += chunk;
          });
          const report = (cause: string): void => {
            // Once is enough: a broken fallback would otherwise log on every watchdog ping.
            if (!failed) logger.warn(`failed to notify systemd with ${command}: ${cause}`);
            failed = true;
          };
          child.on('error', (err) => {
            report(describeError(err));
            resolve();
          });
          child.on('close', (code) => {
            if (code !== 0 && code !== null) report(`exit ${code}${stderr ? `: ${stderr.trim()}` : ''}`);
            resolve();
          });
        }),
    );
  };
  return {
    ready: () => send('READY=1'),
    status: (text) => send(`STATUS=${oneLine(text)}`),
    watchdog: () => send('WATCHDOG=1'),
    stopping: () => send('STOPPING=1'),
    // systemd-notify sends all its arguments in one message.
    reloading: (usec) => send('RELOADING=1', `MONOTONIC_USEC=${usec}`),
    flush: () => queue,
    backend: 'systemd-notify',
  };
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}

/**
 * How often to send WATCHDOG=1: half of WATCHDOG_USEC, as sd_watchdog_enabled(3) advises, and
 * only when WATCHDOG_PID is unset or names this process.
 */
export function watchdogIntervalMs(env: Readonly<Record<string, string | undefined>>, pid: number): number | undefined {
  const usec = env['WATCHDOG_USEC'];
  if (usec === undefined || !/^\d+$/.test(usec)) return undefined;
  const owner = env['WATCHDOG_PID'];
  if (owner !== undefined && owner !== '' && Number(owner) !== pid) return undefined;
  const ms = Math.floor(Number(usec) / 2000);
  return ms > 0 ? ms : undefined;
}
