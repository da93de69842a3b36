// The short form of `npm run fuzz` (test/fuzz/run.ts): a few thousand generated requests over every
// route of the real server in process (decision log off, to start fast) and a few hundred pack
// sources through the compiler. No answer may be a 5xx, carry a stack trace or break the error
// shape, no route may go unvisited, and the compiler must answer every source with diagnostics.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerProblems, fuzzHttp, fuzzPacks, routesFromSource, startFuzzServer, type FuzzResult, type FuzzServer } from './api.ts';

const describeFailures = (r: FuzzResult): string =>
  [...r.failures].map(([k, f]) => `${f.count} × ${k} on ${[...f.routes].join(', ')}\n  e.g. ${f.example}`).join('\n');

describe('fuzz, short form', () => {
  let server: FuzzServer;
  beforeAll(async () => {
    server = await startFuzzServer({ decisionLog: 'off' });
  }, 60_000);
  afterAll(() => server?.close());

  it('finds every route in the routers', () => {
    const routes = routesFromSource().map((r) => `${r.method} ${r.path}`);
    expect(routes).toContain('POST /v1/evaluate');
    expect(routes).toContain('PUT /v1/packs/active');
    expect(routes).toContain('GET /console/console.js');
    expect(routes.length).toBeGreaterThanOrEqual(30);
  });

  it('the answer check catches what it must', () => {
    const req = { route: 'POST /v1/evaluate', method: 'POST', path: '/v1/evaluate', headers: {} };
    const h = { 'x-request-id': 'r', 'content-type': 'application/json' };
    expect(answerProblems(req, { status: 500, headers: h, text: '{"error":{"code":"internal","message":"x","details":null}}' })).toEqual(['status 500']);
    expect(answerProblems(req, { status: 400, headers: h, text: '{"error":{"code":"not_found","message":"x","details":null}}' })[0]).toMatch(/registry: 404/);
    expect(answerProblems(req, { status: 400, headers: h, text: 'Bad Request' })[0]).toMatch(/not JSON/);
    expect(answerProblems(req, { status: 200, headers: h, text: '{"decision":"maybe"}' })[0]).toMatch(/spec's shape/);
    expect(answerProblems(req, { status: 400, headers: h, text: '{"error":{"code":"invalid_request","message":"Error\\n    at f (x.ts:1:2)","details":null}}' })).toContain('a stack trace in the body');
  });

  it('3,000 generated requests over every route: no 5xx, the error shape, the documented successes', async () => {
    const routes = routesFromSource();
    const r = await fuzzHttp(server, routes, 3000);
    expect(describeFailures(r)).toBe('');
    expect(routes.filter((x) => !r.byRoute?.has(`${x.method} ${x.path}`))).toEqual([]);
  }, 120_000);

  it('300 pack sources: the compiler answers each with diagnostics, never an exception', () => {
    const r = fuzzPacks(300);
    expect(describeFailures(r)).toBe('');
  }, 60_000);
});
