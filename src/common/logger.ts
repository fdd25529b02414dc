// Line-per-event logger: a level on every line, and syslog priority prefixes when stderr is the journal.
export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Logger {
  error(message: string): void;
  warn(message: string): void;
  info(message: string): void;
  debug(message: string): void;
}

export interface LoggerOptions {
  level: LogLevel;
  /** True when stderr is connected to journald (JOURNAL_STREAM matches fd 2). */
  journal: boolean;
  write: (line: string) => void;
  now?: () => Date;
}

// syslog(3) priorities; journald reads a leading "<N>" on a stream line as the priority.
const PRIORITY: Record<LogLevel, number> = { error: 3, warn: 4, info: 6, debug: 7 };
const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && (LOG_LEVELS as readonly string[]).includes(value);
}

export function createLogger(options: LoggerOptions): Logger {
  const now = options.now ?? (() => new Date());
  const emit = (level: LogLevel, message: string): void => {
    if (RANK[level] > RANK[options.level]) return;
    // One event, one line: a multi-line cause would split into several journal entries.
    const text = message.replace(/\r?\n/g, ' | ');
    if (options.journal) {
      // journald stamps time and unit itself; the level survives as the priority.
      options.write(`<${PRIORITY[level]}>${text}\n`);
    } else {
      options.write(`${now().toISOString()} ${level.padEnd(5)} ${text}\n`);
    }
  };
  return {
    error: (m) => emit('error', m),
    warn: (m) => emit('warn', m),
    info: (m) => emit('info', m),
    debug: (m) => emit('debug', m),
  };
}

/** A logger that records lines, for tests and for commands that print nothing. */
export function memoryLogger(): Logger & { lines: Array<{ level: LogLevel; message: string }> } {
  const lines: Array<{ level: LogLevel; message: string }> = [];
  return {
    lines,
    error: (message) => lines.push({ level: 'error', message }),
    warn: (message) => lines.push({ level: 'warn', message }),
    info: (message) => lines.push({ level: 'info', message }),
    debug: (message) => lines.push({ level: 'debug', message }),
  };
}

/** Formats an unknown thrown value as the cause part of "failed to X: cause". */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
