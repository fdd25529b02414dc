// Pieces both daemons share at start-up: logger and notifier from the runtime, the watchdog timer.
import { createLogger, type LogLevel, type Logger } from './logger.js';
import { createNotifier, watchdogIntervalMs, type Notifier } from './notifier.js';
import type { Runtime } from './runtime.js';

export function loggerFor(rt: Runtime, level: LogLevel): Logger {
  return createLogger({ level, journal: rt.journal, write: rt.stderr });
}

export function notifierFor(rt: Runtime, logger: Logger): Notifier {
  return createNotifier({ env: rt.env, abi: rt.abi, nativeDirs: rt.nativeDirs, logger });
}

/**
 * Sends WATCHDOG=1 at half of WatchdogSec while the event loop turns; returns the stop function.
 * The timer is unref'd so it never keeps a finished process alive.
 */
export function startWatchdog(rt: Runtime, notifier: Notifier, logger: Logger): () => void {
  const interval = watchdogIntervalMs(rt.env, rt.pid);
  if (interval === undefined) return () => undefined;
  logger.debug(`watchdog: pinging systemd every ${interval} ms`);
  notifier.watchdog();
  const timer = setInterval(() => notifier.watchdog(), interval);
  timer.unref();
  return () => clearInterval(timer);
}
