// An example login, account-recovery and account-settings web service that asks Vigil before it
// acts: on a sign-in, a recovery and a sensitive change of a signed-in account (README.md in this
// folder explains the three flows). `createAuthService()` builds it around injected
// users, Vigil location, notifier and logger, with no module-level state, so end-to-end tests can
// run it in-process; main.ts runs it from the environment. Everything lives in memory: this is an
// integration example, not an identity provider.
import { randomBytes, scrypt, timingSafeEqual, type BinaryLike, type ScryptOptions } from 'node:crypto';
import http from 'node:http';
import { isIP } from 'node:net';
import { createVigilClient, type Decision, type Logger, type Outcome, type SecurityLogEntry, type Verdict, type VigilClient } from './vigil-client.ts';
import type { EvaluateRequest } from '../../client/index.ts';

export type { Logger } from './vigil-client.ts';

export interface AuthUser {
  /** The id Vigil knows the account by (stable, unlike the login name). */
  readonly id: string;
  readonly password: string;
  /** Sent to Vigil as `user.created_at`. */
  readonly createdAt?: string;
  /** Sent to Vigil as `user.mfa`; POST /account/mfa turns it on or off. */
  readonly mfa?: boolean;
  /** The account's e-mail address (POST /account/email changes it). Never sent to Vigil. */
  readonly email?: string;
}

/** The sensitive changes this service offers, by Vigil's `change` name (spec features.md). */
export type ChangeKind = 'password' | 'email' | 'mfa_add' | 'mfa_remove';

/** A message the service would send the user by SMS or e-mail. */
export type Notification =
  | { readonly kind: 'code'; readonly purpose: Purpose; readonly userId: string; readonly code: string }
  | { readonly kind: 'reset_link'; readonly userId: string; readonly token: string };

export interface AuthServiceOptions {
  /** Vigil's base URL, e.g. `http://127.0.0.1:8080`. */
  readonly vigilUrl: string;
  /** VIGIL_API_TOKEN, sent as a bearer token when set. */
  readonly apiToken?: string;
  /**
   * VIGIL_ADMIN_TOKEN, sent only to read a user's security log (GET /account/security). Unset: that
   * page answers 503. A real service would keep this token in its back end only, as here.
   */
  readonly adminToken?: string;
  /** Accounts by login name. Passwords are hashed at start and the plain text dropped. */
  readonly users: Readonly<Record<string, AuthUser>>;
  /**
   * Reverse proxies in front of this service whose X-Forwarded-For may be believed (default 0: the
   * header is ignored and the socket's peer is the client; trusting it without a proxy lets any
   * client choose the address Vigil sees).
   */
  readonly trustProxyHops?: number;
  /** Time allowed for each call to Vigil (default 1500 ms). */
  readonly vigilTimeoutMs?: number;
  /** One-time code generator (default: the fixed DEV_CODE, so a developer can type it from the log). */
  readonly oneTimeCode?: () => string;
  /** Delivers codes and reset links (default: writes them to the log, which only suits development). */
  readonly notify?: (n: Notification) => void;
  readonly logger?: Logger;
  /** Mark cookies `Secure` (default false: the example is tried on plain http://localhost). */
  readonly secureCookies?: boolean;
  /** Lifetime of challenges and reset tokens (default 5 minutes). */
  readonly challengeTtlMs?: number;
  /** Clock, for tests. */
  readonly now?: () => number;
}

export interface AuthService {
  /** The request listener, for `http.createServer(handler)` or any server that takes one. */
  readonly handler: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  /** A new, not yet listening, http.Server running this service. */
  createServer(): http.Server;
  /** Resolves once every password hash is computed (requests wait for it anyway). */
  readonly ready: Promise<void>;
}

/** The one-time code in development. Printed to the log whenever a challenge is issued. */
export const DEV_CODE = '123456';
export const DEVICE_COOKIE = 'did';
export const SESSION_COOKIE = 'sid';
export const MAX_BODY_BYTES = 8 * 1024;
/** Vigil refuses longer agents (api/schemas.ts MAX_USER_AGENT); a longer one is cut, not refused. */
const MAX_USER_AGENT = 1024;
const MAX_PENDING = 10_000;
// Cost 2^14 is Node's default and OWASP's floor for scrypt; a real service would tune it upward.
const SCRYPT: ScryptOptions = { N: 16384, r: 8, p: 1 };
const DEVICE_ID_RE = /^[A-Za-z0-9_-]{16,64}$/;
// Deliberately loose: the address is proven by mail, not by a pattern.
const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

type Purpose = 'login' | 'recovery' | 'change';

/** A change waiting for its challenge: what to apply once the code is right (a password as its hash). */
type PendingChange =
  | { readonly kind: 'password'; readonly hash: Buffer }
  | { readonly kind: 'email'; readonly email: string }
  | { readonly kind: 'mfa_add' | 'mfa_remove' };

interface Challenge {
  readonly purpose: Purpose;
  /** Undefined for a decoy (an unknown account must look like a known one). */
  readonly userId: string | undefined;
  readonly decisionId: string | undefined;
  readonly deviceId: string;
  readonly code: string;
  readonly expires: number;
  /** For a change: the session that asked for it (only it may answer) and what to apply. */
  readonly sessionId?: string;
  readonly pending?: PendingChange;
}

/** A signed-in session: whose, and the Vigil decision of the sign-in that opened it. */
interface Session {
  readonly userId: string;
  /**
   * Sent as `login_decision_id` with every change from this session, so Vigil judges the change
   * with what it knows of the sign-in. Absent when the sign-in had no decision (Vigil could not be
   * asked and the service failed open): changes then go without one.
   */
  readonly decisionId: string | undefined;
}

interface ResetToken {
  readonly userId: string;
  /** The decision to report `succeeded` for when the token is used (none after a challenge). */
  readonly decisionId: string | undefined;
  readonly expires: number;
}

interface Credential {
  readonly user: AuthUser;
  readonly salt: Buffer;
  hash: Buffer;
  mfa: boolean | undefined;
  email: string | undefined;
}

class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

export function createAuthService(opts: AuthServiceOptions): AuthService {
  const log = opts.logger ?? consoleLogger();
  const now = opts.now ?? Date.now;
  const ttl = opts.challengeTtlMs ?? 5 * 60_000;
  const hops = Math.max(0, Math.floor(opts.trustProxyHops ?? 0));
  const oneTimeCode = opts.oneTimeCode ?? (() => DEV_CODE);
  const notify =
    opts.notify ??
    ((n: Notification) =>
      log.info({ ...n }, n.kind === 'code' ? 'one-time code (development: logged, not sent)' : 'reset link (development: logged, not sent)'));
  const vigil: VigilClient = createVigilClient({
    url: opts.vigilUrl,
    apiToken: opts.apiToken,
    timeoutMs: opts.vigilTimeoutMs ?? 1500,
    adminToken: opts.adminToken,
    logger: log,
  });

  const byName = new Map<string, Credential>();
  const byId = new Map<string, Credential>();
  const challenges = new Map<string, Challenge>();
  const resets = new Map<string, ResetToken>();
  const sessions = new Map<string, Session>();
  // An unknown login name still costs one scrypt, so timing does not tell which names exist.
  const dummySalt = randomBytes(16);

  const ready = (async () => {
    for (const [name, user] of Object.entries(opts.users)) {
      const salt = randomBytes(16);
      const cred: Credential = { user: { ...user, password: '' }, salt, hash: await hash(user.password, salt), mfa: user.mfa, email: user.email };
      byName.set(name, cred);
      byId.set(user.id, cred);
    }
  })();
  // Requests await `ready` and answer 500 if it failed; this only keeps the failure from going unseen.
  ready.catch((err: unknown) => log.error({ err: String(err) }, 'could not hash the configured passwords'));

  async function checkPassword(cred: Credential | undefined, password: string): Promise<boolean> {
    const h = await hash(password, cred?.salt ?? dummySalt);
    return cred !== undefined && timingSafeEqual(h, cred.hash);
  }

  function remember<V>(map: Map<string, V>, key: string, value: V): void {
    // Oldest first: Map iterates in insertion order, so a flood of abandoned challenges evicts itself.
    if (map.size >= MAX_PENDING) map.delete(map.keys().next().value!);
    map.set(key, value);
  }

  function issueChallenge(
    purpose: Purpose,
    userId: string | undefined,
    verdict: Verdict,
    deviceId: string,
    change?: { readonly sessionId: string; readonly pending: PendingChange },
  ): string {
    const id = token();
    const code = oneTimeCode();
    remember(challenges, id, { purpose, userId, decisionId: verdict.decisionId, deviceId, code, expires: now() + ttl, ...change });
    if (userId !== undefined) notify({ kind: 'code', purpose, userId, code });
    return id;
  }

  /** Takes (and so consumes) the challenge: one code per challenge, right or wrong. */
  async function redeemChallenge(purpose: Purpose, body: Fields, deviceId: string, sessionId?: string): Promise<Challenge> {
    const id = field(body, 'challenge', 128);
    const code = field(body, 'code', 16);
    const ch = challenges.get(id);
    if (!ch || ch.purpose !== purpose || ch.expires < now() || ch.deviceId !== deviceId || ch.sessionId !== sessionId) {
      if (ch) challenges.delete(id);
      throw new HttpError(401, 'invalid_challenge', 'unknown or expired challenge');
    }
    challenges.delete(id);
    const ok = ch.userId !== undefined && sameText(code, ch.code);
    if (ch.decisionId) await vigil.outcome(ch.decisionId, ok ? 'challenge_passed' : 'challenge_failed');
    if (!ok) throw new HttpError(401, 'invalid_code', 'wrong code');
    return ch;
  }

  async function report(verdict: Verdict, outcome: Outcome): Promise<void> {
    if (verdict.decisionId) await vigil.outcome(verdict.decisionId, outcome);
  }

  function evaluate(
    type: 'login' | 'recovery',
    req: http.IncomingMessage,
    name: string,
    cred: Credential | undefined,
    deviceId: string,
  ): Promise<Verdict> {
    const user = cred
      ? userOf(cred)
      : // An unknown name is still evaluated: failures against made-up names are what credential
        // stuffing looks like, and Vigil counts them per address.
        { id: 'unknown:' + name };
    return vigil.evaluate({ type, user, ...client(req, deviceId) });
  }

  /** The same user, address, device and agent as a sign-in sends, plus the change and its session's sign-in. */
  function evaluateChange(req: http.IncomingMessage, cred: Credential, session: Session, change: ChangeKind, deviceId: string): Promise<Verdict> {
    return vigil.evaluate({
      type: 'account_change',
      change,
      ...(session.decisionId !== undefined ? { login_decision_id: session.decisionId } : {}),
      user: userOf(cred),
      ...client(req, deviceId),
    });
  }

  function userOf(cred: Credential): EvaluateRequest['user'] {
    return { id: cred.user.id, created_at: cred.user.createdAt, mfa: cred.mfa };
  }

  function client(req: http.IncomingMessage, deviceId: string): Pick<EvaluateRequest, 'ip' | 'device'> {
    const ua = req.headers['user-agent'];
    return { ip: clientIp(req, hops), device: { id: deviceId, user_agent: typeof ua === 'string' ? ua.slice(0, MAX_USER_AGENT) : undefined } };
  }

  function startSession(res: http.ServerResponse, userId: string, decisionId: string | undefined): void {
    const sid = token();
    remember(sessions, sid, { userId, decisionId });
    appendCookie(res, cookie(SESSION_COOKIE, sid, { maxAge: 8 * 3600, secure: opts.secureCookies }));
  }

  function currentSession(req: http.IncomingMessage): { readonly id: string; readonly session: Session } | undefined {
    const id = cookies(req)[SESSION_COOKIE] ?? '';
    const session = sessions.get(id);
    return session !== undefined ? { id, session } : undefined;
  }

  // ---- routes ---------------------------------------------------------------------------------

  async function login(req: http.IncomingMessage, res: http.ServerResponse, body: Fields, deviceId: string): Promise<void> {
    const name = field(body, 'username', 256);
    const password = field(body, 'password', 1024);
    const cred = byName.get(name);
    const verdict = await evaluate('login', req, name, cred, deviceId);
    log.info({ user: cred?.user.id ?? null, decision: verdict.decision, failOpen: verdict.failOpen }, 'login evaluated');
    if (verdict.decision === 'block') return send(res, 403, withNotices({ error: 'blocked' }, verdict));
    // allow and step_up both need the password first; step_up then needs a code as well.
    if (!(await checkPassword(cred, password))) {
      await report(verdict, 'failed');
      return send(res, 401, { error: 'invalid_credentials' });
    }
    const user = cred!.user;
    if (verdict.decision === 'step_up') {
      return send(res, 202, withNotices({ status: 'challenge', challenge: issueChallenge('login', user.id, verdict, deviceId) }, verdict));
    }
    await report(verdict, 'succeeded');
    startSession(res, user.id, verdict.decisionId);
    send(res, 200, { status: 'ok', user: user.id });
  }

  async function loginVerify(res: http.ServerResponse, body: Fields, deviceId: string): Promise<void> {
    const ch = await redeemChallenge('login', body, deviceId);
    startSession(res, ch.userId!, ch.decisionId);
    send(res, 200, { status: 'ok', user: ch.userId });
  }

  async function recover(req: http.IncomingMessage, res: http.ServerResponse, body: Fields, deviceId: string): Promise<void> {
    const name = field(body, 'username', 256);
    const cred = byName.get(name);
    const verdict = await evaluate('recovery', req, name, cred, deviceId);
    log.info({ user: cred?.user.id ?? null, decision: verdict.decision, failOpen: verdict.failOpen }, 'recovery evaluated');
    if (verdict.decision === 'block') return send(res, 403, withNotices({ error: 'blocked' }, verdict));
    if (verdict.decision === 'step_up') {
      // A decoy challenge for an unknown name, so the answer does not reveal which names exist.
      return send(res, 202, withNotices({ status: 'challenge', challenge: issueChallenge('recovery', cred?.user.id, verdict, deviceId) }, verdict));
    }
    if (cred) issueReset(cred.user.id, verdict.decisionId);
    send(res, 202, { status: 'reset_sent' });
  }

  function issueReset(userId: string, decisionId: string | undefined): void {
    const t = token();
    remember(resets, t, { userId, decisionId, expires: now() + ttl });
    notify({ kind: 'reset_link', userId, token: t });
  }

  async function recoverVerify(res: http.ServerResponse, body: Fields, deviceId: string): Promise<void> {
    const ch = await redeemChallenge('recovery', body, deviceId);
    // The challenge outcome is already reported; the reset itself reports nothing more.
    issueReset(ch.userId!, undefined);
    send(res, 202, { status: 'reset_sent' });
  }

  async function resetPassword(res: http.ServerResponse, body: Fields): Promise<void> {
    const t = field(body, 'token', 128);
    const password = field(body, 'password', 1024);
    const r = resets.get(t);
    if (!r || r.expires < now()) {
      if (r) resets.delete(t);
      throw new HttpError(401, 'invalid_token', 'unknown or expired reset token');
    }
    resets.delete(t);
    const cred = byId.get(r.userId)!;
    cred.hash = await hash(password, cred.salt);
    for (const [sid, s] of sessions) if (s.userId === r.userId) sessions.delete(sid);
    if (r.decisionId) await vigil.outcome(r.decisionId, 'succeeded');
    send(res, 200, { status: 'password_changed' });
  }

  /**
   * The signed-in user's security log: their recent sign-ins, recoveries and account changes in
   * plain words, as an HTML page (JSON with `Accept: application/json`). `?cursor=` pages on.
   */
  async function accountSecurity(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const uid = currentSession(req)?.session.userId;
    if (uid === undefined) return send(res, 401, { error: 'not_signed_in' });
    const cursor = url.searchParams.get('cursor') ?? undefined;
    if (cursor !== undefined && !/^[A-Za-z0-9_-]{1,512}$/.test(cursor)) throw new HttpError(400, 'bad_request', 'cursor is not one this page gave');
    const page = await vigil.securityLog(uid, cursor);
    if (page === null) return send(res, 503, { error: 'security_log_unavailable', message: 'your account activity cannot be shown right now' });
    if ((req.headers.accept ?? '').includes('application/json')) return send(res, 200, page);
    sendHtml(res, securityPage(page.entries, page.cursor));
  }
  function me(req: http.IncomingMessage, res: http.ServerResponse): void {
    const uid = currentSession(req)?.session.userId;
    if (uid === undefined) return send(res, 401, { error: 'not_signed_in' });
    send(res, 200, { user: uid });
  }

  // ---- sensitive changes ----------------------------------------------------------------------

  /**
   * One sensitive change from the signed-in session: asks Vigil (`account_change`, with the
   * session's sign-in decision), then applies it (allow, outcome `succeeded`), asks for a one-time
   * code first (step_up: POST /account/verify applies it) or refuses it (block: no outcome, as for
   * a blocked sign-in). Input is checked before Vigil is asked: a malformed request is no attempt.
   */
  async function change(req: http.IncomingMessage, res: http.ServerResponse, deviceId: string, pending: PendingChange): Promise<void> {
    const current = currentSession(req);
    if (current === undefined) return send(res, 401, { error: 'not_signed_in' });
    const cred = byId.get(current.session.userId)!;
    const verdict = await evaluateChange(req, cred, current.session, pending.kind, deviceId);
    log.info(
      { user: cred.user.id, change: pending.kind, linked: current.session.decisionId !== undefined, decision: verdict.decision, failOpen: verdict.failOpen },
      'change evaluated',
    );
    const notices = verdict.notices.map((n) => n.message);
    if (verdict.decision === 'block') {
      return send(res, 403, { error: 'blocked', message: 'this change cannot be made from this session', notices });
    }
    if (verdict.decision === 'step_up') {
      const challenge = issueChallenge('change', cred.user.id, verdict, deviceId, { sessionId: current.id, pending });
      return send(res, 202, { status: 'challenge', challenge, change: pending.kind, notices });
    }
    apply(cred, pending, current.id);
    await report(verdict, 'succeeded');
    send(res, 200, { status: 'changed', change: pending.kind });
  }

  /** The code for a stepped-up change, from the same session and device: right, the change is applied. */
  async function changeVerify(req: http.IncomingMessage, res: http.ServerResponse, body: Fields, deviceId: string): Promise<void> {
    const current = currentSession(req);
    if (current === undefined) return send(res, 401, { error: 'not_signed_in' });
    const ch = await redeemChallenge('change', body, deviceId, current.id);
    // The challenge outcome is already reported: that is this decision's one outcome.
    apply(byId.get(ch.userId!)!, ch.pending!, current.id);
    send(res, 200, { status: 'changed', change: ch.pending!.kind });
  }

  function apply(cred: Credential, pending: PendingChange, keepSession: string): void {
    if (pending.kind === 'password') {
      cred.hash = pending.hash;
      // A new password ends every other session of the account: whoever else was in is out.
      for (const [sid, s] of sessions) if (s.userId === cred.user.id && sid !== keepSession) sessions.delete(sid);
    } else if (pending.kind === 'email') cred.email = pending.email;
    else cred.mfa = pending.kind === 'mfa_add';
    log.info({ user: cred.user.id, change: pending.kind }, 'account changed');
  }

  async function changePassword(req: http.IncomingMessage, res: http.ServerResponse, body: Fields, deviceId: string): Promise<void> {
    const password = field(body, 'password', 1024);
    const uid = currentSession(req)?.session.userId;
    if (uid === undefined) return send(res, 401, { error: 'not_signed_in' });
    await change(req, res, deviceId, { kind: 'password', hash: await hash(password, byId.get(uid)!.salt) });
  }

  async function changeEmail(req: http.IncomingMessage, res: http.ServerResponse, body: Fields, deviceId: string): Promise<void> {
    const email = field(body, 'email', 254);
    if (!EMAIL_RE.test(email)) throw new HttpError(400, 'bad_request', 'email must look like name@example.org');
    await change(req, res, deviceId, { kind: 'email', email });
  }

  async function changeMfa(req: http.IncomingMessage, res: http.ServerResponse, body: Fields, deviceId: string): Promise<void> {
    const action = field(body, 'action', 16);
    if (action !== 'add' && action !== 'remove') throw new HttpError(400, 'bad_request', 'action must be "add" or "remove"');
    await change(req, res, deviceId, { kind: action === 'add' ? 'mfa_add' : 'mfa_remove' });
  }

  function account(req: http.IncomingMessage, res: http.ServerResponse): void {
    const uid = currentSession(req)?.session.userId;
    if (uid === undefined) return send(res, 401, { error: 'not_signed_in' });
    const cred = byId.get(uid)!;
    send(res, 200, { user: uid, email: cred.email ?? null, mfa: cred.mfa === true });
  }

  const POST_ROUTES: Record<string, (req: http.IncomingMessage, res: http.ServerResponse, body: Fields, deviceId: string) => Promise<void>> = {
    '/login': login,
    '/login/verify': (_req, res, body, d) => loginVerify(res, body, d),
    '/recover': recover,
    '/recover/verify': (_req, res, body, d) => recoverVerify(res, body, d),
    '/recover/reset': (_req, res, body) => resetPassword(res, body),
    '/account/password': changePassword,
    '/account/email': changeEmail,
    '/account/mfa': changeMfa,
    '/account/verify': changeVerify,
  };

  async function route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/healthz' || path === '/me' || path === '/account' || path === '/account/security') {
      if (req.method !== 'GET') throw new HttpError(405, 'method_not_allowed', 'use GET');
      if (path === '/healthz') return send(res, 200, { status: 'ok' });
      if (path === '/account') return account(req, res);
      if (path === '/account/security') return accountSecurity(req, res, new URL(req.url ?? '/', 'http://x'));
      return me(req, res);
    }
    const run = Object.hasOwn(POST_ROUTES, path) ? POST_ROUTES[path] : undefined;
    if (!run) throw new HttpError(404, 'not_found', 'no such route');
    if (req.method !== 'POST') throw new HttpError(405, 'method_not_allowed', 'use POST');
    const body = await readBody(req);
    await ready;
    await run(req, res, body, deviceCookie(req, res, opts.secureCookies));
  }

  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    route(req, res).catch((err: unknown) => {
      if (err instanceof HttpError) return send(res, err.status, { error: err.code, message: err.message });
      log.error({ err: String(err) }, 'unexpected error');
      send(res, 500, { error: 'internal' });
    });
  };

  return { handler, ready, createServer: () => http.createServer(handler) };
}

// ------------------------------------------------------------------------------------------------
// The security page: Vigil's entries in the words a user reads
// ------------------------------------------------------------------------------------------------

const KINDS: Readonly<Record<string, string>> = { login: 'Sign-in', recovery: 'Account recovery', account_change: 'Account change' };
const CHANGES: Readonly<Record<string, string>> = {
  password: 'password changed',
  email: 'e-mail address changed',
  mfa_add: 'second factor added',
  mfa_remove: 'second factor removed',
  recovery_method: 'recovery method changed',
};
const OUTCOMES: Readonly<Record<string, string>> = { allow: 'allowed', step_up: 'asked for a code', block: 'blocked' };
/** The notice codes of Vigil's catalogue (spec dsl.md § 7) in this service's own words. */
const NOTICES: Readonly<Record<string, string>> = {
  new_device: 'from a device not seen on your account before',
  new_location: 'from a place not seen on your account before',
  unusual_travel: 'from a place too far from your previous sign-in for the time between them',
  many_failed_attempts: 'after many failed attempts',
  anonymizer: 'through an anonymizing network or proxy',
  recent_recovery: 'shortly after an account recovery',
  session_moved: 'from another network than the sign-in it belongs to',
  sensitive_change: 'a change that affects how you sign in',
};

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** One entry as a sentence-like row: what, when, from where and what, and the outcome. */
export function describeEntry(e: SecurityLogEntry): { what: string; when: string; where: string; client: string; outcome: string; notes: string[] } {
  const kind = KINDS[e.type] ?? e.type;
  const change = e.change !== undefined ? (CHANGES[e.change] ?? e.change.replace(/_/g, ' ')) : undefined;
  return {
    what: change !== undefined ? `${kind}: ${change}` : kind,
    when: e.at,
    where: [e.city, e.country].filter((x): x is string => x !== null && x !== '').join(', ') || 'unknown place',
    client: [e.browser, e.os].filter((x): x is string => x !== null && x !== '').join(' on ') || 'unknown browser',
    outcome: OUTCOMES[e.decision] ?? e.decision,
    notes: e.notices.map((c) => NOTICES[c] ?? c.replace(/_/g, ' ')),
  };
}

function securityPage(entries: readonly SecurityLogEntry[], cursor: string | null): string {
  const rows = entries.map((e) => {
    const d = describeEntry(e);
    const notes = d.notes.length > 0 ? `<br><small>${d.notes.map(escapeHtml).join('; ')}</small>` : '';
    return `<tr><td><time datetime="${escapeHtml(d.when)}">${escapeHtml(d.when.replace('T', ' ').replace(/\.\d+Z$/, ' UTC'))}</time></td><td>${escapeHtml(d.what)}${notes}</td><td>${escapeHtml(d.where)}</td><td>${escapeHtml(d.client)}</td><td>${escapeHtml(d.outcome)}</td></tr>`;
  });
  const body =
    entries.length === 0
      ? '<p>No recent activity.</p>'
      : `<table><thead><tr><th>When</th><th>What</th><th>Where</th><th>Browser</th><th>Result</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
  const more = cursor !== null ? `<p><a href="/account/security?cursor=${encodeURIComponent(cursor)}">Older activity</a></p>` : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Your account activity</title></head><body><h1>Your account activity</h1>${body}${more}<p>Something you do not recognise? Change your password and sign out everywhere.</p></body></html>`;
}

/** The body, with the notices' messages (user-safe by contract) when Vigil gave any. */
function withNotices(body: Record<string, unknown>, verdict: Verdict): Record<string, unknown> {
  return verdict.notices.length > 0 ? { ...body, notices: verdict.notices.map((n) => n.message) } : body;
}

function sendHtml(res: http.ServerResponse, html: string): void {
  if (res.headersSent) return;
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    // Nothing on the page runs script or loads anything: a stray value can never become active.
    'content-security-policy': "default-src 'none'",
  });
  res.end(html);
}

// ------------------------------------------------------------------------------------------------
// HTTP helpers
// ------------------------------------------------------------------------------------------------

type Fields = Readonly<Record<string, unknown>>;

/**
 * The client address Vigil should see. Behind `hops` trusted proxies, the entry that many places
 * from the right of X-Forwarded-For (with the socket peer appended) is the first one no trusted
 * party wrote, so the client cannot forge it. Anything that is not a plain address falls back to
 * the socket peer; zone ids (`fe80::1%eth0`) are dropped because Vigil refuses them.
 */
export function clientIp(req: http.IncomingMessage, hops: number): string {
  const peer = (req.socket.remoteAddress ?? '').replace(/%.*$/, '');
  if (hops <= 0) return peer;
  const xff = req.headers['x-forwarded-for'];
  const listed = (Array.isArray(xff) ? xff.join(',') : (xff ?? ''))
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  const chain = [...listed, peer];
  const candidate = chain[Math.max(0, chain.length - 1 - hops)]!.replace(/%.*$/, '');
  return isIP(candidate) ? candidate : peer;
}

function deviceCookie(req: http.IncomingMessage, res: http.ServerResponse, secure: boolean | undefined): string {
  const existing = cookies(req)[DEVICE_COOKIE];
  if (existing !== undefined && DEVICE_ID_RE.test(existing)) return existing;
  const id = token();
  appendCookie(res, cookie(DEVICE_COOKIE, id, { maxAge: 400 * 24 * 3600, secure }));
  return id;
}

function cookies(req: http.IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const k = part.slice(0, eq).trim();
    if (!Object.hasOwn(out, k)) out[k] = part.slice(eq + 1).trim();
  }
  return out;
}

function cookie(name: string, value: string, o: { maxAge: number; secure: boolean | undefined }): string {
  return `${name}=${value}; Path=/; Max-Age=${o.maxAge}; HttpOnly; SameSite=Lax${o.secure ? '; Secure' : ''}`;
}

function appendCookie(res: http.ServerResponse, c: string): void {
  const prev = res.getHeader('set-cookie');
  res.setHeader('set-cookie', Array.isArray(prev) ? [...prev, c] : typeof prev === 'string' ? [prev, c] : [c]);
}

async function readBody(req: http.IncomingMessage): Promise<Fields> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json' && type !== 'application/x-www-form-urlencoded') {
    req.resume();
    throw new HttpError(415, 'unsupported_media_type', 'send application/json or application/x-www-form-urlencoded');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) {
      req.resume();
      throw new HttpError(413, 'too_large', `body over ${MAX_BODY_BYTES} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (type === 'application/x-www-form-urlencoded') return Object.fromEntries(new URLSearchParams(text));
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'bad_request', 'body is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new HttpError(400, 'bad_request', 'body must be a JSON object');
  }
  return parsed as Fields;
}

function field(body: Fields, name: string, max: number): string {
  const v = Object.hasOwn(body, name) ? body[name] : undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > max) {
    throw new HttpError(400, 'bad_request', `${name} must be a string of 1 to ${max} characters`);
  }
  return v;
}

function send(res: http.ServerResponse, status: number, body: object): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
}

function token(): string {
  return randomBytes(24).toString('base64url');
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function hash(password: BinaryLike, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, 64, SCRYPT, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function consoleLogger(): Logger {
  const line = (level: string) => (obj: object, msg: string) =>
    process.stderr.write(JSON.stringify({ level, time: new Date().toISOString(), msg, ...obj }) + '\n');
  return { info: line('info'), warn: line('warn'), error: line('error') };
}

export type { Decision, Outcome };
