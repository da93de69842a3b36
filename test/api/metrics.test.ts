// The metrics of issue 17 on a scrape: the request-duration histogram by method, route pattern and
// status (never a raw path: an id in the URL is in no label, an unknown path is one value), signal
// latency per source, and the pack and model as info metrics — on the test app and on the
// production server's own wiring (api/server.ts).
import { Registry } from 'prom-client';
import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../../api/metrics.ts';
import { parseSamples, scrapeRealServer, SCRAPE_RAW_USER_ID, SCRAPE_UNKNOWN_PATH, type Sample, type Scrape } from '../helpers/scrape.ts';
import { ADMIN_TOKEN, API_TOKEN, GOOD_EVENT, testApp } from './helpers.ts';

function find(samples: readonly Sample[], name: string, labels: Record<string, string>): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

function one(samples: readonly Sample[], name: string, labels: Record<string, string>): number {
  const got = find(samples, name, labels);
  if (got.length !== 1) throw new Error(`${name}${JSON.stringify(labels)}: ${got.length} samples`);
  return got[0]!.value;
}

describe('http_request_duration_seconds on the app', () => {
  it('counts each request under its method, route pattern and status, with buckets, sum and count', async () => {
    const t = await testApp();
    const started = performance.now();
    for (let i = 0; i < 3; i++) {
      const r = await request(t.app).post('/v1/evaluate').set('Authorization', `Bearer ${API_TOKEN}`).send(GOOD_EVENT);
      expect(r.status).toBe(200);
    }
    expect((await request(t.app).post('/v1/evaluate').send(GOOD_EVENT)).status).toBe(401);
    expect((await request(t.app).get('/healthz')).status).toBe(200);
    const elapsed = (performance.now() - started) / 1000;
    const samples = parseSamples((await request(t.app).get('/metrics')).text);

    const ok = { method: 'POST', route: '/v1/evaluate', status: '200' };
    expect(one(samples, 'http_request_duration_seconds_count', ok)).toBe(3);
    expect(one(samples, 'http_request_duration_seconds_count', { ...ok, status: '401' })).toBe(1);
    expect(one(samples, 'http_request_duration_seconds_count', { method: 'GET', route: '/healthz', status: '200' })).toBe(1);
    const sum = one(samples, 'http_request_duration_seconds_sum', ok);
    expect(sum).toBeGreaterThan(0);
    expect(sum).toBeLessThanOrEqual(elapsed);
    // Cumulative buckets ending in +Inf = count.
    const buckets = find(samples, 'http_request_duration_seconds_bucket', ok);
    expect(buckets.at(-1)?.labels.le).toBe('+Inf');
    expect(buckets.at(-1)?.value).toBe(3);
    for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
    // Exactly the three labels, in no other spelling.
    for (const s of find(samples, 'http_request_duration_seconds_count', {})) expect(Object.keys(s.labels).sort()).toEqual(['method', 'route', 'status']);
  });

  it('never puts a raw path in a label: ids in URLs and unknown paths stay out', async () => {
    const t = await testApp();
    const admin = `Bearer ${ADMIN_TOKEN}`;
    const rawUser = 'u-secret-77031';
    expect((await request(t.app).delete(`/v1/users/${rawUser}/history`).set('Authorization', admin)).status).toBe(200);
    expect((await request(t.app).get('/v1/decisions/01JDRAWDECISIONIDXXXXXXXXX').set('Authorization', admin)).status).toBe(404);
    for (const p of ['/no/such/u-secret-2', '/v1/users/u-secret-3']) expect((await request(t.app).get(p)).status).toBe(404);
    const text = (await request(t.app).get('/metrics')).text;
    const samples = parseSamples(text);
    expect(one(samples, 'http_request_duration_seconds_count', { method: 'DELETE', route: '/v1/users/:id/history', status: '200' })).toBe(1);
    expect(one(samples, 'http_request_duration_seconds_count', { method: 'GET', route: '/v1/decisions/:id', status: '404' })).toBe(1);
    // Every unknown path is one label value, whatever it held.
    expect(one(samples, 'http_request_duration_seconds_count', { method: 'GET', route: '(unmatched)', status: '404' })).toBe(2);
    for (const raw of [rawUser, 'u-secret', '01JDRAWDECISIONIDXXXXXXXXX', '/no/such']) expect(text).not.toContain(raw);
    const routes = new Set(find(samples, 'http_request_duration_seconds_count', {}).map((s) => s.labels.route));
    for (const r of routes) expect(r).toMatch(/^(\(unmatched\)|(\/[a-z0-9_.-]*|\/:[a-z]+)+)$/);
  });
});

describe('vigil_model_info', () => {
  it('reads the model version at each scrape: one series, the version loaded now', async () => {
    const metrics = createMetrics(new Registry());
    expect(await metrics.render()).not.toMatch(/^vigil_model_info\{/m);
    let version: string | null = 'iforest-a';
    metrics.watchModel(() => version);
    expect(await metrics.render()).toMatch(/^vigil_model_info\{version="iforest-a"\} 1$/m);
    version = 'iforest-b';
    const text = await metrics.render();
    expect(text).toMatch(/^vigil_model_info\{version="iforest-b"\} 1$/m);
    expect(text).not.toContain('iforest-a');
    version = null;
    expect(await metrics.render()).not.toMatch(/^vigil_model_info\{/m);
  });
});

describe('the production server scraped', () => {
  let scrape: Scrape;
  let samples: Sample[];
  beforeAll(async () => {
    scrape = await scrapeRealServer();
    samples = parseSamples(scrape.text);
  }, 60_000);

  it('times each signal source of an evaluation: geoip, the store round trip, the model', () => {
    for (const source of ['geoip', 'store', 'model']) {
      expect(one(samples, 'vigil_signal_duration_seconds_count', { source }), source).toBe(1);
      expect(one(samples, 'vigil_signal_duration_seconds_sum', { source }), source).toBeGreaterThan(0);
      expect(one(samples, 'vigil_signal_duration_seconds_bucket', { source, le: '+Inf' }), source).toBe(1);
    }
  });

  it('exports the active pack and the loaded model as info metrics of value 1', () => {
    const pack = find(samples, 'vigil_pack_info', {});
    expect(pack).toHaveLength(1);
    expect(pack[0]).toMatchObject({ labels: { name: 'login_core' }, value: 1 });
    expect(pack[0]!.labels.hash).toMatch(/^sha256:[0-9a-f]+$/);
    const model = find(samples, 'vigil_model_info', {});
    expect(model).toHaveLength(1);
    expect(model[0]!.value).toBe(1);
    expect(model[0]!.labels.version).toMatch(/^iforest-/);
  });

  it('times requests by route pattern, with no raw id or path in any label', () => {
    expect(one(samples, 'http_request_duration_seconds_count', { method: 'POST', route: '/v1/evaluate', status: '200' })).toBe(1);
    expect(one(samples, 'http_request_duration_seconds_count', { method: 'DELETE', route: '/v1/users/:id/history', status: '200' })).toBe(1);
    expect(one(samples, 'http_request_duration_seconds_count', { method: 'GET', route: '(unmatched)', status: '404' })).toBe(1);
    expect(one(samples, 'vigil_pack_changes_total', { action: 'activate', result: 'rejected' })).toBe(1);
    expect(scrape.text).not.toContain(SCRAPE_RAW_USER_ID);
    expect(scrape.text).not.toContain(SCRAPE_UNKNOWN_PATH.split('/').at(-1));
  });
});
