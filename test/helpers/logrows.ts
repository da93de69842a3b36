// Decision-log rows for tests: valid by construction (a ULID whose time is the row's time, keyed-hash
// shaped digests, a /24 prefix), small and explicit so assertions can name every field; overrides
// let a test make one field wrong.
import { createHash } from 'node:crypto';
import { ulid } from 'ulid';
import type { LogRow } from '../../decisionlog/index.ts';

/** A 22-character base64url digest standing in for a keyed hash of `name`. */
export function hashOf(name: string): string {
  return createHash('sha256').update(name).digest().subarray(0, 16).toString('base64url');
}

export function testRow(time: number, o: Partial<{ -readonly [K in keyof LogRow]: LogRow[K] }> = {}): LogRow {
  const user = o.user ?? hashOf('user-1');
  return {
    id: ulid(time),
    time,
    type: 'login',
    user,
    device: hashOf('device-1'),
    ip: hashOf('ip-1'),
    prefix: '81.2.69.0/24',
    country: 'GB',
    asn: 2856,
    decision: 'allow',
    score: 0,
    degraded: false,
    rules: [],
    shadow: [],
    pack: { name: 'login_core', version: 7, hash: 'sha256:abc123' },
    modelVersion: 'iforest-2026-11-24',
    features: { 'geo.country': 'GB', 'velocity.ip_failed_1h': 0, 'user.mfa': true, 'history.last_country': null },
    ctx: { v: 1, type: 'login', time, user, ip: hashOf('ip-1'), country: 'GB', rba: [hashOf('f1'), null] },
    request: { created_at: '2024-01-05T10:00:00Z', mfa: true, browser: 'Firefox', os: 'Linux' },
    outcome: null,
    outcomeAt: null,
    ...o,
  };
}
