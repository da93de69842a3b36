// Shared helpers for the CLI tests: run `main()` in-process with captured output, and write
// throwaway packs into a temporary directory.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { main } from '../../cli/main.ts';
import { bufferIO } from '../../cli/io.ts';

export interface Run {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

export async function run(argv: string[], stdin = ''): Promise<Run> {
  const io = bufferIO(stdin);
  const code = await main(argv, io);
  return { code, out: io.out(), err: io.err() };
}

export function lastLine(s: string): string {
  const lines = s.trimEnd().split('\n');
  return lines[lines.length - 1] ?? '';
}

/** A temporary directory holding `files` (path → text); call `cleanup` when done. */
export function tempDir(files: Readonly<Record<string, string>>): { readonly dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-cli-'));
  for (const [rel, text] of Object.entries(files)) {
    const p = join(dir, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, text);
  }
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
