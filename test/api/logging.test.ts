// The request-logging middleware's per-request state: a plain fast-properties object, one hidden
// class for every request. As an object literal with a getter closure (as it once was) each
// context was a dictionary-mode object, and through it its request's objects survived young-
// generation collections: a third of all allocation did (docs/operations.md § Performance).
import { EventEmitter } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import type { NextFunction, Request, Response } from 'express';
import { describe, expect, it } from 'vitest';
import { createLogger, ctx, requestLogging } from '../../api/logging.ts';

setFlagsFromString('--allow-natives-syntax');
const haveSameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean;
const hasFastProperties = new Function('a', 'return %HasFastProperties(a)') as (a: object) => boolean;

function fakeRequest(id?: string): { req: Request; res: Response } {
  const res = Object.assign(new EventEmitter(), { locals: {}, statusCode: 200, setHeader: () => undefined });
  const req = { headers: id ? { 'x-request-id': id } : {}, method: 'POST', baseUrl: '' };
  return { req: req as unknown as Request, res: res as unknown as Response };
}

describe('requestLogging', () => {
  it('gives every request a fast-properties context of one hidden class', () => {
    const mw = requestLogging(createLogger({ level: 'silent' }));
    const next: NextFunction = () => undefined;
    const contexts = ['a-1', undefined, 'b-2'].map((id) => {
      const { req, res } = fakeRequest(id);
      mw(req, res, next);
      return ctx(res);
    });
    for (const c of contexts) expect(hasFastProperties(c)).toBe(true);
    const [first, ...rest] = contexts;
    for (const c of rest) expect(haveSameMap(first as object, c)).toBe(true);
    // The extra fields a route adds keep them alike, in the same order.
    for (const c of contexts) c.extra.decision = 'allow';
    for (const c of contexts) expect(hasFastProperties(c.extra)).toBe(true);
    for (const c of rest) expect(haveSameMap(first as object, c)).toBe(true);
  });

  it('makes the child logger once, on first use, bound to the request id', () => {
    const mw = requestLogging(createLogger({ level: 'silent' }));
    const { req, res } = fakeRequest('req-7');
    mw(req, res, () => undefined);
    const rc = ctx(res);
    expect(rc.id).toBe('req-7');
    expect(rc.log).toBe(rc.log);
    expect(rc.log.bindings()).toMatchObject({ req_id: 'req-7' });
  });
});
