// Keyed hashing of identifiers (user id, device id, address, subnet, learned values) before anything
// reaches the signal store, and the choice of the secret. The store only ever sees these digests, so a
// copy of Redis does not reveal who signed in from where: without the secret an attacker cannot even
// test a guess (a plain SHA-256 of an IPv4 address is reversed by enumerating 2^32 candidates).
import { createHmac, randomBytes } from 'node:crypto';

/** Identifier hashing injected into the signal store. Every method is deterministic for one secret. */
export interface Hasher {
  user(id: string): string;
  device(id: string): string;
  /** A canonical address (see features/ip.ts `parseIp`). */
  ip(address: string): string;
  /** A canonical subnet key (see features/ip.ts `subnetKey`). */
  subnet(cidr: string): string;
  /** Any other learned value (rba field strings, browser/os pairs). */
  field(value: string): string;
}

// Digest length kept in Redis: 128 bits. Collisions need ~2^64 distinct identifiers, far beyond any
// user base, and the keys stay short (22 base64url characters, no `{`/`}` to upset hash tags).
const DIGEST_BYTES = 16;

/**
 * Hash identifiers with HMAC-SHA256 under `secret`. Each kind of identifier is domain-separated, so a
 * user id that happens to equal a device id or an address yields unrelated digests.
 */
export function createHasher(secret: string | Uint8Array): Hasher {
  if (secret.length === 0) throw new Error('the hash secret must not be empty');
  const key = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
  const mac = (domain: string, value: string): string =>
    createHmac('sha256', key).update(domain).update(value).digest().subarray(0, DIGEST_BYTES).toString('base64url');
  return {
    user: (id) => mac('u\0', id),
    device: (id) => mac('d\0', id),
    ip: (address) => mac('i\0', address),
    subnet: (cidr) => mac('n\0', cidr),
    field: (value) => mac('f\0', value),
  };
}

export interface ResolvedSecret {
  readonly secret: string;
  /** True when no secret was configured and a random per-process one was made (warn the operator). */
  readonly generated: boolean;
}

/**
 * The hash secret from `VIGIL_HASH_SECRET`. In production (`NODE_ENV=production`) a missing secret is
 * refused: a per-process secret would silently make every restart forget all history, and several
 * workers would disagree on every key. Elsewhere a random secret is generated (flagged `generated` so
 * the caller can warn); history then lives only as long as the process.
 */
export function resolveHashSecret(env: Readonly<Record<string, string | undefined>>): ResolvedSecret {
  const configured = env.VIGIL_HASH_SECRET;
  if (configured !== undefined && configured !== '') return { secret: configured, generated: false };
  if (env.NODE_ENV === 'production') {
    throw new Error('VIGIL_HASH_SECRET must be set when NODE_ENV=production (identifiers are stored as keyed hashes)');
  }
  return { secret: randomBytes(32).toString('base64url'), generated: true };
}
