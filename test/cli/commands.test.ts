// The model and traffic commands are reachable through `vigil` and refuse bad usage with exit 2;
// `explain` reports an unreachable server or unknown decision as exit 1.
import { describe, expect, it } from 'vitest';
import { run } from './helpers.ts';
import { main } from '../../cli/main.ts';
import { bufferIO } from '../../cli/io.ts';

describe('model and traffic commands', () => {
  it('dispatches train, simulate and model eval, each with its own usage error', async () => {
    for (const argv of [['train'], ['simulate'], ['model', 'eval'], ['model'], ['explain']]) {
      const r = await run(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err, argv.join(' ')).toMatch(/usage/i);
    }
  });

  it('explain: exit 2 on a malformed id, 1 when Vigil cannot be reached', async () => {
    const io = bufferIO();
    expect(await main(['explain', 'not/an/id'], io, { env: {} })).toBe(2);
    expect(io.err()).toMatch(/^vigil explain: error: decision-id must be letters and digits/);
    const io2 = bufferIO();
    expect(await main(['explain', '01JD0000000000000000000000', '--url', 'http://127.0.0.1:9'], io2, { env: {} })).toBe(1);
    expect(io2.err()).toMatch(/^vigil explain: error: cannot reach/);
    const io3 = bufferIO();
    expect(await main(['explain', '01JD0000000000000000000000', '--url', 'ftp://x'], io3, { env: {} })).toBe(2);
  });
});
