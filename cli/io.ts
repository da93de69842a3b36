// The CLI's window on the outside world: where output goes, where stdin comes from, and whether
// stderr is a terminal (long commands draw a progress line there only then, cli/progress.ts). Every
// command writes through a CliIO so tests run `main()` in-process and read what it printed;
// `processIO` is the real terminal. Writers take text as-is (callers add their own newlines).
import { performance } from 'node:perf_hooks';

export interface CliIO {
  stdout(s: string): void;
  stderr(s: string): void;
  /** The whole of standard input (for `--features -` and `replay -`). */
  stdin(): Promise<string>;
  /** stderr is an interactive terminal, so a progress line there reaches a person, not a log. */
  readonly stderrIsTTY?: boolean;
  /** Milliseconds on a monotonic clock, for progress timing (default performance.now). */
  now?(): number;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(chunks).toString('utf8');
}

export const processIO: CliIO = {
  stdout: (s) => void process.stdout.write(s),
  stderr: (s) => void process.stderr.write(s),
  stdin: () => readAll(process.stdin),
  get stderrIsTTY() {
    return process.stderr.isTTY === true;
  },
  now: () => performance.now(),
};

export interface BufferIOOptions {
  /** Pretend stderr is a terminal (to see progress lines). */
  readonly tty?: boolean;
  readonly now?: () => number;
}

/** A CliIO that records everything, for tests and for embedding the CLI. */
export function bufferIO(
  stdinText = '',
  opts: BufferIOOptions = {},
): CliIO & { readonly out: () => string; readonly err: () => string } {
  let out = '';
  let err = '';
  return {
    stdout: (s) => void (out += s),
    stderr: (s) => void (err += s),
    stdin: () => Promise.resolve(stdinText),
    stderrIsTTY: opts.tty === true,
    ...(opts.now ? { now: opts.now } : {}),
    out: () => out,
    err: () => err,
  };
}
