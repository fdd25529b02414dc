// Runs test/helpers/notify_listener.py: a real unix datagram socket standing in for systemd's.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface NotifyMessage {
  message: string;
  pid: number | null;
  fds: number;
}

// dist/test/helpers → test/helpers (the .py is not compiled).
const SCRIPT = fileURLToPath(new URL('../../../test/helpers/notify_listener.py', import.meta.url));

export class NotifyListener {
  readonly messages: NotifyMessage[] = [];
  private readonly waiters = new Set<() => void>();

  private constructor(
    readonly socketPath: string,
    private readonly child: ChildProcess,
  ) {}

  static async start(dir: string): Promise<NotifyListener> {
    const socketPath = path.join(dir, 'notify.sock');
    const child = spawn('python3', [SCRIPT, socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
    const listener = new NotifyListener(socketPath, child);
    const lines = createInterface({ input: child.stdout! });
    await new Promise<void>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`notify listener exited with ${code}`)));
      lines.on('line', (line) => {
        const parsed = JSON.parse(line) as Partial<NotifyMessage> & { listening?: string };
        if (parsed.listening) {
          resolve();
          return;
        }
        listener.messages.push(parsed as NotifyMessage);
        for (const w of [...listener.waiters]) w();
      });
    });
    return listener;
  }

  /** Every variable assignment received so far, in order, split out of multi-line messages. */
  get assignments(): string[] {
    return this.messages.flatMap((m) => m.message.split('\n').filter((l) => l !== ''));
  }

  waitFor(predicate: (assignments: string[]) => boolean, timeoutMs = 10_000): Promise<void> {
    if (predicate(this.assignments)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!predicate(this.assignments)) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`notify listener: timed out; received ${JSON.stringify(this.assignments)}`));
      }, timeoutMs);
      this.waiters.add(check);
    });
  }

  close(): void {
    this.child.kill('SIGKILL');
  }
}
