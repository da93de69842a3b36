// Connection limits (issue 15, point 4; docs/operations.md § Connections), with raw sockets against
// a listening server whose limits are set short: a slowloris head, a silent connection, a body that
// stops (a lying Content-Length), a body that trickles past the request deadline and an idle
// keep-alive connection are each closed within a bound of their limit (with a 408 where one can be
// sent), and a slow client inside every limit is served. Then the same through `runServer` and the
// VIGIL_*_TIMEOUT variables.
import { spawn } from 'node:child_process';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkIntervalMs, createHttpServer } from '../../api/app.ts';
import { ConfigError, HTTP_LIMITS, loadConfig, type HttpLimits } from '../../api/config.ts';
import { API_TOKEN, GOOD_EVENT, testApp } from './helpers.ts';

const LIMITS: HttpLimits = { headersTimeoutMs: 600, requestTimeoutMs: 1200, bodyTimeoutMs: 400, keepAliveTimeoutMs: 1000 };
const EVERY = checkIntervalMs(LIMITS);
/** Scheduling slack on a shared machine (2 cores, parallel test files). */
const SLACK = 600;

interface Exchange {
  /** ms from connect to the server closing the connection. */
  readonly closedAfter: number;
  readonly text: string;
}

/**
 * Connect, write `pieces` one every `gapMs` (then, with `drip`, one byte of `drip` every `gapMs`
 * forever) and resolve when the server closes the connection.
 */
function exchange(port: number, pieces: readonly string[], gapMs: number, drip?: string): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const s = connect(port, '127.0.0.1');
    let text = '';
    let i = 0;
    const timer = setInterval(() => {
      if (s.destroyed || !s.writable) return;
      if (i < pieces.length) s.write(pieces[i++] as string);
      else if (drip !== undefined) s.write(drip);
    }, gapMs);
    s.setEncoding('utf8');
    s.on('data', (d: string) => (text += d));
    s.on('error', () => undefined);
    s.on('close', () => {
      clearInterval(timer);
      resolve({ closedAfter: Date.now() - t0, text });
    });
    setTimeout(() => {
      s.destroy();
      reject(new Error(`still open after 20 s; got ${JSON.stringify(text)}`));
    }, 20_000).unref();
  });
}

/** Split `s` into pieces of `n` characters. */
const pieces = (s: string, n: number): string[] => Array.from({ length: Math.ceil(s.length / n) }, (_, i) => s.slice(i * n, i * n + n));

const BODY = JSON.stringify(GOOD_EVENT);
/** A valid request line, then a header whose value never ends. */
const SLOW_HEAD = ['GET /healthz HTTP/1.1\r\nHost: vigil\r\nX-Slow: '];
const HEAD = `POST /v1/evaluate HTTP/1.1\r\nHost: vigil\r\nAuthorization: Bearer ${API_TOKEN}\r\nContent-Type: application/json\r\n`;

describe('connection limits (createHttpServer, limits set short)', () => {
  let server: Server;
  let port = 0;
  beforeAll(async () => {
    const t = await testApp();
    server = createHttpServer(t.app, LIMITS);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const a = server.address();
    port = typeof a === 'object' && a ? a.port : 0;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('checks the deadlines every tenth of the shortest limit, at most every second', () => {
    expect(EVERY).toBe(40);
    expect(checkIntervalMs(HTTP_LIMITS)).toBe(500);
    expect(checkIntervalMs({ ...HTTP_LIMITS, bodyTimeoutMs: 60_000 })).toBe(1000);
  });

  it('a slowloris head (one header byte every 50 ms, never ending) is answered 408 and closed at the head limit', async () => {
    const r = await exchange(port, SLOW_HEAD, 50, 'a');
    expect(r.text).toMatch(/^HTTP\/1\.1 408 /);
    expect(r.closedAfter).toBeGreaterThanOrEqual(LIMITS.headersTimeoutMs - 50);
    expect(r.closedAfter).toBeLessThan(LIMITS.headersTimeoutMs + EVERY + SLACK);
  });

  it('a connection that sends nothing is closed at the head limit', async () => {
    const r = await exchange(port, [], 1000);
    expect(r.text).toMatch(/^HTTP\/1\.1 408 /);
    expect(r.closedAfter).toBeLessThan(LIMITS.headersTimeoutMs + EVERY + SLACK);
  });

  it('a body that stops (Content-Length: 1000, then 10 bytes) is answered 408 request_timeout and closed at the body limit', async () => {
    const r = await exchange(port, [`${HEAD}Content-Length: 1000\r\n\r\n`, '{"type":"l'], 5);
    expect(r.text).toMatch(/^HTTP\/1\.1 408 /);
    expect(r.text).toMatch(/\r\nconnection: close\r\n/i);
    const body = JSON.parse(r.text.slice(r.text.indexOf('\r\n\r\n') + 4)) as { error: { code: string; message: string; details: unknown } };
    expect(body.error).toMatchObject({ code: 'request_timeout', details: null });
    expect(r.closedAfter).toBeGreaterThanOrEqual(LIMITS.bodyTimeoutMs);
    expect(r.closedAfter).toBeLessThan(LIMITS.bodyTimeoutMs + EVERY + SLACK);
  });

  it('a body that trickles (a byte every 100 ms, never idle for the body limit) is cut at the request limit', async () => {
    const r = await exchange(port, [`${HEAD}Content-Length: 100000\r\n\r\n`], 100, ' ');
    expect(r.text).toMatch(/^HTTP\/1\.1 408 /);
    expect(r.closedAfter).toBeGreaterThanOrEqual(LIMITS.requestTimeoutMs - 50);
    expect(r.closedAfter).toBeLessThan(LIMITS.requestTimeoutMs + EVERY + SLACK);
  });

  it('a slow client inside every limit is served; its idle keep-alive connection is closed at the keep-alive limit', async () => {
    // The head in pieces over ~400 ms (< 600), the body in pieces 150 ms apart (< 400): ~1 s in all (< 1200).
    const head = pieces(`${HEAD}Content-Length: ${Buffer.byteLength(BODY)}\r\n\r\n`, 40);
    const body = pieces(BODY, Math.ceil(BODY.length / 4));
    expect(head.length * 100).toBeLessThan(LIMITS.headersTimeoutMs);
    const served = new Promise<Exchange & { answeredAfter: number }>((resolve, reject) => {
      const t0 = Date.now();
      const s = connect(port, '127.0.0.1');
      let text = '';
      let answeredAfter = 0;
      s.setEncoding('utf8');
      s.on('data', (d: string) => {
        text += d;
        if (answeredAfter === 0 && text.includes('"decision"')) answeredAfter = Date.now() - t0;
      });
      s.on('error', reject);
      s.on('close', () => resolve({ closedAfter: Date.now() - t0, text, answeredAfter }));
      void (async () => {
        for (const p of head) {
          s.write(p);
          await new Promise((r) => setTimeout(r, 100));
        }
        for (const p of body) {
          s.write(p);
          await new Promise((r) => setTimeout(r, 150));
        }
      })();
    });
    const r = await served;
    expect(r.text).toMatch(/^HTTP\/1\.1 200 /);
    expect(r.text).toContain('"decision":"step_up"');
    expect(r.answeredAfter).toBeGreaterThan(0);
    // Kept alive after the answer (announced as `Keep-Alive: timeout=1`), then closed once idle for
    // the keep-alive limit plus Node's fixed 1 s of grace for a request already on its way.
    expect(r.text).toMatch(/\r\nkeep-alive: timeout=1\r\n/i);
    const idle = r.closedAfter - r.answeredAfter;
    expect(idle).toBeGreaterThanOrEqual(LIMITS.keepAliveTimeoutMs - 50);
    expect(idle).toBeLessThan(LIMITS.keepAliveTimeoutMs + 1000 + SLACK);
  });
});

describe('VIGIL_HEADERS_TIMEOUT, VIGIL_REQUEST_TIMEOUT, VIGIL_BODY_TIMEOUT, VIGIL_KEEPALIVE_TIMEOUT', () => {
  it('default to 10 s, 15 s, 5 s and 65 s; take durations', () => {
    expect(loadConfig({}).http).toEqual({ headersTimeoutMs: 10_000, requestTimeoutMs: 15_000, bodyTimeoutMs: 5_000, keepAliveTimeoutMs: 65_000 });
    expect(
      loadConfig({ VIGIL_HEADERS_TIMEOUT: '500ms', VIGIL_REQUEST_TIMEOUT: '2s', VIGIL_BODY_TIMEOUT: '250ms', VIGIL_KEEPALIVE_TIMEOUT: '5m' }).http,
    ).toEqual({ headersTimeoutMs: 500, requestTimeoutMs: 2000, bodyTimeoutMs: 250, keepAliveTimeoutMs: 300_000 });
  });

  it('refuses a bad value, and a head limit longer than the request limit, naming the variable', () => {
    const issues = (env: Record<string, string>): string[] => {
      try {
        loadConfig(env);
      } catch (err) {
        return (err as ConfigError).issues.map((i) => i.variable);
      }
      return [];
    };
    expect(issues({ VIGIL_BODY_TIMEOUT: '0s' })).toEqual(['VIGIL_BODY_TIMEOUT']);
    expect(issues({ VIGIL_REQUEST_TIMEOUT: 'soon' })).toEqual(['VIGIL_REQUEST_TIMEOUT']);
    expect(issues({ VIGIL_KEEPALIVE_TIMEOUT: '2h' })).toEqual(['VIGIL_KEEPALIVE_TIMEOUT']);
    expect(issues({ VIGIL_HEADERS_TIMEOUT: '20s' })).toEqual(['VIGIL_HEADERS_TIMEOUT']);
  });

  it('the server started from the environment holds them (a slowloris head, a stopped body)', { timeout: 90_000 }, async () => {
    const fixture = new URL('./fixtures/serve.ts', import.meta.url).pathname;
    const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        PORT: '0',
        VIGIL_DECISION_LOG: 'off',
        VIGIL_HEADERS_TIMEOUT: '700ms',
        VIGIL_REQUEST_TIMEOUT: '3s',
        VIGIL_BODY_TIMEOUT: '500ms',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let buf = '';
        const timer = setTimeout(() => reject(new Error('server did not start')), 60_000);
        child.stdout.on('data', (d: Buffer) => {
          buf += d.toString();
          const m = /"port":(\d+)[^\n]*"msg":"vigil listening"/.exec(buf);
          if (m) {
            clearTimeout(timer);
            resolve(Number(m[1]));
          }
        });
        child.once('exit', () => reject(new Error('server exited')));
      });
      const [slow, stopped] = await Promise.all([
        exchange(port, SLOW_HEAD, 50, 'a'),
        exchange(port, [`${HEAD}Content-Length: 1000\r\n\r\n`, '{"type":"l'], 5),
      ]);
      expect(slow.text).toMatch(/^HTTP\/1\.1 408 /);
      expect(slow.closedAfter).toBeLessThan(700 + 70 + SLACK);
      expect(stopped.text).toMatch(/^HTTP\/1\.1 408 [\s\S]*"request_timeout"/);
      expect(stopped.closedAfter).toBeLessThan(500 + 50 + SLACK);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
