// The progress line of long commands (replay, simulate, train, model eval): one line on stderr,
// redrawn in place (`\r`, erase line), e.g. `replay: 40,000 events, 41% of 94.2 MB (12 s)`, and erased
// when the command ends. Drawn only when stderr is a terminal and the command does not print JSON:
// piped or redirected output, logs and `--json` runs get nothing extra. It appears only once a
// command has run for SHOW_AFTER_MS, so quick runs never flash a line.
import type { CliIO } from './io.ts';
import { performance } from 'node:perf_hooks';

export const SHOW_AFTER_MS = 1000;
const REDRAW_MS = 200;
const ERASE = '\r\x1b[2K';

export interface Progress {
  /**
   * The current state, without the label or the elapsed time; cheap to call often: `text` runs only
   * when the line is redrawn.
   */
  update(text: () => string): void;
  /** Redraw `text()` on a timer while the command waits on work it cannot report from. */
  whileWaiting(text: () => string): void;
  /** Erase the line; call once, when the command is done (also on failure). */
  done(): void;
}

const SILENT: Progress = { update() {}, whileWaiting() {}, done() {} };

export function progressEnabled(io: CliIO, json = false): boolean {
  return io.stderrIsTTY === true && !json;
}

export function startProgress(io: CliIO, label: string, opts: { json?: boolean } = {}): Progress {
  if (!progressEnabled(io, opts.json)) return SILENT;
  const now = io.now ?? (() => performance.now());
  const started = now();
  let lastDraw = -Infinity;
  let drawn = false;
  let finished = false;
  let timer: ReturnType<typeof setInterval> | undefined;
  const update = (text: () => string): void => {
    if (finished) return;
    const t = now();
    if (t - started < SHOW_AFTER_MS || t - lastDraw < REDRAW_MS) return;
    lastDraw = t;
    drawn = true;
    io.stderr(`${ERASE}${label}: ${text()} (${Math.round((t - started) / 1000)} s)`);
  };
  return {
    update,
    whileWaiting(text) {
      if (timer) clearInterval(timer);
      timer = setInterval(() => update(text), REDRAW_MS);
      timer.unref();
    },
    done() {
      finished = true;
      if (timer) clearInterval(timer);
      timer = undefined;
      if (drawn) io.stderr(ERASE);
      drawn = false;
    },
  };
}

/** `40000` → `40,000`: counts people read at a glance. */
export function count(n: number): string {
  return n.toLocaleString('en-US');
}
