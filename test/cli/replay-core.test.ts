// replay's per-line path (cli/replay-core.ts) decides and words everything exactly as
// evaluateRecord (dsl/index.ts) does line by line — the way replay worked before it resolved the
// feature table once and reused its slots: same decisions, same rule hits, same error text, on
// awkward values (addresses in every spelling, nulls, repeated keys, wrong types, unknown names,
// mismatched event types), whether or not a value takes the fast path.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePack, evaluateRecord, formatValue, loadPackDir, MemoryListBackend, type CompiledPack } from '../../dsl/index.ts';
import { VIGIL_SCHEME } from '../../features/catalog.ts';
import { ipSlotValue, LineCounter, type Tally } from '../../cli/replay-core.ts';

const pack: CompiledPack = compilePack(loadPackDir('rules/login_core'), { scheme: VIGIL_SCHEME }).pack!;

/** What one line yields under the old algorithm: JSON.parse, then evaluateRecord. */
function reference(line: string): { decision: string; rules: string[]; shadow: string[] } | { error: string } | null {
  const text = line.trim();
  if (text === '') return null;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return { error: `invalid JSON: ${(e as Error).message}` };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { error: 'expected a JSON object' };
  const o = v as Record<string, unknown>;
  if (!('event' in o || 'features' in o)) return { error: 'neither {"event","features"} nor an API request body (`type`, `user`, `ip`)' };
  if (typeof o.event !== 'string') return { error: '`event` must be an event type string' };
  if (typeof o.features !== 'object' || o.features === null || Array.isArray(o.features)) return { error: '`features` must be an object of feature name → value' };
  const r = evaluateRecord(pack, o.event, o.features as Record<string, unknown>, { scheme: VIGIL_SCHEME, lists: new MemoryListBackend() });
  if (!r.ok) return { error: r.errors.join('; ') };
  return { decision: r.decision.decision, rules: r.decision.rules.map((h) => h.name), shadow: r.decision.shadow.map((h) => h.name) };
}

/** The same line through LineCounter, read back from its counts. */
function counted(line: string): ReturnType<typeof reference> {
  const c = new LineCounter({ pack, scheme: VIGIL_SCHEME });
  c.beginChunk(0);
  expect(c.line(line, 1)).toBeUndefined();
  c.endChunk(1);
  const t: Tally = c.tally();
  if (t.invalid === 1) return { error: t.chunks[0]!.errors[0]!.error };
  if (t.events === 0) return null;
  const names = (hits: Uint32Array): string[] => pack.rules.flatMap((r, i) => (hits[i]! > 0 ? [r.name] : []));
  const decision = ['allow', 'step_up', 'block'][t.decisions.findIndex((n) => n === 1)]!;
  return { decision, rules: names(t.enforce).sort(), shadow: names(t.shadow).sort() };
}

function sameAsReference(line: string): void {
  const ref = reference(line);
  const got = counted(line);
  if (ref !== null && 'rules' in ref) {
    ref.rules.sort();
    ref.shadow.sort();
  }
  expect(got, line).toEqual(ref);
}

const ADDRESSES = [
  '203.0.113.77',
  '10.1.2.3',
  '0.0.0.0',
  '255.255.255.255',
  '256.1.1.1',
  '1.2.3.4\n',
  '1.2.3.4 ',
  '١.2.3.4',
  '010.1.2.3',
  '1.2.3',
  '1.2.3.4.5',
  '::ffff:203.0.113.77',
  '::FFFF:203.0.113.77',
  '::ffff:cb00:714d',
  '2001:db8::1',
  '2001:DB8::1',
  '2001:0db8:0:0:0:0:0:1',
  '2001::1',
  '::1',
  '::',
  '1::',
  'fe80::1%eth0',
  '::ffff:1234',
  '1234',
  '',
  ' 1.2.3.4',
  'gggg::1',
  '2001:db8::g',
  'x'.repeat(70),
];

describe('ipSlotValue', () => {
  it.each(ADDRESSES)('%j: the canonical text exactly when the language accepts the address', (a) => {
    const accepted = evaluateRecord(pack, 'login', { 'ip.address': a }, { scheme: VIGIL_SCHEME }).ok;
    const v = ipSlotValue(a);
    if (v !== undefined) {
      expect(accepted).toBe(true);
      expect(v).toBe(formatValue(a, 'ip'));
    }
    // undefined may also mean "ask evaluateRecord" (a canonical IPv6 without hex letters).
    if (!accepted) expect(v).toBeUndefined();
  });
});

describe('LineCounter against evaluateRecord', () => {
  it.each([
    '{"event":"login","features":{"velocity.ip_failed_10m":80,"ip.address":"203.0.113.9"}}',
    '{"event":"login","features":{}}',
    '{"event":"recovery","features":{"geo.tor":true,"ip.address":"::FFFF:203.0.113.77","engine.degraded":null}}',
    '{"event":"login","features":{"velocity.ip_failed_10m":80,"velocity.ip_failed_10m":null}}',
    '{"event":"login","features":{"velocity.ip_failed_10m":"many","velocity.ip_failed_10m":80}}',
    '{"event":"login","features":{"event.type":"recovery"}}',
    '{"event":"login","features":{"event.type":"login","event.type":null}}',
    '{"event":"logout","features":{}}',
    '{"event":"login","features":{"geo.contry":"GB"}}',
    '{"event":"login","features":{"__proto__":{"x":1}}}',
    '{"event":"login","features":{"velocity.ip_failed_10m":1e400}}',
    '{"event":"login","features":{"user.age":-5,"user.mfa":"yes"}}',
    '{"event":"login","features":{"ip.address":"2001::1"}}',
    '{"event":"login","features":{"ip.address":"2001:DB8::1"}}',
    '{"event":"login","features":{"ip.address":"not an ip"}}',
    '{"event":"login","features":{"geo.country":["GB"]}}',
    '{"event":"login","features":[]}',
    '{"event":1,"features":{}}',
    '{"type":"x","event":"login","features":{}}',
    '{"features":{}}',
    '{"something":"else"}',
    '[1,2]',
    'not json',
    '  {"event":"login","features":{"velocity.ip_failed_10m":80}}  ',
    '{"event":"login","features":{"velocity.ip_failed_10m":80}}\r',
    '   ',
  ])('%s', (line) => sameAsReference(line));

  it('random records over the whole catalog, with values of every type', () => {
    const names = [...VIGIL_SCHEME.featureNames(), 'geo.contry', 'nope'];
    const value = fc.oneof(
      fc.constantFrom<unknown>(null, true, false, 0, -0, 1, 80, 1.5, -3, 1e12, '', 'GB', 'login', 'recovery', [], {}),
      fc.constantFrom(...ADDRESSES),
      fc.integer({ min: -10, max: 100 }),
      fc.string({ maxLength: 6 }),
    );
    const line = fc
      .tuple(fc.constantFrom('login', 'recovery', 'logout'), fc.array(fc.tuple(fc.constantFrom(...names), value), { maxLength: 12 }))
      .map(([event, pairs]) => `{"event":${JSON.stringify(event)},"features":{${pairs.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}}`);
    fc.assert(
      fc.property(line, (l) => {
        sameAsReference(l);
      }),
      { numRuns: 400 },
    );
  });
});
