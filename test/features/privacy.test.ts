// Identifier hashing and the choice of the hash secret (features/privacy.ts).
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createHasher, resolveHashSecret } from '../../features/privacy.ts';

describe('createHasher', () => {
  it('is a truncated HMAC-SHA256 under the secret, base64url, 22 characters', () => {
    const h = createHasher('s3cret');
    const expected = createHmac('sha256', 's3cret').update('u\0alice').digest().subarray(0, 16).toString('base64url');
    expect(h.user('alice')).toBe(expected);
    expect(h.user('alice')).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('is deterministic for one secret and differs across secrets', () => {
    expect(createHasher('a').ip('192.0.2.1')).toBe(createHasher('a').ip('192.0.2.1'));
    expect(createHasher('a').ip('192.0.2.1')).not.toBe(createHasher('b').ip('192.0.2.1'));
  });

  it('separates the kinds of identifier', () => {
    const h = createHasher('k');
    const v = 'same-text';
    const all = [h.user(v), h.device(v), h.ip(v), h.subnet(v), h.field(v)];
    expect(new Set(all).size).toBe(5);
  });

  it('accepts a byte secret and refuses an empty one', () => {
    expect(createHasher(new Uint8Array([1, 2, 3])).user('x')).toBe(createHasher(Buffer.from([1, 2, 3])).user('x'));
    expect(() => createHasher('')).toThrow(/empty/);
  });
});

describe('resolveHashSecret', () => {
  it('uses VIGIL_HASH_SECRET when set', () => {
    expect(resolveHashSecret({ VIGIL_HASH_SECRET: 'abc', NODE_ENV: 'production' })).toEqual({ secret: 'abc', generated: false });
  });

  it('refuses a missing or empty secret in production', () => {
    expect(() => resolveHashSecret({ NODE_ENV: 'production' })).toThrow(/VIGIL_HASH_SECRET/);
    expect(() => resolveHashSecret({ NODE_ENV: 'production', VIGIL_HASH_SECRET: '' })).toThrow(/VIGIL_HASH_SECRET/);
  });

  it('generates a random per-process secret elsewhere, flagged', () => {
    const a = resolveHashSecret({});
    const b = resolveHashSecret({ NODE_ENV: 'development' });
    expect(a.generated).toBe(true);
    expect(b.generated).toBe(true);
    expect(a.secret.length).toBeGreaterThanOrEqual(32);
    expect(a.secret).not.toBe(b.secret);
  });
});
