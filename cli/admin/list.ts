// `vigil list add|rm|ls NAME [ENTRY...]`: the live lists of a running server (GET, POST and DELETE
// /v1/lists/:name; NAME is the Redis name a pack declares in `list x: T = redis "NAME"`). An ENTRY
// of `-` reads entries from standard input, one a line (`#` comments and blank lines skipped). The
// server checks each entry against the list's kind; the answer, the list as it now stands, is
// printed. Arguments are declared in cli/main.ts.
import { UsageError } from '../args.ts';
import type { CliIO } from '../io.ts';
import { adminContext, EXIT_OK, printJson, request, runAdmin, type AdminContext, type AdminOptions, type Env } from './client.ts';
import { table } from './pack.ts';

interface ListView {
  readonly name: string;
  readonly kind: string;
  readonly entries: readonly { value: string; expires_at?: string }[];
}

export interface ListChangeOptions extends AdminOptions {
  readonly reason?: string;
  readonly ttl?: string;
}

async function entriesOf(given: readonly string[], io: CliIO): Promise<string[]> {
  const out: string[] = [];
  let stdin = false;
  for (const e of given) {
    if (e !== '-') {
      out.push(e);
      continue;
    }
    if (stdin) throw new UsageError('- (standard input) may be given once');
    stdin = true;
    for (const line of (await io.stdin()).split('\n')) {
      const v = line.replace(/#.*$/, '').trim();
      if (v !== '') out.push(v);
    }
  }
  if (out.length === 0) throw new UsageError('no entries given (standard input held none)');
  return out;
}

function path(name: string): string {
  return `/v1/lists/${encodeURIComponent(name)}`;
}

function show(ctx: AdminContext, view: ListView, headline?: string): void {
  if (ctx.json) {
    printJson(ctx, view);
    return;
  }
  const lines: string[] = [];
  if (headline) lines.push(headline);
  lines.push(`${view.name} (${view.kind} list): ${view.entries.length} ${view.entries.length === 1 ? 'entry' : 'entries'}`);
  if (view.entries.length > 0) lines.push(table(view.entries.map((e) => ['  ' + e.value, e.expires_at ? `expires ${e.expires_at}` : ''])));
  ctx.io.stdout(`${lines.join('\n')}\n`);
}

export async function listLs(name: string, o: AdminOptions, io: CliIO, env: Env): Promise<number> {
  const ctx = adminContext('vigil list ls', o, io, env);
  return runAdmin(ctx, async () => {
    show(ctx, await request<ListView>(ctx, 'GET', path(name)));
    return EXIT_OK;
  });
}

export async function listAdd(name: string, given: readonly string[], o: ListChangeOptions, io: CliIO, env: Env): Promise<number> {
  const ctx = adminContext('vigil list add', o, io, env);
  const entries = await entriesOf(given, io);
  return runAdmin(ctx, async () => {
    const view = await request<ListView>(ctx, 'POST', path(name), {
      body: { entries, ...(o.ttl !== undefined ? { ttl: o.ttl } : {}), ...(o.reason !== undefined ? { reason: o.reason } : {}) },
    });
    show(ctx, view, `added ${entries.length} ${entries.length === 1 ? 'entry' : 'entries'}${o.ttl !== undefined ? `, expiring in ${o.ttl}` : ''}`);
    return EXIT_OK;
  });
}

export async function listRm(name: string, given: readonly string[], o: ListChangeOptions, io: CliIO, env: Env): Promise<number> {
  const ctx = adminContext('vigil list rm', o, io, env);
  const entries = await entriesOf(given, io);
  return runAdmin(ctx, async () => {
    const view = await request<ListView>(ctx, 'DELETE', path(name), { body: { entries, ...(o.reason !== undefined ? { reason: o.reason } : {}) } });
    show(ctx, view, `removed ${entries.length} ${entries.length === 1 ? 'entry' : 'entries'} (those present)`);
    return EXIT_OK;
  });
}
