// A Notifier that records what a daemon told systemd, for in-process tests.
import type { Notifier } from '../../src/common/notifier.js';

export class RecordingNotifier implements Notifier {
  readonly backend = 'none' as const;
  readonly sent: string[] = [];
  ready(): void {
    this.sent.push('READY=1');
  }
  status(text: string): void {
    this.sent.push(`STATUS=${text}`);
  }
  watchdog(): void {
    this.sent.push('WATCHDOG=1');
  }
  stopping(): void {
    this.sent.push('STOPPING=1');
  }
  reloading(monotonicUsec: bigint): void {
    this.sent.push(`RELOADING=1 MONOTONIC_USEC=${monotonicUsec}`);
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
  get lastStatus(): string | undefined {
    return [...this.sent].reverse().find((s) => s.startsWith('STATUS='))?.slice('STATUS='.length);
  }
}
