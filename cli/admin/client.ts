// The admin commands' HTTP client (`vigil pack|list|counters|audit`): where the server is (`--url`,
// else VIGIL_URL, else http://127.0.0.1:8080), the admin token (VIGIL_ADMIN_TOKEN only: a token
// in argv would reach shell history and process listings), who acts (`--actor`, else VIGIL_ACTOR,
// sent as X-Vigil-Actor), one request function, and how its failures end a command: no answer
// (refused connection, unknown host, timeout) exits 3, an error answer (`{"error": {code, message,
// details}}`) exits 1 with the message and details printed, a usage problem exits 2.
import { errorMessage } from '../../common/errors.ts';
import { ACTOR, ACTOR_RULE, UsageError } from '../args.ts';
import type { CliIO } from '../io.ts';

export const EXIT_OK = 0;
export const EXIT_REFUSED = 1;
export const EXIT_UNREACHABLE = 3;

export const DEFAULT_URL = 'http://127.0.0.1:8080';
/** A pack push compiles and tests on the server: longer than a read needs, short enough to notice a hung server. */
const TIMEOUT_MS = 30_000;

export type Env = Readonly<Record<string, string | undefined>>;

/** The options every admin command has (cli/main.ts declares them). */
export interface AdminOptions {
  readonly url?: string;
  readonly json?: boolean;
  readonly actor?: string;
}

export interface AdminContext {
  /** `vigil pack push`, for error lines. */
  readonly cmd: string;
  readonly io: CliIO;
  /** Without a trailing slash. */
  readonly url: string;
  readonly token: string;
  readonly actor: string | undefined;
  readonly json: boolean;
}

/** The context of one admin command; a usage problem (no token, a bad VIGIL_URL or VIGIL_ACTOR) throws UsageError. */
export function adminContext(cmd: string, opts: AdminOptions, io: CliIO, env: Env): AdminContext {
  const url = opts.url ?? env.VIGIL_URL ?? DEFAULT_URL;
  if (opts.url === undefined && env.VIGIL_URL !== undefined) {
    let ok = false;
    try {
      const u = new URL(url);
      ok = u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      ok = false;
    }
    if (!ok) throw new UsageError(`VIGIL_URL must be an http(s) URL, got ${JSON.stringify(url)}`);
  }
  const token = env.VIGIL_ADMIN_TOKEN;
  if (token === undefined || token === '') {
    throw new UsageError('VIGIL_ADMIN_TOKEN is not set: export the admin token the server was started with (it is never read from the command line)');
  }
  const actor = opts.actor ?? (env.VIGIL_ACTOR !== undefined && env.VIGIL_ACTOR !== '' ? env.VIGIL_ACTOR : undefined);
  if (actor !== undefined && opts.actor === undefined && !ACTOR.test(actor)) {
    throw new UsageError(`VIGIL_ACTOR must be ${ACTOR_RULE}, got ${JSON.stringify(actor)}`);
  }
  return { cmd, io, url: url.replace(/\/+$/, ''), token, actor, json: opts.json === true };
}

/** The server could not be asked: exit 3. */
export class Unreachable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Unreachable';
  }
}

/** The server answered with an error: exit 1. */
export class Refused extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown,
    /** The whole answer, for --json. */
    readonly body: unknown,
  ) {
    super(message);
    this.name = 'Refused';
  }
}

export interface RequestOptions {
  readonly body?: unknown;
  readonly query?: Readonly<Record<string, string | undefined>>;
}

function causeOf(e: unknown): string {
  if (e instanceof Error && e.name === 'TimeoutError') return `no answer within ${TIMEOUT_MS / 1000} s`;
  const cause = e instanceof Error ? (e as Error & { cause?: unknown }).cause : undefined;
  const code = typeof cause === 'object' && cause !== null && 'code' in cause ? String((cause as { code: unknown }).code) : undefined;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'unknown host';
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return 'the connection was closed before an answer';
    default:
      return cause instanceof Error ? cause.message : errorMessage(e);
  }
}

/** One request to the admin API; resolves the answer's JSON (2xx), throws Unreachable or Refused. */
export async function request<T>(ctx: AdminContext, method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, opts: RequestOptions = {}): Promise<T> {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) q.set(k, v);
  const target = `${ctx.url}${path}${q.toString() !== '' ? `?${q.toString()}` : ''}`;
  const headers: Record<string, string> = { authorization: `Bearer ${ctx.token}`, accept: 'application/json' };
  if (ctx.actor !== undefined) headers['x-vigil-actor'] = ctx.actor;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  let text: string;
  try {
    res = await fetch(target, {
      method,
      headers,
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    text = await res.text();
  } catch (e) {
    const why = causeOf(e);
    const hint =
      why === 'connection refused' || why === 'unknown host'
        ? ' (is the server running there? --url or VIGIL_URL names it)'
        : method === 'GET'
          ? ''
          : ' (the change may or may not have been made: look before retrying)';
    throw new Unreachable(`cannot reach ${ctx.url}: ${why}${hint}`);
  }
  let body: unknown = undefined;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (res.ok) {
    if (body === undefined) throw new Refused(res.status, 'bad_answer', `${ctx.url} answered ${res.status} without JSON: is it a Vigil server?`, null, null);
    return body as T;
  }
  const err = typeof body === 'object' && body !== null && 'error' in body ? (body as { error: unknown }).error : undefined;
  if (typeof err !== 'object' || err === null) {
    throw new Refused(res.status, 'bad_answer', `${ctx.url} answered ${res.status}${res.statusText ? ` ${res.statusText}` : ''}: is it a Vigil server?`, null, body ?? null);
  }
  const e = err as { code?: unknown; message?: unknown; details?: unknown };
  const code = typeof e.code === 'string' ? e.code : 'error';
  let message = typeof e.message === 'string' ? e.message : `answered ${res.status}`;
  if (res.status === 401) message = `the server refused the admin token (${message}): check VIGIL_ADMIN_TOKEN`;
  else if (res.status === 404 && code === 'not_found' && message === 'no such endpoint') {
    message = `${ctx.url} has no such endpoint: its admin API is off (the server needs VIGIL_ADMIN_TOKEN set) or it predates this command`;
  }
  throw new Refused(res.status, code, message, e.details ?? null, body);
}

/** Field problems of a 400 (`[{path, message}]`) as lines; other details as compact JSON. */
export function detailLines(details: unknown): string[] {
  if (details === null || details === undefined) return [];
  if (Array.isArray(details)) {
    return details.map((d) => {
      if (typeof d === 'object' && d !== null && 'message' in d) {
        const f = d as { path?: unknown; message?: unknown };
        return `  ${typeof f.path === 'string' && f.path !== '' ? `${f.path}: ` : ''}${String(f.message)}`;
      }
      return `  ${JSON.stringify(d)}`;
    });
  }
  return [`  ${JSON.stringify(details)}`];
}

/**
 * Run an admin command's body and turn its failures into exit codes and output: a refusal prints
 * `vigil CMD: error: message` and its details on stderr (and the answer on stdout with --json).
 */
export async function runAdmin(ctx: AdminContext, body: () => Promise<number>, onRefused?: (r: Refused) => boolean): Promise<number> {
  try {
    return await body();
  } catch (e) {
    if (e instanceof Unreachable) {
      ctx.io.stderr(`${ctx.cmd}: error: ${e.message}\n`);
      return EXIT_UNREACHABLE;
    }
    if (e instanceof Refused) {
      if (ctx.json && e.body !== null) ctx.io.stdout(`${JSON.stringify(e.body)}\n`);
      if (onRefused?.(e) !== true) {
        ctx.io.stderr(`${ctx.cmd}: error: ${e.message}${e.status >= 500 ? ` (${e.status} ${e.code})` : ''}\n`);
        for (const l of detailLines(e.details)) ctx.io.stderr(`${l}\n`);
      }
      return EXIT_REFUSED;
    }
    throw e;
  }
}

/** Print `value` as one JSON line (for --json). */
export function printJson(ctx: AdminContext, value: unknown): void {
  ctx.io.stdout(`${JSON.stringify(value)}\n`);
}

/** `sha256:1a2b3c4d5e6f` — enough to tell entries apart and to name one to `vigil pack rollback`. */
export function shortHash(hash: string): string {
  return hash.startsWith('sha256:') ? hash.slice(0, 7 + 12) : hash.slice(0, 12);
}
