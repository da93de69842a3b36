// The request-logging middleware's per-request state: a plain fast-properties object, one hidden
// class for every request. As an object literal with a getter closure (as it once was) each
// context was a dictionary-mode object, and through it its request's objects survived young-
// generation collections: a third of all allocation did (docs/operations.md § Performance).
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import type { NextFunction, Request, Response } from 'express';
import { describe, expect, it } from 'vitest';
import { createLogger, ctx, prettyLogs, requestLogging } from '../../api/logging.ts';

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

describe('pretty logs', () => {
  it('are chosen only at a terminal outside production', () => {
    expect(prettyLogs({ tty: true, production: false })).toBe(true);
    expect(prettyLogs({ tty: true, production: true })).toBe(false);
    expect(prettyLogs({ tty: false, production: false })).toBe(false);
    expect(prettyLogs({ tty: false, production: true })).toBe(false);
  });

  it('print one readable line per entry, still redacted', () => {
    const out: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        out.push(String(chunk));
        cb();
      },
    });
    const log = createLogger({ pretty: true, destination: sink });
    log.info({ route: '/v1/users/:id/history', status: 200, userId: 'u-secret-1' }, 'request');
    log.warn('careful');
    const text = out.join('').replace(/\u001b\[[0-9;]*m/g, '');
    const lines = text.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(2);
    expect(() => JSON.parse(lines[0]!)).toThrow();
    expect(lines[0]).toMatch(/INFO.*request.*"route":"\/v1\/users\/:id\/history"/);
    expect(lines[1]).toMatch(/WARN.*careful/);
    expect(text).not.toContain('u-secret-1');
    expect(text).toContain('[redacted]');
  });

  it('stay JSON lines otherwise', () => {
    const out: string[] = [];
    const log = createLogger({ destination: { write: (s: string) => void out.push(s) } });
    log.info({ status: 200 }, 'request');
    expect(JSON.parse(out[0]!)).toMatchObject({ level: 'info', msg: 'request', status: 200 });
  });
});
