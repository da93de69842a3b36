// A generator of realistic rule packs for the DSL benchmark, as a small rule model that can be
// written in Vigil's language (toVigilPack) and translated into other engines' syntax
// (bench/lib/competitors.ts), plus a reference evaluator of the model (referenceMatch, decide) that
// every engine's answers are checked against, so the speed comparison compares the same work.
//
// The mix follows a real pack (rules/login_core/): numeric thresholds on velocity/score features,
// durations, string equality, `in` lists (inline and named), bool flags, and/or/not, some `??`
// defaults, `on` event-type lists, scores, actions, shadow rules and rendered reasons.
// Thresholds are drawn from the distribution of the benchmark's own events (bench/lib/events.ts),
// so a realistic few rules match each event.
import { ASNS, BROWSERS, COUNTRIES, DEVICE_TYPES, OSES, generateEvents, type BenchEvent, type FeatureValue } from './events.ts';
import { rng, type Rng } from './random.ts';

export type EventType = 'login' | 'recovery';
export type Action = 'allow' | 'step_up' | 'block';
export type CmpOp = '>' | '>=' | '<' | '<=' | '==' | '!=';

export type Lit =
  /** `feature op value`, or `(feature ?? dflt) op value` when dflt is set. Durations in seconds. */
  | { kind: 'num'; feature: string; duration: boolean; op: CmpOp; value: number; dflt?: number }
  | { kind: 'str'; feature: string; op: '==' | '!='; value: string }
  /** `feature in [...]` / `not in`; `list` names a pack list holding `values`. */
  | { kind: 'in'; feature: string; elem: 'string' | 'number'; values: readonly (string | number)[]; negate: boolean; list?: string }
  /** `feature` (value true) or `not feature` (value false). */
  | { kind: 'bool'; feature: string; value: boolean };

export type Cond = Lit | { kind: 'and' | 'or'; items: readonly Cond[] } | { kind: 'not'; item: Cond };

export interface GenRule {
  readonly name: string;
  readonly on: readonly EventType[] | null;
  readonly when: Cond;
  readonly action: Action | null;
  readonly score: number;
  readonly shadow: boolean;
  readonly reason: string | null;
  readonly description: string | null;
  readonly tags: readonly string[];
}

export interface PolicyLine {
  readonly action: Action;
  readonly minScore: number;
}

export interface GenPack {
  readonly name: string;
  readonly rules: readonly GenRule[];
  readonly lists: ReadonlyMap<string, { elem: 'string' | 'number'; values: readonly (string | number)[] }>;
  /** Default policy and per-event-type overrides: first line whose `score >= minScore` holds. */
  readonly policy: { readonly default: readonly PolicyLine[]; readonly byType: Readonly<Partial<Record<EventType, readonly PolicyLine[]>>> };
}

const NUMERIC = [
  'velocity.ip_failed_10m',
  'velocity.ip_failed_1h',
  'velocity.ip_users_1h',
  'velocity.subnet_failed_1h',
  'velocity.user_failed_1h',
  'velocity.user_ips_24h',
  'velocity.user_recovery_24h',
  'device.users_24h',
  'rba.score',
  'model.anomaly',
  'history.travel_kmh',
  'history.logins',
  'geo.lat',
];
const DURATIONS = ['user.age', 'history.since_last_login'];
const STRINGS = ['geo.country', 'ua.browser', 'ua.os', 'ua.device_type', 'history.last_country', 'geo.asn_org', 'geo.city'];
const BOOLS = [
  'device.known',
  'user.mfa',
  'history.known_country',
  'history.known_asn',
  'history.known_ip',
  'history.known_ua',
  'geo.anonymous',
  'geo.vpn',
  'geo.tor',
  'geo.hosting',
  'geo.proxy',
  'ip.private',
  'engine.degraded',
];
const EXTRA_COUNTRIES = ['KP', 'IR', 'SY', 'BY', 'VE', 'PK', 'BD', 'EG', 'TH', 'PH'];
const TAGS = ['ato', 'stuffing', 'geo', 'device', 'recovery', 'model', 'velocity', 'network'];

function quantiles(events: readonly BenchEvent[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const name of [...NUMERIC, ...DURATIONS, 'event.hour', 'geo.asn']) {
    const xs: number[] = [];
    for (const e of events) {
      const v = e.features[name];
      if (typeof v === 'number') xs.push(v);
    }
    out.set(
      name,
      xs.sort((a, b) => a - b),
    );
  }
  return out;
}

function roundNice(v: number, feature: string): number {
  if (feature === 'model.anomaly') return Math.round(v * 100) / 100;
  if (feature === 'geo.lat') return Math.round(v);
  if (feature === 'rba.score') return Math.max(1, Math.round(v));
  return Math.max(0, Math.round(v));
}

function roundDuration(seconds: number): number {
  const units = [86400, 3600, 60];
  for (const u of units) if (seconds >= u * 2) return Math.max(1, Math.round(seconds / u)) * u;
  return Math.max(1, Math.round(seconds));
}

class Generator {
  private readonly lists = new Map<string, { elem: 'string' | 'number'; values: (string | number)[]; shape: string }>();

  constructor(
    private readonly r: Rng,
    private readonly q: Map<string, number[]>,
  ) {}

  /** A threshold few events cross: a high quantile (low for `<` rules), never a bound all pass. */
  private threshold(feature: string, high: boolean): number {
    const xs = this.q.get(feature)!;
    const at = high ? 0.9 + this.r.next() * 0.099 : 0.001 + this.r.next() * 0.1;
    let v = xs[Math.min(xs.length - 1, Math.floor(at * xs.length))] ?? 0;
    if (high && v <= xs[0]!) v = xs.find((x) => x > xs[0]!) ?? v + 1;
    return DURATIONS.includes(feature) ? roundDuration(v) : roundNice(v, feature);
  }

  /** A numeric literal; selective (few events pass) unless `loose`. */
  numLit(): Lit {
    const r = this.r;
    const duration = r.chance(0.15);
    const feature = duration ? r.pick(DURATIONS) : r.chance(0.08) ? r.pick(['event.hour', 'geo.asn']) : r.pick(NUMERIC);
    if (feature === 'event.hour' || feature === 'geo.asn') {
      const value = feature === 'event.hour' ? r.int(0, 23) : r.pick(ASNS)[0];
      return { kind: 'num', feature, duration: false, op: '==', value };
    }
    // Velocity and score rules look for high values; age and history rules for low ones.
    // Low values are the rare, risky end only for account age and history size.
    const high = feature === 'user.age' || feature === 'history.logins' ? r.chance(0.2) : true;
    const op: CmpOp = high ? r.pick(['>', '>='] as const) : '<';
    const value = this.threshold(feature, high);
    const lit: Lit = { kind: 'num', feature, duration, op, value };
    if (r.chance(0.15)) return { ...lit, dflt: high ? 0 : r.chance(0.5) ? 0 : value * 10 };
    return lit;
  }

  /** String equality; `!=` (frequent) only where `negatable`. */
  strLit(negatable: boolean): Lit {
    const r = this.r;
    const feature = r.pick(STRINGS);
    const domain: Record<string, readonly string[]> = {
      'geo.country': [...COUNTRIES, ...EXTRA_COUNTRIES],
      'history.last_country': COUNTRIES,
      'ua.browser': BROWSERS,
      'ua.os': OSES,
      'ua.device_type': DEVICE_TYPES,
      'geo.asn_org': ASNS.map((a) => a[1]),
      'geo.city': ['London', 'Berlin', 'Lagos', 'Tokyo', 'Springfield'],
    };
    return { kind: 'str', feature, op: negatable && r.chance(0.2) ? '!=' : '==', value: r.pick(domain[feature]!) };
  }

  /** List membership; `not in` (frequent) only where `negatable`. */
  inLit(negatable: boolean): Lit {
    const r = this.r;
    const negate = negatable && r.chance(0.2);
    const shape = r.weighted([
      ['country', 5],
      ['asn', 3],
      ['browser', 2],
    ] as const);
    const feature = shape === 'country' ? r.pick(['geo.country', 'history.last_country']) : shape === 'asn' ? 'geo.asn' : 'ua.browser';
    // Lists name what is rare: high-risk countries, hosting networks, automation clients.
    const hostingAsns = ASNS.filter((a) => a[2]).map((a) => a[0]);
    const elem = shape === 'asn' ? 'number' : 'string';
    const useList = r.chance(0.5);
    if (useList && this.lists.size > 0 && r.chance(0.6)) {
      const same = [...this.lists.entries()].filter(([, l]) => l.shape === shape);
      if (same.length > 0) {
        const [name, l] = r.pick(same);
        return { kind: 'in', feature, elem, values: l.values, negate, list: name };
      }
    }
    const values: (string | number)[] =
      shape === 'country'
        ? r.sample([...COUNTRIES.slice(8), ...EXTRA_COUNTRIES], r.int(3, 12))
        : shape === 'asn'
          ? [...r.sample(hostingAsns, r.int(1, 4)), ...Array.from({ length: r.int(0, 20) }, () => r.int(1000, 400000))]
          : r.sample(BROWSERS.slice(5), r.int(1, 3));
    if (!useList) return { kind: 'in', feature, elem, values, negate };
    const name = `${shape}_set_${this.lists.size + 1}`;
    this.lists.set(name, { elem, values, shape });
    return { kind: 'in', feature, elem, values, negate, list: name };
  }

  boolLit(): Lit {
    const r = this.r;
    const feature = r.pick(BOOLS);
    // Risk flags are tested for true, trust signals (known, mfa) for false.
    const trust = feature.includes('known') || feature === 'user.mfa';
    return { kind: 'bool', feature, value: trust ? r.chance(0.1) : r.chance(0.9) };
  }

  /** Any literal; `negatable` where a frequent one is fine (after a selective one in an `and`). */
  lit(negatable: boolean): Lit {
    return this.r.weighted<() => Lit>([
      [() => this.numLit(), 45],
      [() => this.boolLit(), 25],
      [() => this.strLit(negatable), 15],
      [() => this.inLit(negatable), 15],
    ])();
  }

  cond(): Cond {
    const r = this.r;
    const shape = r.weighted([
      ['single', 25],
      ['and', 35],
      ['or', 15],
      ['and_or', 15],
      ['not', 10],
    ] as const);
    // The first literal of a compound rule is a selective one, as analysts write them.
    switch (shape) {
      case 'single':
        return r.chance(0.7) ? this.numLit() : this.inLit(false);
      case 'and':
        return { kind: 'and', items: [this.numLit(), ...Array.from({ length: r.int(1, 2) }, () => this.lit(true))] };
      case 'or':
        return { kind: 'or', items: [this.numLit(), r.chance(0.5) ? this.numLit() : this.lit(false)] };
      case 'and_or':
        return { kind: 'and', items: [this.lit(true), { kind: 'or', items: [this.numLit(), this.lit(false)] }] };
      case 'not':
        return r.chance(0.5)
          ? { kind: 'and', items: [this.numLit(), { kind: 'not', item: { kind: 'or', items: [this.lit(false), this.lit(false)] } }] }
          : { kind: 'and', items: [this.numLit(), { kind: 'not', item: { kind: 'and', items: [this.lit(false), this.lit(false)] } }] };
    }
  }

  rule(i: number): GenRule {
    const r = this.r;
    const when = this.cond();
    const first = firstLit(when);
    const action = r.weighted<Action | null>([
      ['step_up', 30],
      ['block', 8],
      ['allow', 2],
      [null, 60],
    ]);
    const score = action === 'allow' ? r.chance(0.5) ? 0 : -20 : action === 'block' ? r.int(10, 16) * 5 : r.int(1, 8) * 5;
    return {
      name: `r${String(i).padStart(3, '0')}_${first.feature.replace('.', '_')}`,
      on: r.weighted<readonly EventType[] | null>([
        [null, 55],
        [['login'], 35],
        [['recovery'], 10],
      ]),
      when,
      action,
      score,
      shadow: r.chance(0.05),
      reason: r.chance(0.3) ? `${first.feature} is {${first.feature}} on ${i}` : null,
      description: r.chance(0.2) ? `generated rule ${i} over ${first.feature}` : null,
      tags: r.chance(0.3) ? r.sample(TAGS, r.int(1, 2)) : [],
    };
  }

  namedLists(): ReadonlyMap<string, { elem: 'string' | 'number'; values: readonly (string | number)[] }> {
    return this.lists;
  }
}

function firstLit(c: Cond): Lit {
  if ('items' in c) return firstLit(c.items[0]!);
  if ('item' in c) return firstLit(c.item);
  return c;
}

/** A pack of `n` rules, deterministic for a seed. */
export function generatePack(n: number, seed = 500): GenPack {
  const g = new Generator(rng(seed), quantiles(generateEvents(3000, seed + 1)));
  const rules = Array.from({ length: n }, (_, i) => g.rule(i));
  return {
    name: 'bench_generated',
    rules,
    lists: g.namedLists(),
    policy: {
      default: [
        { action: 'block', minScore: 90 },
        { action: 'step_up', minScore: 50 },
      ],
      byType: {
        recovery: [
          { action: 'block', minScore: 70 },
          { action: 'step_up', minScore: 30 },
        ],
      },
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Reference semantics (dsl.md §3-4): three-valued logic, missing values, decision.
// ---------------------------------------------------------------------------------------------

export type Features = Readonly<Record<string, FeatureValue>>;

function compare(a: number | string, op: CmpOp, b: number | string): boolean {
  switch (op) {
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '==':
      return a === b;
    case '!=':
      return a !== b;
  }
}

/** A literal's value for one event: true, false, or undefined (missing). */
export function litValue(l: Lit, f: Features): boolean | undefined {
  const raw = f[l.feature];
  switch (l.kind) {
    case 'num': {
      const v = typeof raw === 'number' ? raw : l.dflt;
      return v === undefined ? undefined : compare(v, l.op, l.value);
    }
    case 'str':
      return typeof raw === 'string' ? compare(raw, l.op, l.value) : undefined;
    case 'in':
      return raw === undefined ? undefined : l.values.includes(raw as string | number) !== l.negate;
    case 'bool':
      return typeof raw === 'boolean' ? raw === l.value : undefined;
  }
}

export function condValue(c: Cond, f: Features): boolean | undefined {
  switch (c.kind) {
    case 'and': {
      let result: boolean | undefined = true;
      for (const x of c.items) {
        const v = condValue(x, f);
        if (v === false) return false;
        if (v === undefined) result = undefined;
      }
      return result;
    }
    case 'or': {
      let result: boolean | undefined = false;
      for (const x of c.items) {
        const v = condValue(x, f);
        if (v === true) return true;
        if (v === undefined) result = undefined;
      }
      return result;
    }
    case 'not': {
      const v = condValue(c.item, f);
      return v === undefined ? undefined : !v;
    }
    default:
      return litValue(c, f);
  }
}

export function appliesTo(rule: GenRule, type: EventType): boolean {
  return rule.on === null || rule.on.includes(type);
}

/** Names of the rules (enforcing and shadow) whose `when` is true for the event. */
export function referenceMatch(pack: GenPack, e: BenchEvent): string[] {
  return pack.rules.filter((r) => appliesTo(r, e.type) && condValue(r.when, e.features) === true).map((r) => r.name);
}

const SEVERITY: Record<Action, number> = { allow: 0, step_up: 1, block: 2 };

/** dsl.md §4 over matched rules (the decision every engine's matches are turned into). */
export function decide(pack: GenPack, type: EventType, matched: readonly GenRule[]): { decision: Action; score: number } {
  let sum = 0;
  let block = false;
  let allow = false;
  let stepUp = false;
  for (const r of matched) {
    if (r.shadow) continue;
    sum += r.score;
    if (r.action === 'block') block = true;
    else if (r.action === 'allow') allow = true;
    else if (r.action === 'step_up') stepUp = true;
  }
  const score = Math.max(0, Math.min(100, sum));
  if (block) return { decision: 'block', score };
  if (allow) return { decision: 'allow', score };
  const lines = pack.policy.byType[type] ?? pack.policy.default;
  let policy: Action = 'allow';
  for (const l of lines) {
    if (score >= l.minScore) {
      policy = l.action;
      break;
    }
  }
  const decision = stepUp && SEVERITY.step_up > SEVERITY[policy] ? 'step_up' : policy;
  return { decision, score };
}

// ---------------------------------------------------------------------------------------------
// Vigil syntax
// ---------------------------------------------------------------------------------------------

function durationText(seconds: number): string {
  for (const [u, s] of [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
  ] as const) {
    if (seconds % s === 0) return `${seconds / s}${u}`;
  }
  return `${seconds}s`;
}

function vigilScalar(v: string | number, duration = false): string {
  if (typeof v === 'string') return JSON.stringify(v);
  return duration ? durationText(v) : String(v);
}

function vigilLit(l: Lit): string {
  switch (l.kind) {
    case 'num': {
      const left = l.dflt === undefined ? l.feature : `(${l.feature} ?? ${vigilScalar(l.dflt, l.duration)})`;
      return `${left} ${l.op} ${vigilScalar(l.value, l.duration)}`;
    }
    case 'str':
      return `${l.feature} ${l.op} ${vigilScalar(l.value)}`;
    case 'in':
      return `${l.feature} ${l.negate ? 'not in' : 'in'} ${l.list ?? `[${l.values.map((v) => vigilScalar(v)).join(', ')}]`}`;
    case 'bool':
      return l.value ? l.feature : `not ${l.feature}`;
  }
}

export function vigilCond(c: Cond): string {
  switch (c.kind) {
    case 'and':
    case 'or':
      return c.items.map((x) => (x.kind === 'and' || x.kind === 'or' || x.kind === 'not' ? `(${vigilCond(x)})` : vigilCond(x))).join(` ${c.kind} `);
    case 'not':
      return `not (${vigilCond(c.item)})`;
    default:
      return vigilLit(c);
  }
}

/** The pack as one `.rules` file. */
export function toVigilPack(pack: GenPack): string {
  const out: string[] = [`# Generated by bench/lib/rulegen.ts: ${pack.rules.length} rules.`, `pack ${pack.name} version 1`, ''];
  for (const [name, l] of pack.lists) out.push(`list ${name}: ${l.elem} = [${l.values.map((v) => vigilScalar(v)).join(', ')}]`);
  out.push('');
  for (const r of pack.rules) {
    out.push(`rule ${r.name} {`);
    if (r.description !== null) out.push(`  description ${JSON.stringify(r.description)}`);
    if (r.on !== null) out.push(`  on ${r.on.join(', ')}`);
    out.push(`  when ${vigilCond(r.when)}`);
    if (r.action !== null) out.push(`  then ${r.action}`);
    out.push(`  score ${r.score}`);
    if (r.reason !== null) out.push(`  reason ${JSON.stringify(r.reason)}`);
    if (r.tags.length > 0) out.push(`  tags ${r.tags.join(', ')}`);
    if (r.shadow) out.push('  mode shadow');
    out.push('}', '');
  }
  const policy = (lines: readonly PolicyLine[]): string[] => lines.map((l) => `  ${l.action} when score >= ${l.minScore}`);
  out.push('policy {', ...policy(pack.policy.default), '}');
  for (const [type, lines] of Object.entries(pack.policy.byType)) out.push(`policy ${type} {`, ...policy(lines), '}');
  return `${out.join('\n')}\n`;
}
