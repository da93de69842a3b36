// `vigil audit [--since 24h|ISO] [--action A] [--limit N]`: the admin changes a running server
// recorded (GET /v1/audit), newest first: when, who, what, why, and the details (pack hashes, list
// names and counts — never an identifier). Arguments are declared in cli/main.ts; the action names
// are engine/audit.ts's.
import { AUDIT_ACTIONS } from '../../engine/audit.ts';
import { UsageError } from '../args.ts';
import type { CliIO } from '../io.ts';
import { adminContext, EXIT_OK, printJson, request, runAdmin, shortHash, type AdminOptions, type Env } from './client.ts';
import { FULL_HASH, table } from './pack.ts';

interface AuditJson {
  readonly entries: readonly { at: string; by: string; action: string; reason?: string; details: Record<string, unknown> }[];
}

export interface AuditOptions extends AdminOptions {
  readonly since?: string;
  readonly action?: string;
  readonly limit?: number;
}

/** Details in one line: scalars as k=v (pack hashes shortened), the rest as compact JSON. */
function detailText(d: Record<string, unknown>): string {
  return Object.entries(d)
    .map(([k, v]) => {
      if (typeof v === 'string') return `${k}=${FULL_HASH.test(v) ? shortHash(v) : v}`;
      return `${k}=${typeof v === 'number' || typeof v === 'boolean' || v === null ? String(v) : JSON.stringify(v)}`;
    })
    .join(' ');
}

export async function auditCommand(o: AuditOptions, io: CliIO, env: Env): Promise<number> {
  if (o.action !== undefined && !(AUDIT_ACTIONS as readonly string[]).includes(o.action)) {
    throw new UsageError(`--action must be one of ${AUDIT_ACTIONS.join(', ')}, got ${JSON.stringify(o.action)}`);
  }
  const ctx = adminContext('vigil audit', o, io, env);
  return runAdmin(ctx, async () => {
    const ans = await request<AuditJson>(ctx, 'GET', '/v1/audit', {
      query: { since: o.since, action: o.action, limit: o.limit !== undefined ? String(o.limit) : undefined },
    });
    if (ctx.json) {
      printJson(ctx, ans);
      return EXIT_OK;
    }
    if (ans.entries.length === 0) {
      io.stdout('no audit entries\n');
      return EXIT_OK;
    }
    const rows = [['WHEN', 'BY', 'ACTION', 'REASON', 'DETAILS'], ...ans.entries.map((e) => [e.at, e.by, e.action, e.reason ?? '', detailText(e.details)])];
    io.stdout(`${table(rows)}\n`);
    return EXIT_OK;
  });
}
