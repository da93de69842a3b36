// `vigil pack push|status|history|rollback` against a running server (PUT /v1/packs/active, GET
// /v1/packs, POST /v1/packs/rollback). A push uploads exactly the files the pack uses (its `.rules`
// files and the `file` lists they read, as the server records a VIGIL_RULES directory); a refusal's
// diagnostics and failing tests, which the server reports with spans into the uploaded files, are
// rendered against the local files as `vigil check` renders them. `vigil pack diff` lives in
// pack-diff.ts. Arguments are declared in cli/main.ts; what the history means is docs/api.md.
import { basename, dirname, join } from 'node:path';
import { statSync } from 'node:fs';
import { errorMessage } from '../../common/errors.ts';
import { compilePack, loadPackDir, PackLoadError, renderDiagnostics, type Diagnostic, type DiagnosticCode, type PackSource, type Scheme } from '../../dsl/index.ts';
import { UsageError } from '../args.ts';
import type { CliIO } from '../io.ts';
import { plural } from '../packs.ts';
import { adminContext, EXIT_OK, EXIT_REFUSED, printJson, Refused, request, runAdmin, shortHash, type AdminContext, type AdminOptions, type Env } from './client.ts';

/** A history entry as the server lists it (`action` and `previous_hash` absent on older servers). */
export interface MetaJson {
  readonly id: string;
  readonly name: string;
  readonly version: number;
  readonly hash: string;
  readonly activated_at: string;
  readonly by: string;
  readonly source: string;
  readonly action?: string;
  readonly previous_hash?: string | null;
  readonly reason?: string;
  readonly forced?: boolean;
}

export interface ListJson {
  readonly active: MetaJson | null;
  readonly history: readonly MetaJson[];
  readonly shadow?: MetaJson | null;
}

export interface DiffJson {
  readonly rules_added: readonly string[];
  readonly rules_removed: readonly string[];
  readonly rules_changed: readonly string[];
  readonly files_changed: readonly string[];
}

interface DiagJson {
  readonly code: string;
  readonly severity: string;
  readonly message: string;
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly offset?: number;
  readonly end?: number;
  readonly hint?: string;
}

interface TestsJson {
  readonly passed: number;
  readonly failed: number;
  readonly failures?: readonly { name: string; file: string; line: number; col: number; failures: readonly string[] }[];
}

interface CheckJson {
  readonly error?: string | null;
  readonly diagnostics?: readonly DiagJson[];
  readonly tests?: TestsJson;
}

interface PushAnswer extends CheckJson {
  readonly status: 'activated' | 'unchanged';
  readonly active: MetaJson;
  readonly diff?: DiffJson;
}

interface RollbackAnswer {
  readonly status: 'rolled_back';
  readonly active: MetaJson;
  readonly from: MetaJson;
  readonly diff: DiffJson;
}

export const FULL_HASH = /^sha256:[0-9a-f]{64}$/;

// ------------------------------------------------------------------------------------------------
// The local pack
// ------------------------------------------------------------------------------------------------

/** A pack read from disk: the files to upload (relative path → text) and where they live. */
export interface LocalPack {
  readonly files: Readonly<Record<string, string>>;
  /** The directory the relative paths start from (the pack directory, or the file's). */
  readonly base: string;
}

/**
 * The files a pack at `path` uses: its `.rules` files and every list file the compiler reads. The
 * local compile only finds them; whether the pack is good is the server's answer.
 */
export function readLocalPack(path: string, scheme: Scheme): { ok: true; pack: LocalPack } | { ok: false; message: string } {
  let src: PackSource;
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
    src = loadPackDir(path);
  } catch (e) {
    if (e instanceof PackLoadError) return { ok: false, message: e.message };
    const code = (e as NodeJS.ErrnoException).code;
    return { ok: false, message: code === 'ENOENT' ? `${path}: no such pack (file or directory not found)` : `${path}: ${errorMessage(e)}` };
  }
  const files: Record<string, string> = {};
  for (const r of src.rules) files[basename(r.path)] = r.text;
  // The DSL tracks reads per source object (for the pack hash), so the object is patched, not wrapped.
  const read = src.readFile.bind(src);
  (src as { readFile: PackSource['readFile'] }).readFile = (rel) => {
    const r = read(rel);
    if (r.ok) files[rel.split(/[\\/]+/).filter((s) => s !== '' && s !== '.').join('/')] = r.text;
    return r;
  };
  compilePack(src, { scheme });
  return { ok: true, pack: { files, base: isDir ? path : dirname(path) } };
}

/** The uploaded file a server-side path (`upload/main.rules`) names, relative to the pack. */
function relOf(pack: LocalPack, serverFile: string): string | undefined {
  return Object.keys(pack.files).find((rel) => serverFile === rel || serverFile.endsWith(`/${rel}`));
}

/** Offset of (line, col) in `text`, columns counting code points as the DSL does. */
function offsetAt(text: string, line: number, col: number): number {
  let off = 0;
  for (let l = 1; l < line; l++) {
    const nl = text.indexOf('\n', off);
    if (nl < 0) return text.length;
    off = nl + 1;
  }
  let c = 1;
  while (c < col && off < text.length && text[off] !== '\n') {
    off += (text.codePointAt(off) ?? 0) > 0xffff ? 2 : 1;
    c++;
  }
  return off;
}

/**
 * The server's diagnostics and test failures, rendered against the local files as `vigil check`
 * and the server render them (path:line:col, the source line, a caret under the span).
 */
export function renderServerCheck(pack: LocalPack, check: CheckJson): { text: string; errors: number; warnings: number } {
  const display = (file: string): string => {
    const rel = relOf(pack, file);
    return rel === undefined ? file : join(pack.base, rel);
  };
  const source = (file: string): string | undefined => {
    const rel = relOf(pack, file);
    const text = rel === undefined ? undefined : pack.files[rel];
    return text?.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  };
  const diags: Diagnostic[] = (check.diagnostics ?? []).map((d) => {
    const text = source(d.file);
    const offset = d.offset ?? (text === undefined ? 0 : offsetAt(text, d.line, d.col));
    return {
      code: d.code as DiagnosticCode,
      severity: d.severity === 'warning' ? 'warning' : 'error',
      message: d.message,
      span: { file: d.file, line: d.line, col: d.col, offset, end: d.end ?? offset + 1 },
      ...(d.hint !== undefined ? { hint: d.hint } : {}),
    };
  });
  const lines: string[] = [];
  if (diags.length > 0) lines.push(renderDiagnostics(diags, source, display));
  for (const t of check.tests?.failures ?? []) {
    for (const f of t.failures) lines.push(`${display(t.file)}:${t.line}:${t.col}: test ${JSON.stringify(t.name)} failed: ${f}`);
  }
  return {
    text: lines.join('\n'),
    errors: diags.filter((d) => d.severity === 'error').length,
    warnings: diags.filter((d) => d.severity === 'warning').length,
  };
}

// ------------------------------------------------------------------------------------------------
// Output
// ------------------------------------------------------------------------------------------------

export function packLabel(m: Pick<MetaJson, 'name' | 'version' | 'hash'>): string {
  return `${m.name} version ${m.version} (${shortHash(m.hash)})`;
}

/** The rule-level summary of a change, one line per kind; "no rule changed" when none. */
export function diffLines(d: DiffJson): string[] {
  const out: string[] = [];
  if (d.rules_added.length) out.push(`  rules added:   ${d.rules_added.join(', ')}`);
  if (d.rules_removed.length) out.push(`  rules removed: ${d.rules_removed.join(', ')}`);
  if (d.rules_changed.length) out.push(`  rules changed: ${d.rules_changed.join(', ')}`);
  if (out.length === 0) out.push('  no rule changed');
  if (d.files_changed.length) out.push(`  files changed: ${d.files_changed.join(', ')}`);
  return out;
}

function testsLine(t: TestsJson | undefined): string | null {
  return t ? `${t.passed} passed, ${t.failed} failed` : null;
}

// ------------------------------------------------------------------------------------------------
// Commands
// ------------------------------------------------------------------------------------------------

export interface PushOptions extends AdminOptions {
  readonly reason?: string;
  readonly force?: boolean;
}

export async function packPush(path: string, o: PushOptions, io: CliIO, env: Env, scheme: () => Promise<Scheme>): Promise<number> {
  if (o.force === true && o.reason === undefined) throw new UsageError('--force needs --reason (why the failing tests may be ignored; it goes into the audit log)');
  const ctx = adminContext('vigil pack push', o, io, env);
  const local = readLocalPack(path, await scheme());
  if (!local.ok) {
    io.stderr(`${ctx.cmd}: error: ${local.message}\n`);
    return EXIT_REFUSED;
  }
  const pack = local.pack;
  return runAdmin(
    ctx,
    async () => {
      const ans = await request<PushAnswer>(ctx, 'PUT', '/v1/packs/active', {
        body: { files: pack.files },
        query: { force: o.force === true ? '1' : undefined, reason: o.reason },
      });
      if (ctx.json) {
        printJson(ctx, ans);
        return EXIT_OK;
      }
      const r = renderServerCheck(pack, ans);
      if (r.text) io.stdout(`${r.text}\n`);
      const a = ans.active;
      if (ans.status === 'unchanged') {
        io.stdout(`unchanged: ${packLabel(a)} is already active (activated ${a.activated_at} by ${a.by})\n`);
        return EXIT_OK;
      }
      const forced = a.forced === true ? ` — FORCED past ${plural(ans.tests?.failed ?? 0, 'failing test')}` : '';
      io.stdout(`activated ${packLabel(a)} by ${a.by}${forced}\n`);
      if (ans.diff) io.stdout(`${diffLines(ans.diff).join('\n')}\n`);
      const t = testsLine(ans.tests);
      if (t) io.stdout(`  tests: ${t}\n`);
      return EXIT_OK;
    },
    (refusal) => {
      if (refusal.status !== 422 || refusal.code !== 'pack_rejected') return false;
      const details = (refusal.details ?? {}) as CheckJson;
      const r = renderServerCheck(pack, details);
      if (!ctx.json) {
        if (r.text) io.stdout(`${r.text}\n`);
        const t = details.tests;
        if (t && t.passed + t.failed > 0) io.stdout(`${testsLine(t)}\n`);
      }
      const what = details.error
        ? details.error
        : `${plural(r.errors, 'error')}, ${plural(r.warnings, 'warning')}; ${plural(details.tests?.failed ?? 0, 'test')} failed`;
      io.stderr(`${ctx.cmd}: error: ${path}: refused by ${ctx.url}: ${refusal.message} (${what})\n`);
      if (o.force !== true && r.errors === 0 && !details.error && (details.tests?.failed ?? 0) > 0) {
        io.stderr(`  only tests fail: \`vigil pack push --force --reason "…"\` activates it anyway, recorded as forced\n`);
      }
      return true;
    },
  );
}

export async function packStatus(o: AdminOptions, io: CliIO, env: Env): Promise<number> {
  const ctx = adminContext('vigil pack status', o, io, env);
  return runAdmin(ctx, async () => {
    const list = await request<ListJson>(ctx, 'GET', '/v1/packs');
    if (ctx.json) {
      printJson(ctx, list);
      return EXIT_OK;
    }
    const lines: string[] = [];
    const a = list.active;
    if (!a) lines.push('active: none (the server has no pack loaded)');
    else {
      lines.push(`active: ${a.name} version ${a.version} ${a.hash}`);
      const how = actionOf(a) === 'rollback' ? `reactivated ${a.activated_at} by ${a.by} (a rollback${a.previous_hash ? ` from ${shortHash(a.previous_hash)}` : ''})` : `activated ${a.activated_at} by ${a.by} (${a.source})`;
      lines.push(`  ${how}${a.forced === true ? ', FORCED past failing tests' : ''}`);
      if (a.reason !== undefined) lines.push(`  reason: ${a.reason}`);
    }
    if ('shadow' in list) lines.push(`shadow: ${list.shadow ? packLabel(list.shadow) : 'none'}`);
    lines.push(`history: ${entryCount(list.history.length, 'earlier ')}${list.history.length > 0 ? ' (vigil pack history)' : ''}`);
    io.stdout(`${lines.join('\n')}\n`);
    return EXIT_OK;
  });
}

function entryCount(n: number, adjective = ''): string {
  return `${n} ${adjective}${n === 1 ? 'entry' : 'entries'}`;
}

/** Servers from before the append-only history name no action; their rollbacks have source `rollback`. */
function actionOf(m: MetaJson): string {
  return m.action ?? (m.source === 'rollback' ? 'rollback' : 'activate');
}

/** Columns padded to their widest cell; the last column is not padded. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, [...c].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat((widths[i] ?? 0) - [...c].length))).join('  ').trimEnd()).join('\n');
}

export async function packHistory(o: AdminOptions, io: CliIO, env: Env): Promise<number> {
  const ctx = adminContext('vigil pack history', o, io, env);
  return runAdmin(ctx, async () => {
    const list = await request<ListJson>(ctx, 'GET', '/v1/packs');
    if (ctx.json) {
      printJson(ctx, list);
      return EXIT_OK;
    }
    const entries = [...(list.active ? [list.active] : []), ...list.history];
    const rows: string[][] = [['', 'WHEN', 'ACTION', 'PACK', 'HASH', 'BY', 'FROM', 'REASON']];
    for (const m of entries) {
      const action = actionOf(m);
      rows.push([
        m === list.active ? '*' : '',
        m.activated_at,
        `${action}${m.forced === true ? ' (forced)' : ''}`,
        `${m.name} v${m.version}`,
        shortHash(m.hash),
        m.by,
        m.previous_hash ? shortHash(m.previous_hash) : '-',
        m.reason ?? '',
      ]);
    }
    io.stdout(`${table(rows)}\n`);
    io.stdout(`${entryCount(entries.length)}, newest first; * is the active pack on ${ctx.url}\n`);
    return EXIT_OK;
  });
}

/**
 * A full hash for `given`: itself, or the one hash of the history starting with it (`sha256:` may
 * be left out, as `vigil pack history` shows hashes shortened). None or several: exit 1.
 */
export async function resolveHash(ctx: AdminContext, given: string, list?: ListJson): Promise<string> {
  if (FULL_HASH.test(given)) return given;
  const needle = given.startsWith('sha256:') ? given : `sha256:${given}`;
  if (!/^sha256:[0-9a-f]{4,63}$/.test(needle)) {
    throw new UsageError(`HASH must be a pack hash or the start of one (at least 4 hex digits, as \`vigil pack history\` shows it), got ${JSON.stringify(given)}`);
  }
  const l = list ?? (await request<ListJson>(ctx, 'GET', '/v1/packs'));
  const hashes = [...new Set([...(l.active ? [l.active] : []), ...l.history].map((m) => m.hash))].filter((h) => h.startsWith(needle));
  if (hashes.length === 0) throw new Refused(0, 'not_found', `no pack in the history has a hash starting with ${needle}`, null, null);
  if (hashes.length > 1) throw new Refused(0, 'ambiguous', `${needle} starts ${hashes.length} hashes of the history (${hashes.map(shortHash).join(', ')}): give more digits`, null, null);
  return hashes[0]!;
}

export interface RollbackOptions extends AdminOptions {
  readonly reason?: string;
}

export async function packRollback(hash: string | undefined, o: RollbackOptions, io: CliIO, env: Env): Promise<number> {
  const ctx = adminContext('vigil pack rollback', o, io, env);
  return runAdmin(ctx, async () => {
    const to = hash === undefined ? undefined : await resolveHash(ctx, hash);
    const ans = await request<RollbackAnswer>(ctx, 'POST', '/v1/packs/rollback', {
      body: { ...(to !== undefined ? { to } : {}), ...(o.reason !== undefined ? { reason: o.reason } : {}) },
    });
    if (ctx.json) {
      printJson(ctx, ans);
      return EXIT_OK;
    }
    io.stdout(`rolled back: ${packLabel(ans.active)} is active, replacing ${packLabel(ans.from)}\n${diffLines(ans.diff).join('\n')}\n`);
    return EXIT_OK;
  });
}
