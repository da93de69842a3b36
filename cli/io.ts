// The CLI's window on the outside world: where output goes and where stdin comes from. Every command
// writes through a CliIO so tests run `main()` in-process and read what it printed; `processIO` is
// the real terminal. Writers take text as-is (callers add their own newlines).
export interface CliIO {
  stdout(s: string): void;
  stderr(s: string): void;
  /** The whole of standard input (for `--features -` and `replay -`). */
  stdin(): Promise<string>;
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
};

/** A CliIO that records everything, for tests and for embedding the CLI. */
export function bufferIO(stdinText = ''): CliIO & { readonly out: () => string; readonly err: () => string } {
  let out = '';
  let err = '';
  return {
    stdout: (s) => void (out += s),
    stderr: (s) => void (err += s),
    stdin: () => Promise.resolve(stdinText),
    out: () => out,
    err: () => err,
  };
}
