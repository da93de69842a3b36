// The evaluate/outcome body reader (api/routes/body.ts): its direct path for plain JSON requests
// must answer exactly as body-parser does for the same bytes, and hold up against split, aborted,
// compressed and odd bodies. Two routes on one server, one per reader, get identical raw requests.
import { request, type Server } from 'node:http';
import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import express, { type ErrorRequestHandler } from 'express';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpServer } from '../../api/app.ts';
import { sendError, toApiError } from '../../api/errors.ts';
import { EVALUATE_BODY_LIMIT, jsonBody, verifyUtf8 } from '../../api/routes/body.ts';

let server: Server;
let port = 0;
let served = 0;

beforeAll(async () => {
  const app = express();
  const echo: express.RequestHandler = (req, res) => {
    served++;
    res.json({ body: req.body as unknown });
  };
  app.post('/direct', ...jsonBody(), echo);
  // body-parser alone (with the UTF-8 check), as every body was read before the direct path existed.
  app.post('/general', express.json({ limit: EVALUATE_BODY_LIMIT, strict: true, verify: verifyUtf8 }), echo);
  const onError: ErrorRequestHandler = (err, _req, res, _next) => sendError(res, toApiError(err));
  app.use(onError);
  server = createHttpServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  port = typeof a === 'object' && a ? a.port : 0;
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

interface Answer {
  status: number;
  body: unknown;
}

function post(path: string, body: Buffer, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': String(body.length), ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, body: text === '' ? null : (JSON.parse(text) as unknown) });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function both(body: Buffer, headers: Record<string, string> = {}): Promise<[Answer, Answer]> {
  return [await post('/direct', body, headers), await post('/general', body, headers)];
}

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');

describe('jsonBody: the direct path answers as body-parser does', () => {
  it.each([
    ['an object', utf8('{"user":{"id":"u1"},"n":[1,2.5,null,true]}'), 200],
    ['an array', utf8('[1,"two",{}]'), 200],
    ['leading whitespace before the object', utf8(' \t\r\n{"a":1}'), 200],
    ['a UTF-8 byte-order mark', Buffer.concat([BOM, utf8('{"a":"é"}')]), 200],
    ['only a byte-order mark (an empty body: {})', BOM, 200],
    ['non-ASCII text', utf8('{"name":"Zoë 東京 🚀"}'), 200],
    ['a bare string (strict mode)', utf8('"just a string"'), 400],
    ['a bare number', utf8('42'), 400],
    ['whitespace only', utf8('   '), 400],
    ['malformed JSON', utf8('{"a":'), 400],
    ['a trailing comma', utf8('{"a":1,}'), 400],
    // Decoded, they would read as U+FFFD: "a\xFF" would name the user "a\uFFFD".
    ['invalid UTF-8 bytes inside a string', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), 400],
    ['a surrogate in CESU-8 (ED A0 80)', Buffer.concat([utf8('{"a":"x'), Buffer.from([0xed, 0xa0, 0x80]), utf8('"}')]), 400],
  ])('%s', async (_name, body, status) => {
    const [direct, general] = await both(body);
    expect(direct.status).toBe(status);
    expect(direct).toEqual(general);
    if (status === 400) expect(direct.body).toMatchObject({ error: { code: 'invalid_request' } });
  });

  it('agrees with body-parser on any bytes and any JSON text (property)', async () => {
    const bodies = fc.oneof(
      fc.json().map(utf8),
      fc.json().map((s) => Buffer.concat([BOM, utf8(` ${s}\n`)])),
      fc.string({ unit: 'grapheme', maxLength: 60 }).map(utf8),
      fc.uint8Array({ minLength: 1, maxLength: 80 }).map((a) => Buffer.from(a)),
    );
    const types = fc.constantFrom('application/json', 'application/json; charset=utf-8');
    await fc.assert(
      fc.asyncProperty(bodies, types, async (body, type) => {
        const [direct, general] = await both(body, { 'content-type': type });
        expect(direct).toEqual(general);
      }),
      { numRuns: 150 },
    );
  });

  it('the limit: 16 KB is read, one byte more is 413 (through body-parser)', async () => {
    const pad = (n: number): Buffer => utf8(`{"p":"${'x'.repeat(n - 8)}"}`);
    expect(pad(EVALUATE_BODY_LIMIT).length).toBe(EVALUATE_BODY_LIMIT);
    const [ok] = await both(pad(EVALUATE_BODY_LIMIT));
    expect(ok.status).toBe(200);
    const [direct, general] = await both(pad(EVALUATE_BODY_LIMIT + 1));
    expect(direct.status).toBe(413);
    expect(direct).toEqual(general);
  });

  it('what the direct path does not take still works: gzip, another charset, chunked', async () => {
    const json = utf8('{"a":"b"}');
    const [gz] = await both(gzipSync(json), { 'content-encoding': 'gzip' });
    expect(gz).toEqual({ status: 200, body: { body: { a: 'b' } } });
    // The limit counts the decompressed bytes: 20 KB of JSON in a few hundred gzip bytes is refused.
    const big = gzipSync(utf8(`{"p":"${'z'.repeat(20_000)}"}`));
    expect(big.length).toBeLessThan(1024);
    const [bomb] = await both(big, { 'content-encoding': 'gzip' });
    expect(bomb.status).toBe(413);
    const [latin] = await both(json, { 'content-type': 'application/json; charset=latin1' });
    expect(latin.status).toBe(415);
    // Not UTF-8 behind gzip is refused as it is without.
    const [badGz] = await both(gzipSync(Buffer.concat([utf8('{"a":"'), Buffer.from([0xff]), utf8('"}')])), { 'content-encoding': 'gzip' });
    expect(badGz.status).toBe(400);
    expect(badGz.body).toMatchObject({ error: { code: 'invalid_request', details: [{ path: '(body)', code: 'invalid_format' }] } });
    const chunked = await rawExchange(
      'POST /direct HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n' +
        '4\r\n{"a"\r\n5\r\n:"b"}\r\n0\r\n\r\n',
    );
    expect(chunked).toMatch(/^HTTP\/1\.1 200/);
    expect(chunked).toContain('{"body":{"a":"b"}}');
  });
});

/** Writes raw bytes (in pieces, with pauses) and returns everything the server answered. */
function rawExchange(...pieces: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (got += d));
    s.on('end', () => resolve(got));
    s.on('error', reject);
    s.on('connect', async () => {
      for (const p of pieces) {
        s.write(p);
        await new Promise((r) => setTimeout(r, 20));
      }
    });
  });
}

describe('jsonBody: split and aborted bodies', () => {
  it('a body arriving in several TCP segments is joined before parsing', async () => {
    const body = '{"user":{"id":"ü-1"},"pad":"' + 'y'.repeat(3000) + '"}';
    const len = Buffer.byteLength(body);
    const head = `POST /direct HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${len}\r\nConnection: close\r\n\r\n`;
    // Split inside the two-byte "ü" as well.
    const cut = Buffer.from(body).indexOf(0xbc);
    const buf = Buffer.from(body);
    const answer = await new Promise<string>((resolve, reject) => {
      const s = connect(port, '127.0.0.1');
      let got = '';
      s.on('data', (d: Buffer) => (got += d.toString('utf8')));
      s.on('end', () => resolve(got));
      s.on('error', reject);
      s.on('connect', async () => {
        s.write(head);
        for (const part of [buf.subarray(0, cut), buf.subarray(cut, 2000), buf.subarray(2000)]) {
          await new Promise((r) => setTimeout(r, 15));
          s.write(part);
        }
      });
    });
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    expect(answer).toContain('"id":"ü-1"');
  });

  it('a client that hangs up mid-body costs nothing: no answer, no crash, the next request is served', async () => {
    const before = served;
    await new Promise<void>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.write('POST /direct HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":');
        setTimeout(() => {
          s.destroy();
          resolve();
        }, 30);
      });
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(served).toBe(before);
    const after = await post('/direct', utf8('{"ok":true}'));
    expect(after).toEqual({ status: 200, body: { body: { ok: true } } });
  });
});
