// The progress line of long commands: drawn on stderr only when stderr is a terminal and the command
// does not print JSON, never before SHOW_AFTER_MS, redrawn in place and erased at the end. The
// terminal and the clock are injected (CliIO.stderrIsTTY, CliIO.now), so nothing here waits.
import { describe, expect, it } from 'vitest';
import { bufferIO } from '../../cli/io.ts';
import { main } from '../../cli/main.ts';
import { SHOW_AFTER_MS, startProgress } from '../../cli/progress.ts';

const ERASE = '\r\x1b[2K';

/** A clock the test moves by hand. */
function manualClock(): { now: () => number; advance(ms: number): void } {
  let t = 0;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

/** A clock that moves `step` ms every time it is read, so every update is "later". */
function racingClock(step: number): () => number {
  let t = 0;
  return () => (t += step);
}

describe('startProgress', () => {
  it('draws nothing before SHOW_AFTER_MS, then one line redrawn in place, erased by done()', () => {
    const clock = manualClock();
    const io = bufferIO('', { tty: true, now: clock.now });
    const p = startProgress(io, 'replay');
    p.update(() => '1 events');
    expect(io.err()).toBe('');
    clock.advance(SHOW_AFTER_MS);
    p.update(() => '2 events');
    expect(io.err()).toBe(`${ERASE}replay: 2 events (1 s)`);
    p.update(() => '3 events'); // too soon after the last draw
    expect(io.err()).toBe(`${ERASE}replay: 2 events (1 s)`);
    clock.advance(1500);
    p.update(() => '4 events');
    expect(io.err()).toBe(`${ERASE}replay: 2 events (1 s)${ERASE}replay: 4 events (3 s)`);
    p.done();
    expect(io.err().endsWith(ERASE)).toBe(true);
    clock.advance(5000);
    p.update(() => 'after the end');
    p.done();
    expect(io.err()).not.toContain('after the end');
    expect(io.err().split(ERASE)).toHaveLength(4);
  });

  it('is silent when stderr is not a terminal, or under --json', () => {
    for (const [tty, json] of [
      [false, false],
      [true, true],
    ] as const) {
      const io = bufferIO('', { tty, now: racingClock(10_000) });
      const p = startProgress(io, 'replay', { json });
      let asked = 0;
      p.update(() => `${++asked}`);
      p.done();
      expect(io.err()).toBe('');
      expect(asked).toBe(0);
    }
  });

  it('done() erases nothing when nothing was drawn', () => {
    const io = bufferIO('', { tty: true, now: manualClock().now });
    startProgress(io, 'train').done();
    expect(io.err()).toBe('');
  });
});

describe('vigil replay progress', () => {
  const args = ['replay', 'rules/login_core', 'examples/replay/events.ndjson'];

  it('on a terminal: a progress line, erased before the report', async () => {
    const io = bufferIO('', { tty: true, now: racingClock(2000) });
    expect(await main(args, io)).toBe(0);
    expect(io.err()).toMatch(/^\r\x1b\[2Kreplay: 22 events, 100% of 0\.0 MB \(\d+ s\)/);
    expect(io.err().endsWith(ERASE)).toBe(true);
    expect(io.out()).toContain('events 22');
  });

  it('piped, or with --json: nothing but the report', async () => {
    const piped = bufferIO('', { tty: false, now: racingClock(2000) });
    expect(await main(args, piped)).toBe(0);
    expect(piped.err()).toBe('');
    const json = bufferIO('', { tty: true, now: racingClock(2000) });
    expect(await main([...args, '--json'], json)).toBe(0);
    expect(json.err()).toBe('');
    expect(JSON.parse(json.out())).toMatchObject({ events: 22 });
  });
});
