// Keeps a node_exporter textfile-collector file current: rewritten whole, and only when its text changed.
import { writeFileAtomic } from './atomic-file.js';
import { describeError, type Logger } from './logger.js';

export interface TextfileOptions {
  file: string;
  /** The file's text now. */
  render: () => Promise<string>;
  logger: Logger;
  /** The write trouble appeared, changed or cleared: STATUS shows it. */
  onProblem: (problem: string | undefined) => void;
}

/**
 * No timer: each change to a value asks for a write, a burst of changes on one turn costs one
 * render, and a render equal to what is on disk writes nothing. An idle daemon never touches it.
 */
export class TextfileWriter {
  private written: string | undefined;
  private dirty = false;
  private running: Promise<void> | undefined;
  private problemText: string | undefined;

  constructor(private readonly o: TextfileOptions) {}

  get problem(): string | undefined {
    return this.problemText;
  }

  /** A value changed: write on a later turn, after the rest of this burst. */
  changed(): void {
    this.dirty = true;
    this.running ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.drain());
  }

  /** Resolves once every change asked for so far is on disk (or has failed). */
  async flush(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    try {
      while (this.dirty) {
        this.dirty = false;
        const text = await this.o.render();
        if (text === this.written) continue;
        try {
          await writeFileAtomic(this.o.file, text);
          this.written = text;
          if (this.problemText !== undefined) this.o.logger.info(`metrics textfile ${this.o.file} written again`);
          this.setProblem(undefined);
        } catch (err) {
          // The code, not the message: the message names the random temporary file.
          const cause = (err as NodeJS.ErrnoException).code ?? describeError(err);
          const problem = `failed to write metrics textfile ${this.o.file}: ${cause}${fixFor(err)}`;
          // Once per distinct trouble: every event would otherwise log it again.
          if (problem !== this.problemText) this.o.logger.error(problem);
          this.setProblem(problem);
        }
      }
    } finally {
      this.running = undefined;
    }
  }

  private setProblem(problem: string | undefined): void {
    if (problem === this.problemText) return;
    this.problemText = problem;
    this.o.onProblem(problem);
  }
}

function fixFor(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EROFS' || code === 'EACCES' || code === 'EPERM') return ' (the unit may not write there: add the ReadWritePaths= drop-in of docs/metrics.md)';
  if (code === 'ENOENT') return ' (its directory does not exist: install node_exporter, or create it)';
  return '';
}
