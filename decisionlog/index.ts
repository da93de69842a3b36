// Placeholder for the decision log's public interface while the module is built on its own branch.
export type Decision = 'allow' | 'step_up' | 'block';
export type Outcome = 'succeeded' | 'failed' | 'challenge_passed' | 'challenge_failed';
export interface RuleHitRow { readonly name: string; readonly action: Decision | null; readonly score: number; readonly tags: readonly string[] }
export interface LogRow {
  readonly id: string;
  readonly time: number;
  readonly type: string;
  readonly user: string;
  readonly device: string | null;
  readonly ip: string;
  readonly prefix: string | null;
  readonly country: string | null;
  readonly asn: number | null;
  readonly decision: Decision;
  readonly score: number;
  readonly degraded: boolean;
  readonly rules: readonly RuleHitRow[];
  readonly shadow: readonly RuleHitRow[];
  /** Rules whose effect an override changed (engine EvaluateResult.overrides); absent: none. */
  readonly overrides?: readonly string[];
  readonly pack: { readonly name: string; readonly version: number; readonly hash: string };
  readonly modelVersion: string | null;
  readonly features: Readonly<Record<string, boolean | number | string | null>>;
  readonly ctx: Readonly<Record<string, unknown>>;
  readonly request: Readonly<Record<string, unknown>>;
  readonly outcome: Outcome | null;
  readonly outcomeAt: number | null;
}
export interface SearchQuery { user?: string; rule?: string; decision?: Decision; since?: number; until?: number; limit?: number; cursor?: string }
export interface SearchPage { rows: LogRow[]; nextCursor: string | null }
export interface DecisionLogStats { queued: number; written: number; spooled: number; spoolBytes: number; dropped: number; writeErrors: number; lastError: string | null }
export interface DecisionLog {
  readonly kind: 'postgres' | 'pglite';
  append(row: LogRow): void;
  setOutcome(id: string, outcome: Outcome, at: number): Promise<'ok' | 'not_found' | 'already'>;
  get(id: string): Promise<LogRow | null>;
  search(q: SearchQuery): Promise<SearchPage>;
  eraseUser(user: string): Promise<number>;
  scan(q: { since: number; until?: number }): AsyncIterable<LogRow>;
  flush(): Promise<void>;
  maintain(now?: number): Promise<void>;
  ping(): Promise<boolean>;
  readonly stats: DecisionLogStats;
  close(): Promise<void>;
}
