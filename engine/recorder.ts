// Recording evaluated events for training (`vigil train --events`): every decision's features
// (identifiers removed) and, later, the outcome the auth service reported, appended to an NDJSON file
// or a Redis stream. Off by default (VIGIL_RECORD). Recording never slows or fails an evaluation:
// rows are queued and written in the background, and a full queue drops rows (counted).
import { createWriteStream, type WriteStream } from 'node:fs';
import type { Cluster, Redis } from 'ioredis';

/** One evaluated event: `features` holds no raw identifier (no user.id, device.id, ip.address). */
export interface DecisionRow {
  readonly kind: 'decision';
  readonly decision_id: string;
  readonly time: string;
  readonly type: string;
  readonly decision: string;
  readonly score: number;
  readonly features: Readonly<Record<string, unknown>>;
}

/** The outcome of an earlier decision: the label for training and evaluation. */
export interface OutcomeRow {
  readonly kind: 'outcome';
  readonly decision_id: string;
  readonly outcome: string;
}

export type RecordRow = DecisionRow | OutcomeRow;

export interface Recorder {
  record(row: RecordRow): void;
  /** Rows dropped because the sink fell behind. */
  readonly dropped: number;
  close(): Promise<void>;
}

const MAX_QUEUED = 10_000;

/** Append NDJSON lines to `path` (created if missing). */
export function fileRecorder(path: string): Recorder {
  const out: WriteStream = createWriteStream(path, { flags: 'a' });
  let dropped = 0;
  let queued = 0;
  let failed = false;
  out.on('error', () => {
    failed = true;
  });
  return {
    record(row) {
      if (failed || queued >= MAX_QUEUED) {
        dropped++;
        return;
      }
      queued++;
      out.write(JSON.stringify(row) + '\n', () => {
        queued--;
      });
    },
    get dropped() {
      return dropped;
    },
    close: () => new Promise<void>((resolve) => out.end(() => resolve())),
  };
}

/** XADD each row to a capped Redis stream (`MAXLEN ~ maxLen`), field `row` = the JSON. */
export function redisStreamRecorder(client: Redis | Cluster, stream: string, maxLen = 1_000_000): Recorder {
  let dropped = 0;
  let inflight = 0;
  const pending = new Set<Promise<unknown>>();
  return {
    record(row) {
      if (inflight >= MAX_QUEUED) {
        dropped++;
        return;
      }
      inflight++;
      const p: Promise<unknown> = client
        .xadd(stream, 'MAXLEN', '~', String(maxLen), '*', 'row', JSON.stringify(row))
        .catch(() => {
          dropped++;
        })
        .finally(() => {
          inflight--;
          pending.delete(p);
        });
      pending.add(p);
    },
    get dropped() {
      return dropped;
    },
    close: async () => {
      await Promise.allSettled([...pending]);
    },
  };
}

/** `file:/path/x.ndjson` or `redis:stream-name` (VIGIL_RECORD). */
export type RecordTarget = { readonly kind: 'file'; readonly path: string } | { readonly kind: 'redis'; readonly stream: string };

export function parseRecordTarget(s: string): RecordTarget | null {
  if (s.startsWith('file:') && s.length > 5) return { kind: 'file', path: s.slice(5) };
  if (s.startsWith('redis:') && /^[A-Za-z0-9:_.\-{}]{1,200}$/.test(s.slice(6))) return { kind: 'redis', stream: s.slice(6) };
  return null;
}
