// What the entry file hands to a command: the process's inputs and outputs, read once, in one place.
import type { Clock } from './clock.js';

export interface Runtime {
  env: Readonly<Record<string, string | undefined>>;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** stderr is the journal (JOURNAL_STREAM names fd 2), so log lines carry syslog priorities. */
  journal: boolean;
  pid: number;
  /** The kernel's host name, as os.hostname() returns it. */
  hostname: string;
  /** process.versions.modules, for picking the sd-notify build. */
  abi: string;
  /** Where packaged native builds live (node-v<abi>/notify.node). */
  nativeDirs: readonly string[];
  clock: Clock;
  /** CLOCK_MONOTONIC in µs, as systemd's MONOTONIC_USEC wants it. */
  monotonicUsec: () => bigint;
  /**
   * Subscribes to reload requests (SIGHUP, which `systemctl reload` sends to a notify-reload
   * unit); returns the unsubscribe function.
   */
  onReload: (listener: () => void) => () => void;
  /** Aborted on SIGTERM or SIGINT: daemons stop serving, clean up and return. */
  signal: AbortSignal;
}
