// The per-line work of `vigil replay`, the same on the main thread and on worker threads
// (cli/replay-worker.ts): a recorded line becomes slots, the pack (and the baseline) evaluate them,
// and decisions and rule hits are counted. Also how a file is cut into line-aligned chunks that any
// thread can take, and how the threads' counts merge back into one report in file order.
//
// Speed comes from doing per run what evaluateRecord (dsl/index.ts) does per event: the feature
// name → (slot, type) table is resolved once, one slots array is reused, hits are counted by rule
// index in typed arrays. The result is the same as evaluateRecord's by construction: a record this
// fast path does not fully understand (an unknown feature, a value of the wrong type, an unknown
// event type) goes through evaluateRecord itself, which also words the error.
import { closeSync, openSync, readSync } from 'node:fs';
import {
  evaluateRecord,
  formatValue,
  MemoryListBackend,
  resolveProbes,
  type CompiledPack,
  type Decision,
  type Scheme,
  type Slots,
} from '../dsl/index.ts';
import { errorMessage } from '../common/errors.ts';

export type Action = Decision['decision'];
/** Index order of the decision counters. */
export const ACTIONS: readonly Action[] = ['allow', 'step_up', 'block'];
const ACTION_INDEX: Readonly<Record<Action, number>> = { allow: 0, step_up: 1, block: 2 };

export const MAX_LISTED_ERRORS = 100;

export interface LineError {
  readonly line: number;
  readonly error: string;
}
export interface Change {
  readonly line: number;
  readonly from: Action;
  readonly to: Action;
  /** Enforcing rules the new pack matched. */
  readonly rules: readonly string[];
  /** Enforcing rules the baseline matched. */
  readonly baseline_rules: readonly string[];
}

/** What one chunk of the input left behind that depends on line numbers (1-based within the chunk). */
export interface ChunkRecord {
  readonly chunk: number;
  readonly lines: number;
  /** The chunk's first MAX_LISTED_ERRORS bad lines. */
  readonly errors: readonly LineError[];
  readonly changes: readonly Change[];
}

/** Counts of one thread (or of all, merged); plain data, so it crosses a worker boundary as is. */
export interface Tally {
  readonly events: number;
  readonly invalid: number;
  /** By ACTIONS index. */
  readonly decisions: Uint32Array;
  readonly baseDecisions: Uint32Array;
  /** Hits by the pack's rule index. */
  readonly enforce: Uint32Array;
  readonly shadow: Uint32Array;
  readonly chunks: readonly ChunkRecord[];
}

export interface ReplayPacks {
  readonly pack: CompiledPack;
  readonly baseline?: CompiledPack;
  readonly scheme: Scheme;
}

const BOOL = 0;
const NUMBER = 1;
const STRING = 2;
const IP = 3;
const REFUSED = 4;

interface FeatureEntry {
  /** The feature's slot, or -1 when neither pack reads it (its value is still checked). */
  readonly slot: number;
  readonly kind: number;
  readonly isEventType: boolean;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Four numbers 0–255 without leading zeros: the canonical text of an IPv4 address, as it is. */
const CANONICAL_V4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/**
 * The slot value of an `ip` feature (the canonical text), or undefined when the language would not
 * accept `raw` as is (the caller then asks evaluateRecord). The common case, an IPv4 address in
 * canonical form, is recognised by its shape. Otherwise formatValue answers canonicalIp(raw) ??
 * raw, so an unchanged answer means "already canonical" or "not an address"; a variant that only a
 * valid address maps back to `raw` tells the two apart: `::ffff:a.b.c.d` is `a.b.c.d` (dsl.md), and
 * hex digits are read in either case.
 */
export function ipSlotValue(raw: string): string | undefined {
  if (CANONICAL_V4.test(raw)) return raw;
  const c = formatValue(raw, 'ip');
  if (c !== raw) return c;
  if (!raw.includes(':')) return formatValue(`::ffff:${raw}`, 'ip') === raw ? raw : undefined;
  const upper = raw.toUpperCase();
  if (upper !== raw) return formatValue(upper, 'ip') === raw ? raw : undefined;
  return undefined;
}

function kindOf(type: string): number {
  switch (type) {
    case 'bool':
      return BOOL;
    case 'number':
    case 'duration':
      return NUMBER;
    case 'string':
      return STRING;
    case 'ip':
      return IP;
    default:
      return REFUSED;
  }
}

/** Evaluates lines and counts what they decide; one per thread. */
export class LineCounter {
  private readonly pack: CompiledPack;
  private readonly baseline: CompiledPack | undefined;
  private readonly scheme: Scheme;
  private readonly lists = new MemoryListBackend();
  private readonly features = new Map<string, FeatureEntry>();
  private readonly eventTypes: ReadonlySet<string>;
  private readonly typeSlot: number;
  /** False when the packs disagree on a slot: every record then goes through evaluateRecord. */
  private readonly fast: boolean;
  private readonly slots: Slots;
  private readonly baseSlots: Slots | undefined;
  private readonly ruleIndex: ReadonlyMap<string, number>;

  private events = 0;
  private invalid = 0;
  private readonly decisions = new Uint32Array(3);
  private readonly baseDecisions = new Uint32Array(3);
  private readonly enforce: Uint32Array;
  private readonly shadow: Uint32Array;
  private readonly chunks: ChunkRecord[] = [];
  private chunk = -1;
  private errors: LineError[] = [];
  private changes: Change[] = [];

  constructor(input: ReplayPacks) {
    this.pack = input.pack;
    this.baseline = input.baseline;
    this.scheme = input.scheme;
    this.eventTypes = new Set(input.scheme.eventTypes);
    let fast = true;
    for (const name of input.scheme.featureNames()) {
      const def = input.scheme.feature(name);
      if (!def) continue;
      const a = this.pack.slotOf(name);
      const b = this.baseline ? this.baseline.slotOf(name) : -1;
      if (a >= 0 && b >= 0 && a !== b) fast = false;
      this.features.set(name, { slot: a >= 0 ? a : b, kind: kindOf(def.type), isEventType: name === 'event.type' });
    }
    this.fast = fast;
    this.typeSlot = this.features.get('event.type')?.slot ?? -1;
    this.slots = new Array<Slots[number]>(this.pack.slotCount).fill(undefined);
    this.baseSlots = this.baseline ? new Array<Slots[number]>(this.baseline.slotCount).fill(undefined) : undefined;
    this.ruleIndex = new Map(this.pack.rules.map((r, i) => [r.name, i]));
    this.enforce = new Uint32Array(this.pack.rules.length);
    this.shadow = new Uint32Array(this.pack.rules.length);
  }

  /** Line numbers passed from now on are relative to chunk `index`. */
  beginChunk(index: number): void {
    this.chunk = index;
    this.errors = [];
    this.changes = [];
  }

  endChunk(lines: number): void {
    this.chunks.push({ chunk: this.chunk, lines, errors: this.errors, changes: this.changes });
  }

  bad(lineNo: number, error: string): void {
    this.invalid++;
    if (this.errors.length < MAX_LISTED_ERRORS) this.errors.push({ line: lineNo, error });
  }

  /**
   * One line of the input: blank lines are skipped, `{"event","features"}` records evaluated, bad
   * lines counted. An API request body is returned to the caller, which derives its features (an
   * asynchronous, stateful step) and hands them to `record`; otherwise undefined.
   */
  line(text: string, lineNo: number): Readonly<Record<string, unknown>> | undefined {
    // The common line is exactly one JSON object; anything else is trimmed first so that a parse
    // error quotes the same text whatever whitespace surrounds it.
    const s = text.charCodeAt(0) === 123 && text.charCodeAt(text.length - 1) === 125 ? text : text.trim();
    if (s.length === 0) return undefined;
    let v: unknown;
    try {
      v = JSON.parse(s);
    } catch (e) {
      this.bad(lineNo, `invalid JSON: ${errorMessage(e)}`);
      return undefined;
    }
    if (!isObject(v)) {
      this.bad(lineNo, 'expected a JSON object');
      return undefined;
    }
    if ('event' in v || 'features' in v) {
      if (typeof v.event !== 'string') this.bad(lineNo, '`event` must be an event type string');
      else if (!isObject(v.features)) this.bad(lineNo, '`features` must be an object of feature name → value');
      else this.record(v.event, v.features, lineNo);
      return undefined;
    }
    if ('type' in v || 'request' in v) return v;
    this.bad(lineNo, 'neither {"event","features"} nor an API request body (`type`, `user`, `ip`)');
    return undefined;
  }

  /** Evaluate one event given its feature record and count the outcome. */
  record(eventType: string, features: Readonly<Record<string, unknown>>, lineNo: number): void {
    if (this.fast && this.fill(eventType, features)) {
      this.evaluateSlots(eventType, lineNo);
      return;
    }
    const r = evaluateRecord(this.pack, eventType, features, { scheme: this.scheme, lists: this.lists });
    if (!r.ok) {
      this.bad(lineNo, r.errors.join('; '));
      return;
    }
    // Both packs share the scheme, so a record the new pack accepts the baseline accepts too.
    const rb = this.baseline ? evaluateRecord(this.baseline, eventType, features, { scheme: this.scheme, lists: this.lists }) : undefined;
    this.count(r.decision, rb?.ok ? rb.decision : undefined, lineNo);
  }

  /** Evaluate the event whose features `this.slots` holds. */
  private evaluateSlots(eventType: string, lineNo: number): void {
    resolveProbes(this.pack, this.slots, this.lists);
    const d = this.pack.evaluate(eventType, this.slots);
    let b: Decision | undefined;
    if (this.baseline && this.baseSlots) {
      const n = this.scheme.size;
      for (let i = 0; i < n; i++) this.baseSlots[i] = this.slots[i];
      resolveProbes(this.baseline, this.baseSlots, this.lists);
      b = this.baseline.evaluate(eventType, this.baseSlots);
    }
    this.count(d, b, lineNo);
  }

  private count(d: Decision, b: Decision | undefined, lineNo: number): void {
    this.events++;
    bump(this.decisions, ACTION_INDEX[d.decision]);
    for (const h of d.rules) bump(this.enforce, this.ruleIndex.get(h.name));
    for (const h of d.shadow) bump(this.shadow, this.ruleIndex.get(h.name));
    if (b === undefined) return;
    bump(this.baseDecisions, ACTION_INDEX[b.decision]);
    if (b.decision !== d.decision) {
      this.changes.push({
        line: lineNo,
        from: b.decision,
        to: d.decision,
        rules: d.rules.map((h) => h.name),
        baseline_rules: b.rules.map((h) => h.name),
      });
    }
  }

  /** The record into `this.slots`; false when evaluateRecord must look at it (it may be an error). */
  private fill(eventType: string, features: Readonly<Record<string, unknown>>): boolean {
    if (!this.eventTypes.has(eventType)) return false;
    const slots = this.slots;
    slots.fill(undefined);
    for (const name in features) {
      const f = this.features.get(name);
      if (f === undefined) return false;
      const raw = features[name];
      if (raw === null || raw === undefined) continue;
      let value: string | number | boolean | undefined;
      switch (f.kind) {
        case BOOL:
          if (typeof raw !== 'boolean') return false;
          value = raw;
          break;
        case NUMBER:
          if (typeof raw !== 'number' || !Number.isFinite(raw)) return false;
          value = raw;
          break;
        case STRING:
          if (typeof raw !== 'string') return false;
          value = raw;
          break;
        case IP:
          if (typeof raw !== 'string') return false;
          value = ipSlotValue(raw);
          if (value === undefined) return false;
          break;
        default:
          return false;
      }
      if (f.isEventType && value !== eventType) return false;
      if (f.slot >= 0) slots[f.slot] = value;
    }
    if (this.typeSlot >= 0) slots[this.typeSlot] = eventType;
    return true;
  }

  /** Events evaluated so far (for progress). */
  get evaluated(): number {
    return this.events;
  }

  tally(): Tally {
    return {
      events: this.events,
      invalid: this.invalid,
      decisions: this.decisions,
      baseDecisions: this.baseDecisions,
      enforce: this.enforce,
      shadow: this.shadow,
      chunks: this.chunks,
    };
  }
}

/**
 * Every line of `text` (chunk `index`, whole lines) through `counter`. Returns false, with the chunk
 * left unfinished, at the first API request body: those need the engine, in file order, on one
 * thread (cli/replay.ts then replays the whole file that way).
 */
export function countChunk(counter: LineCounter, text: string, index: number): boolean {
  counter.beginChunk(index);
  let lineNo = 0;
  let start = 0;
  while (start < text.length) {
    let nl = text.indexOf('\n', start);
    if (nl < 0) nl = text.length;
    if (counter.line(text.slice(start, nl), ++lineNo) !== undefined) return false;
    start = nl + 1;
  }
  counter.endChunk(lineNo);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Chunks of a file
// ---------------------------------------------------------------------------------------------

/** A byte range [start, end) of the events file that begins at a line start. */
export interface Chunk {
  readonly start: number;
  readonly end: number;
}

export const DEFAULT_CHUNK_BYTES = 1 << 20;
const PROBE_BYTES = 1 << 16;

/** Cut a file of `size` bytes into chunks of about `chunkBytes`, each starting right after a `\n`. */
export function lineAlignedChunks(path: string, size: number, chunkBytes: number): Chunk[] {
  const starts = [0];
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(PROBE_BYTES);
    let pos = chunkBytes;
    while (pos < size) {
      let found = -1;
      for (let p = pos; p < size && found < 0; p += PROBE_BYTES) {
        const n = readSync(fd, buf, 0, PROBE_BYTES, p);
        if (n === 0) break;
        const i = buf.subarray(0, n).indexOf(10);
        if (i >= 0) found = p + i + 1;
      }
      if (found < 0 || found >= size) break;
      starts.push(found);
      pos = found + chunkBytes;
    }
  } finally {
    closeSync(fd);
  }
  return starts.map((start, k) => ({ start, end: starts[k + 1] ?? size }));
}

/** Reads chunks of one file into text; one per thread (it keeps its buffer). */
export class ChunkReader {
  private readonly fd: number;
  private buf: Buffer = Buffer.alloc(0);

  constructor(path: string) {
    this.fd = openSync(path, 'r');
  }

  read(c: Chunk): string {
    const len = c.end - c.start;
    if (this.buf.length < len) this.buf = Buffer.allocUnsafe(len);
    let got = 0;
    while (got < len) {
      const n = readSync(this.fd, this.buf, got, len - got, c.start + got);
      if (n === 0) break;
      got += n;
    }
    return this.buf.toString('utf8', 0, got);
  }

  close(): void {
    closeSync(this.fd);
  }
}

// ---------------------------------------------------------------------------------------------
// Merging and the report
// ---------------------------------------------------------------------------------------------

function addInto(into: Uint32Array, from: Uint32Array): void {
  for (let i = 0; i < into.length; i++) into[i] = (into[i] ?? 0) + (from[i] ?? 0);
}

/** Count one at `i`; a rule name the pack does not know (it cannot happen: the names come from it) is not counted. */
function bump(counts: Uint32Array, i: number | undefined): void {
  if (i !== undefined && i < counts.length) counts[i] = (counts[i] ?? 0) + 1;
}

/** The counts of several threads as one, chunks in file order. */
export function mergeTallies(parts: readonly Tally[]): Tally {
  const first = parts[0]!;
  const decisions = new Uint32Array(3);
  const baseDecisions = new Uint32Array(3);
  const enforce = new Uint32Array(first.enforce.length);
  const shadow = new Uint32Array(first.shadow.length);
  let events = 0;
  let invalid = 0;
  const chunks: ChunkRecord[] = [];
  for (const p of parts) {
    events += p.events;
    invalid += p.invalid;
    addInto(decisions, p.decisions);
    addInto(baseDecisions, p.baseDecisions);
    addInto(enforce, p.enforce);
    addInto(shadow, p.shadow);
    chunks.push(...p.chunks);
  }
  chunks.sort((a, b) => a.chunk - b.chunk);
  return { events, invalid, decisions, baseDecisions, enforce, shadow, chunks };
}

/** Chunk-relative line numbers as file line numbers; the first MAX_LISTED_ERRORS errors of the file. */
export function inFileOrder(chunks: readonly ChunkRecord[]): { errors: LineError[]; changes: Change[] } {
  const errors: LineError[] = [];
  const changes: Change[] = [];
  let offset = 0;
  for (const c of chunks) {
    for (const e of c.errors) if (errors.length < MAX_LISTED_ERRORS) errors.push({ line: offset + e.line, error: e.error });
    for (const x of c.changes) changes.push({ ...x, line: offset + x.line });
    offset += c.lines;
  }
  return { errors, changes };
}
