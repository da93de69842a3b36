// Runs the example auth service from the environment: VIGIL_URL, VIGIL_API_TOKEN, VIGIL_ADMIN_TOKEN, PORT,
// TRUST_PROXY_HOPS, AUTH_USERS_FILE. Start: `npx tsx examples/auth-service/main.ts`. Development only:
// one-time codes and reset links are written to the log instead of being sent.
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { createAuthService, DEV_CODE, type AuthUser } from './service.ts';

const log = pino({ name: 'example-auth-service' });

function fail(msg: string): never {
  log.fatal(msg);
  process.exit(1);
}

function intEnv(name: string, dflt: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) fail(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  return n;
}

/** Two demo accounts, or a JSON file `{"alice": {"id": "u-1", "password": "..."}, ...}`. */
function loadUsers(): Record<string, AuthUser> {
  const file = process.env.AUTH_USERS_FILE;
  if (!file) {
    return {
      alice: { id: 'u-alice', password: 'correct horse battery staple', createdAt: '2024-01-05T10:00:00Z', mfa: true },
      bob: { id: 'u-bob', password: 'hunter2hunter2', createdAt: '2025-06-01T00:00:00Z', mfa: false },
    };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    fail(`AUTH_USERS_FILE ${file}: ${String(err)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) fail(`AUTH_USERS_FILE ${file}: not a JSON object`);
  for (const [name, u] of Object.entries(parsed)) {
    const ok = typeof u === 'object' && u !== null && typeof (u as AuthUser).id === 'string' && typeof (u as AuthUser).password === 'string';
    if (!ok) fail(`AUTH_USERS_FILE ${file}: user ${JSON.stringify(name)} needs string "id" and "password"`);
  }
  return parsed as Record<string, AuthUser>;
}

const vigilUrl = process.env.VIGIL_URL ?? 'http://127.0.0.1:8080';
try {
  new URL(vigilUrl);
} catch {
  fail(`VIGIL_URL must be a URL, got ${JSON.stringify(vigilUrl)}`);
}
const port = intEnv('PORT', 3000, 0, 65535);

const service = createAuthService({
  vigilUrl,
  apiToken: process.env.VIGIL_API_TOKEN || undefined,
  adminToken: process.env.VIGIL_ADMIN_TOKEN || undefined,
  users: loadUsers(),
  trustProxyHops: intEnv('TRUST_PROXY_HOPS', 0, 0, 10),
  logger: log,
});
await service.ready;
const server = service.createServer();
server.listen(port, () => {
  log.warn({ code: DEV_CODE }, 'example service: one-time codes and reset links are printed to this log; never expose it');
  log.info({ port, vigilUrl }, 'auth service listening');
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => server.close(() => process.exit(0)));
