// The session record codec (engine/session.ts) and the session features it feeds
// (features/session.ts): round trip, damaged or foreign records read as no link, and the missing
// cases of the features.
import { describe, expect, it } from 'vitest';
import { decodeSession, encodeSession } from '../../engine/session.ts';
import { historyFeatures } from '../../features/history.ts';
import { NO_SESSION, sessionFeatures } from '../../features/session.ts';
import type { EventContext } from '../../features/store/index.ts';

const CTX: EventContext = { v: 1, type: 'login', time: 1_000_000, user: 'uHash_1', ip: 'iHash-2', device: 'dHash3', country: 'GB' };
const HISTORY = historyFeatures({ logins: 3, knownDevice: false, knownCountry: true, knownIp: false }, { time: 1_000_000 });

describe('session record', () => {
  it('round-trips what a sign-in keeps, keyed hashes only', () => {
    const raw = encodeSession(CTX, 'step_up', 55, HISTORY);
    expect(raw).not.toMatch(/81\.2|u-123|d-9f2c/);
    expect(decodeSession(raw)).toEqual({
      time: 1_000_000, user: 'uHash_1', ip: 'iHash-2', device: 'dHash3', country: 'GB',
      decision: 'step_up', score: 55, newDevice: true, newCountry: false, newIp: true,
    });
  });

  it('a first sign-in (no history) keeps new_device, new_country and new_ip unknown', () => {
    const first = historyFeatures({ logins: 0 }, { time: 0 });
    expect(decodeSession(encodeSession(CTX, 'allow', 0, first))).toMatchObject({ newDevice: undefined, newCountry: undefined, newIp: undefined });
  });

  it('reads a version 1 record (written before new_ip) with new_ip missing', () => {
    const v1 = JSON.stringify([1, 1_000_000, 'uHash_1', 'iHash-2', 'dHash3', 'GB', 'allow', 0, 1, 0]);
    const l = decodeSession(v1);
    expect(l).toMatchObject({ decision: 'allow', newDevice: true, newCountry: false, newIp: undefined });
    expect(sessionFeatures(l, CTX)['session.new_ip']).toBeUndefined();
  });

  it('a sign-in from an address the user used keeps new_ip false', () => {
    const known = historyFeatures({ logins: 3, knownDevice: false, knownCountry: true, knownIp: true }, { time: 1_000_000 });
    expect(sessionFeatures(decodeSession(encodeSession(CTX, 'allow', 0, known)), CTX)['session.new_ip']).toBe(false);
  });

  it.each([
    ['not JSON', '{'],
    ['an unknown version', JSON.stringify([3, 1, 'u', 'i', null, null, 'allow', 0, null, null, null])],
    ['a version 2 record of version 1 length', JSON.stringify([2, 1, 'u', 'i', null, null, 'allow', 0, null, null])],
    ['a version 1 record of version 2 length', JSON.stringify([1, 1, 'u', 'i', null, null, 'allow', 0, null, null, 1])],
    ['a new_ip flag that is not 0/1/null', JSON.stringify([2, 1, 'u', 'i', null, null, 'allow', 0, null, null, 2])],
    ['a raw address as ip', JSON.stringify([1, 1, 'u', '81.2.69.142', null, null, 'allow', 0, null, null])],
    ['an unknown decision', JSON.stringify([1, 1, 'u', 'i', null, null, 'maybe', 0, null, null])],
    ['a flag that is not 0/1/null', JSON.stringify([1, 1, 'u', 'i', null, null, 'allow', 0, 'yes', null])],
    ['too short', JSON.stringify([1, 1, 'u'])],
  ])('reads %s as no record', (_what, raw) => {
    expect(decodeSession(raw)).toBeUndefined();
  });

  it('null or absent reads as no record', () => {
    expect(decodeSession(null)).toBeUndefined();
    expect(decodeSession(undefined)).toBeUndefined();
  });
});

describe('sessionFeatures', () => {
  const linked = decodeSession(encodeSession(CTX, 'allow', 5, HISTORY))!;
  it('is all missing without a link, for another user, or for a sign-in after the event', () => {
    expect(sessionFeatures(undefined, CTX)).toBe(NO_SESSION);
    expect(sessionFeatures(linked, { ...CTX, user: 'someoneElse' })).toBe(NO_SESSION);
    expect(sessionFeatures(linked, { ...CTX, time: CTX.time - 1 })).toBe(NO_SESSION);
  });
  it('compares keyed address, country and device; missing where a side lacks one', () => {
    const f = sessionFeatures(linked, { time: CTX.time + 90_000, user: CTX.user, ip: 'other', country: 'FR' });
    expect(f).toMatchObject({ 'session.age': 90, 'session.ip_changed': true, 'session.country_changed': true, 'session.device_changed': undefined });
  });
});
