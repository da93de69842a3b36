// End-to-end risk scenarios through the real API of a spawned `vigil serve` (shipped login_core
// pack, MaxMind test databases, a private redis-server): credential stuffing ends in `block`,
// London-then-China on a new device is challenged, a known device from a known place is allowed,
// and outcomes reported through /v1/outcome change later decisions. Event `time` values simulate
// minutes passing. Needs redis-server installed and FAILS without it.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  call,
  clock,
  evaluate,
  FIREFOX,
  CHROME_WIN,
  IP,
  place,
  outcome,
  ownRedis,
  ruleNames,
  startVigil,
  uid,
  type EvaluateAnswer,
  type VigilProcess,
} from './helpers.ts';

const redis = ownRedis();
let vigil: VigilProcess;
const at = clock();

beforeAll(async () => {
  vigil = await startVigil({ redisUrl: redis.url });
});

describe('credential stuffing', () => {
  it('one address failing across many accounts is blocked once a burst is under way, and stays blocked', async () => {
    const decisions: EvaluateAnswer[] = [];
    // 60 attempts 30 s apart (event time), each against another account from a fresh device id (bots
    // rotate them), each reported failed; a blocked attempt gets no outcome (nothing happened).
    for (let i = 0; i < 60; i++) {
      const d = await evaluate(vigil, { user: uid(`victim${i}`), ip: IP.milton, device: uid('bot'), ua: 'python-requests/2.32', time: at(i * 0.5) });
      decisions.push(d);
      if (d.decision !== 'block') await outcome(vigil, d.decision_id, 'failed');
    }
    const seq = decisions.map((d) => d.decision);
    // The first attempts from a fresh address are not refused: a few failures prove nothing.
    expect(seq.slice(0, 3).every((d) => d === 'allow')).toBe(true);
    // login_core: the 4th account tried from one address, with 3 failures behind it in the hour and
    // a device the account never used, is a burst under way: blocked (stuffing_ip_spray_early).
    const firstBlock = seq.indexOf('block');
    expect(firstBlock).toBe(3);
    expect(seq.slice(firstBlock).every((d) => d === 'block')).toBe(true);
    expect(ruleNames(decisions[firstBlock]!)).toContain('stuffing_ip_spray_early');
    expect(decisions[firstBlock]!.rules.find((r) => r.name === 'stuffing_ip_spray_early')!.tags).toContain('stuffing');
    // As the burst grows, the many-accounts rule joins in (blocked attempts report no outcome, so the
    // failure count stays where the block began).
    expect(ruleNames(decisions[40]!)).toEqual(expect.arrayContaining(['stuffing_ip_many_users', 'stuffing_ip_spray_early']));
    expect(decisions[firstBlock]!.degraded).toBe(false);

    // Another address is unaffected: the counters are per address.
    const other = await evaluate(vigil, { user: uid('bystander'), ip: place.boxford(0), ua: FIREFOX, device: uid('d'), time: at(30) });
    expect(other.decision).toBe('allow');
  });

  it('the failures are counted from reported outcomes, not from attempts alone', async () => {
    // The same volume with every attempt reported `succeeded` (a busy but honest NAT) never blocks.
    const seq: string[] = [];
    for (let i = 0; i < 35; i++) {
      const d = await evaluate(vigil, { user: uid(`nat${i}`), ip: place.linkoping(15), device: uid('d'), ua: FIREFOX, time: at(i * 0.5) });
      seq.push(d.decision);
      await outcome(vigil, d.decision_id, 'succeeded');
    }
    expect(seq).not.toContain('block');
    // Many accounts from one address still ask for a step-up; only failures make it an attack.
    expect(seq[34]).toBe('step_up');
  });
});

describe('account takeover', () => {
  it('London, then China minutes later on a new device, is challenged for impossible travel', async () => {
    const user = uid('traveller');
    const home = await evaluate(vigil, { user, ip: IP.london, device: uid('laptop'), ua: FIREFOX, time: at(0) });
    expect(home.decision).toBe('allow');
    await outcome(vigil, home.decision_id, 'succeeded');

    const away = await evaluate(vigil, { user, ip: place.changchun(1), device: uid('phone'), ua: CHROME_WIN, time: at(10) }, true);
    expect(away.decision).toBe('step_up');
    expect(ruleNames(away)).toEqual(expect.arrayContaining(['impossible_travel', 'new_device_new_country']));
    const travel = away.rules.find((r) => r.name === 'impossible_travel')!;
    expect(travel.action).toBe('step_up');
    expect(away.features?.['geo.country']).toBe('CN');
    expect(away.features?.['history.last_country']).toBe('GB');
    expect(away.features?.['device.known']).toBe(false);
    // ~8000 km in 10 minutes.
    expect(away.features?.['history.travel_kmh']).toBeGreaterThan(40_000);
    expect(away.features?.['history.since_last_login']).toBe(600);
  });

  it('the same trip a day later on a new device is not impossible travel', async () => {
    const user = uid('slowtraveller');
    const home = await evaluate(vigil, { user, ip: IP.london, device: uid('laptop'), ua: FIREFOX, time: at(-23 * 60) });
    await outcome(vigil, home.decision_id, 'succeeded');
    const away = await evaluate(vigil, { user, ip: place.changchun(2), device: uid('phone'), ua: CHROME_WIN, time: at(60) });
    expect(ruleNames(away)).not.toContain('impossible_travel');
  });

  it('a known device from a known place is allowed', async () => {
    const user = uid('regular');
    const device = uid('desktop');
    for (const [i, t] of [0, 60, 120].entries()) {
      const d = await evaluate(vigil, { user, ip: place.linkoping(0), device, ua: FIREFOX, time: at(t) });
      expect(d.decision, `sign-in ${i}`).toBe('allow');
      await outcome(vigil, d.decision_id, 'succeeded');
    }
    const again = await evaluate(vigil, { user, ip: place.linkoping(0), device, ua: FIREFOX, time: at(180) }, true);
    expect(again.decision).toBe('allow');
    // Nothing else about this sign-in is unusual; the rule's -20 is clamped to 0 (dsl.md §4).
    expect(ruleNames(again)).toEqual(['trusted_device_and_place']);
    expect(again.score).toBe(0);
    expect(again.features?.['device.known']).toBe(true);
    expect(again.features?.['history.known_country']).toBe(true);
    expect(again.features?.['history.known_asn']).toBe(true);
    expect(again.features?.['history.logins']).toBe(3);
    expect(again.degraded).toBe(false);
  });
});

describe('outcome feedback', () => {
  it('the same attempt is allowed before a success is reported and challenged after it', async () => {
    const user = uid('feedback');
    const home = await evaluate(vigil, { user, ip: IP.london, device: uid('laptop'), ua: FIREFOX, time: at(0) });
    expect(home.decision).toBe('allow');
    const attempt = { user, ip: place.changchun(3), device: uid('phone'), ua: CHROME_WIN, time: at(15) } as const;

    // Nothing learned yet: a user without history is never judged on novelty or travel.
    const before = await evaluate(vigil, attempt);
    expect(before.decision).toBe('allow');
    expect(ruleNames(before)).not.toContain('impossible_travel');

    await outcome(vigil, home.decision_id, 'succeeded');
    const after = await evaluate(vigil, attempt);
    expect(after.decision).toBe('step_up');
    expect(ruleNames(after)).toContain('impossible_travel');
  });

  it('a passed challenge teaches the device and place: the next sign-in there is allowed', async () => {
    const user = uid('learner');
    const home = await evaluate(vigil, { user, ip: IP.london, device: uid('laptop'), ua: FIREFOX, time: at(0) });
    await outcome(vigil, home.decision_id, 'succeeded');
    const phone = uid('phone');
    const trip = await evaluate(vigil, { user, ip: place.changchun(4), device: phone, ua: CHROME_WIN, time: at(10) });
    expect(trip.decision).toBe('step_up');
    await outcome(vigil, trip.decision_id, 'challenge_passed');

    const next = await evaluate(vigil, { user, ip: place.changchun(4), device: phone, ua: CHROME_WIN, time: at(70) }, true);
    expect(next.decision).toBe('allow');
    expect(next.features?.['device.known']).toBe(true);
    expect(next.features?.['history.known_country']).toBe(true);
    expect(next.features?.['history.last_country']).toBe('CN');
  });

  it('five failed outcomes for one account, from three addresses, challenge its next attempt', async () => {
    const user = uid('bruted');
    const ips = [place.linkoping(1), place.linkoping(2), place.linkoping(3)];
    for (let i = 0; i < 5; i++) {
      const d = await evaluate(vigil, { user, ip: ips[i % 3]!, device: uid('d'), ua: FIREFOX, time: at(i) });
      expect(d.decision, `attempt ${i}`).toBe('allow');
      await outcome(vigil, d.decision_id, 'failed');
    }
    const next = await evaluate(vigil, { user, ip: place.linkoping(1), device: uid('d'), ua: FIREFOX, time: at(6) });
    expect(next.decision).toBe('step_up');
    expect(ruleNames(next)).toContain('brute_force_user');
  });

  it('an outcome is applied once: a retried `failed` does not count twice', async () => {
    const user = uid('retried');
    const d = await evaluate(vigil, { user, ip: place.boxford(1), device: uid('d'), ua: FIREFOX, time: at(0) });
    for (let i = 0; i < 6; i++) await outcome(vigil, d.decision_id, 'failed');
    const next = await evaluate(vigil, { user, ip: place.boxford(1), device: uid('d'), ua: FIREFOX, time: at(1) }, true);
    expect(next.features?.['velocity.user_failed_1h']).toBe(1);
    expect(next.decision).toBe('allow');
  });

  it('an unknown decision id is 404 and a malformed outcome 400, with the error shape', async () => {
    const unknown = await call<{ error: { code: string } }>(vigil.url, 'POST', '/v1/outcome', {
      body: { decision_id: '01JD0000000000000000000000', outcome: 'failed' },
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('not_found');
    const bad = await call<{ error: { code: string } }>(vigil.url, 'POST', '/v1/outcome', {
      body: { decision_id: '01JD0000000000000000000000', outcome: 'maybe' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_request');
    const noToken = await call<{ error: { code: string } }>(vigil.url, 'POST', '/v1/evaluate', {
      token: null,
      body: { type: 'login', user: { id: 'x' }, ip: IP.london },
    });
    expect(noToken.status).toBe(401);
    expect(noToken.body.error.code).toBe('unauthorized');
  });
});
