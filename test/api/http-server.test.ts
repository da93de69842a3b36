// The HTTP server factory (api/app.ts createHttpServer): requests and responses are born with the
// Express app's prototypes, so Express's per-request Object.setPrototypeOf finds nothing to do, and
// everything Express adds to them still works; runServer refuses a port already taken instead of
// reporting a server that never listened.
import type { AddressInfo } from 'node:net';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpServer } from '../../api/app.ts';
import { runServer } from '../../api/server.ts';
import { GOOD_PACK, testEngine } from './helpers.ts';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

async function listen(s: Server): Promise<string> {
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

describe('createHttpServer', () => {
  it('creates requests and responses with the app prototypes before Express sees them', async () => {
    const app = express();
    app.use(express.json());
    app.post('/echo', (req, res) => {
      res.set('X-Got', req.get('content-type') ?? '').json({ body: req.body as unknown, ip: req.ip !== undefined });
    });
    const server = createHttpServer(app);
    const seen: boolean[] = [];
    // Runs before the app's own listener: what Node created, untouched by Express.
    server.prependListener('request', (req: IncomingMessage, res) => {
      seen.push(Object.getPrototypeOf(req) === app.request && Object.getPrototypeOf(res) === app.response);
    });
    const base = await listen(server);
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${base}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ n: i }) });
      expect(r.status).toBe(200);
      expect(r.headers.get('x-got')).toBe('application/json');
      expect(await r.json()).toEqual({ body: { n: i }, ip: true });
    }
    expect(seen).toEqual([true, true, true]);
  });

  it('answers like a server made by app.listen, 404 and errors included', async () => {
    const app = express();
    app.get('/boom', () => {
      throw new Error('boom');
    });
    const base = await listen(createHttpServer(app));
    expect((await fetch(`${base}/nothing`)).status).toBe(404);
    expect((await fetch(`${base}/boom`)).status).toBe(500);
  });
});

describe('runServer', () => {
  it('rejects when its port is taken (EADDRINUSE) instead of reporting a server that never listened', async () => {
    const squatter = createServer();
    servers.push(squatter);
    await new Promise<void>((r) => squatter.listen(0, r));
    const port = (squatter.address() as AddressInfo).port;
    await expect(
      runServer(
        { PORT: String(port), VIGIL_RULES: GOOD_PACK, VIGIL_LOG_LEVEL: 'silent' },
        { createEngine: async ({ packs }) => testEngine(packs) },
      ),
    ).rejects.toThrow(/EADDRINUSE/);
  });
});
