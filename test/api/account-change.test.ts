// POST /v1/evaluate with account_change (features.md § Sensitive actions): the request fields
// (`change` required for that type, `login_decision_id` optional and validated like other ids, both
// refused on other types) reach the engine, bad ones are 400s naming the field; the answer carries
// `notices`; the OpenAPI answer schema names the catalogue's codes.
import request from 'supertest';
import { beforeEach, describe, expect, it } from 'vitest';
import { NOTICE_CODES } from '../../dsl/index.ts';
import { NOTICE_CODE_NAMES } from '../../api/responses.ts';
import { API_TOKEN, GOOD_EVENT, NOW, errorCode, testApp, type TestApp } from './helpers.ts';

let t: TestApp;
beforeEach(async () => {
  t = await testApp();
});

const CHANGE = { ...GOOD_EVENT, type: 'account_change', change: 'email', login_decision_id: '01JD8X3N4V5Q6R7S8T9V0W1X2Y' };

function evaluate(body: unknown) {
  return request(t.app).post('/v1/evaluate').set('Authorization', `Bearer ${API_TOKEN}`).send(body as object);
}

function paths(res: request.Response): string[] {
  return (res.body.error.details as { path: string }[]).map((d) => d.path);
}

describe('account_change on POST /v1/evaluate', () => {
  it('hands the engine the change and the linked sign-in', async () => {
    const res = await evaluate(CHANGE);
    expect(res.status).toBe(200);
    expect(t.engine.events[0]).toMatchObject({ type: 'account_change', change: 'email', loginDecisionId: CHANGE.login_decision_id, time: NOW });
    expect(res.body.notices).toEqual([]);
  });

  it.each(['password', 'email', 'mfa_add', 'mfa_remove', 'recovery_method'])('accepts change = %s without a link', async (change) => {
    const res = await evaluate({ ...CHANGE, change, login_decision_id: null });
    expect(res.status).toBe(200);
    expect(t.engine.events[0]!.change).toBe(change);
    expect(t.engine.events[0]!.loginDecisionId).toBeUndefined();
  });

  it.each([
    ['change', undefined],
    ['change', null],
    ['change', 'username'],
    ['change', 'EMAIL'],
    ['change', 3],
    ['login_decision_id', ''],
    ['login_decision_id', 'x'.repeat(129)],
    ['login_decision_id', 42],
    ['login_decision_id', '\ud800'],
  ])('%s = %j → 400 naming the field', async (field, value) => {
    const body: Record<string, unknown> = { ...CHANGE };
    if (value === undefined) delete body[field];
    else body[field] = value;
    const res = await evaluate(body);
    expect(res.status).toBe(400);
    expect(errorCode(res.body)).toBe('invalid_request');
    expect(paths(res)).toContain(field);
    expect(t.engine.events).toHaveLength(0);
  });

  it.each(['login', 'recovery'])('change or login_decision_id on a %s → 400 naming each', async (type) => {
    const res = await evaluate({ ...CHANGE, type });
    expect(res.status).toBe(400);
    expect(paths(res).sort()).toEqual(['change', 'login_decision_id']);
  });

  it('the answer schema names exactly the catalogue codes', () => {
    expect([...NOTICE_CODE_NAMES].sort()).toEqual([...NOTICE_CODES].sort());
  });
});
