// deploy/: the Grafana dashboard and the Prometheus alert rules query only what Vigil exposes. Every
// metric name in their expressions is checked against a real scrape of the production server
// (test/helpers/scrape.ts), and every label they match on against the scraped series; the rules
// file has the structure Prometheus loads, and `promtool check rules` accepts it (promtool comes
// from Debian's `prometheus` package; .ci/run installs it, and under CI=true its absence fails).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { metricTypes, parseSamples, scrapeRealServer, type Sample } from '../helpers/scrape.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RULES_FILE = join(ROOT, 'deploy/prometheus/vigil-alerts.yaml');
const DASHBOARD_FILE = join(ROOT, 'deploy/grafana/vigil-dashboard.json');

interface Rule {
  alert?: unknown;
  expr?: unknown;
  for?: unknown;
  labels?: Record<string, unknown>;
  annotations?: Record<string, unknown>;
}
const rulesDoc = parseYaml(readFileSync(RULES_FILE, 'utf8')) as { groups?: { name?: unknown; rules?: Rule[] }[] };
const rules = (rulesDoc.groups ?? []).flatMap((g) => g.rules ?? []);

interface Panel {
  title: string;
  type: string;
  targets?: { expr: string; refId: string }[];
}
const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as {
  title: string;
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; query?: string }[] };
};

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

/** The selectors of a PromQL expression: metric name and the label names it matches on. */
export function selectors(expr: string): { metric: string; labels: string[] }[] {
  const out: { metric: string; labels: string[] }[] = [];
  // Grafana's variables ($job, $__rate_interval) and range/offset durations are not names.
  const text = expr.replace(/\[[^\]]*\]/g, '').replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  const re = /([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{([^}]*)\})?\s*(\()?/g;
  // Drop string literals so that values such as "/v1/evaluate" are never read as names, and
  // numbers so that 1e-9 is not read as `e`.
  const stripped = text.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/(?<![a-zA-Z0-9_:])\d[\d.]*(?:[eE][+-]?\d+)?/g, '0');
  for (const m of stripped.matchAll(re)) {
    const name = m[1]!;
    if (m[4] === '(' || KEYWORDS.has(name) || /^\d/.test(name)) continue;
    // A label name inside a matcher is consumed with its selector (the group 3 below).
    const before = stripped.slice(0, m.index);
    if ((before.match(/\{/g)?.length ?? 0) > (before.match(/\}/g)?.length ?? 0)) continue;
    const labels = [...(m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)/g)].map((l) => l[1]!);
    out.push({ metric: name, labels });
  }
  return out;
}

function allExpressions(): { where: string; expr: string }[] {
  const out = rules.map((r) => ({ where: `alert ${String(r.alert)}`, expr: String(r.expr) }));
  for (const p of dashboard.panels) for (const t of p.targets ?? []) out.push({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr });
  for (const v of dashboard.templating.list) if (v.query !== undefined && v.query.includes('(')) out.push({ where: `variable ${v.name}`, expr: v.query.replace(/^label_values\(([^,]+),.*\)$/, '$1') });
  return out;
}

describe('the selector reader', () => {
  it('finds metric names and matched labels, not functions, keywords, strings or variables', () => {
    expect(
      selectors('histogram_quantile(0.99, sum by (route, le) (rate(http_request_duration_seconds_bucket{job=~"$job", route="/v1/x"}[$__rate_interval])))'),
    ).toEqual([{ metric: 'http_request_duration_seconds_bucket', labels: ['job', 'route'] }]);
    expect(selectors('sum(rate(a_total[5m])) / clamp_min(sum(rate(b_total{x="by"}[5m])), 1e-9) > 0.05')).toEqual([
      { metric: 'a_total', labels: [] },
      { metric: 'b_total', labels: ['x'] },
    ]);
    expect(selectors('max by (version) (vigil_model_info)')).toEqual([{ metric: 'vigil_model_info', labels: [] }]);
  });
});

describe('alert rules', () => {
  it('are groups of rules Prometheus loads: alert, expr, for, labels, annotations', () => {
    expect(rulesDoc.groups?.length).toBeGreaterThan(0);
    for (const g of rulesDoc.groups ?? []) expect(typeof g.name).toBe('string');
    const names = rules.map((r) => r.alert);
    expect(names).toEqual(['VigilDegradedDecisions', 'VigilEvaluateLatencyHigh', 'VigilRedisErrors', 'VigilPackRefused']);
    for (const r of rules) {
      expect(typeof r.expr, String(r.alert)).toBe('string');
      if (r.for !== undefined) expect(r.for, String(r.alert)).toMatch(/^\d+[smhd]$/);
      expect(['warning', 'critical']).toContain(r.labels?.severity);
      expect(typeof r.annotations?.summary).toBe('string');
      expect(typeof r.annotations?.description).toBe('string');
      for (const k of Object.keys(r)) expect(['alert', 'expr', 'for', 'labels', 'annotations', 'keep_firing_for']).toContain(k);
    }
  });

  it('pass promtool check rules', () => {
    let promtool: string | undefined;
    try {
      promtool = execFileSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' }).trim();
    } catch {
      promtool = undefined;
    }
    if (!promtool) {
      // CI installs it (.ci/run); elsewhere the structural test above stands alone.
      if (process.env.CI === 'true') throw new Error('promtool is not installed (apt-get install prometheus)');
      return;
    }
    const out = execFileSync(promtool, ['check', 'rules', RULES_FILE], { encoding: 'utf8' });
    expect(out).toContain(`SUCCESS: ${rules.length} rules found`);
  });
});

describe('the dashboard', () => {
  it('has the panels an operator needs', () => {
    expect(dashboard.uid).toBe('vigil-overview');
    expect(dashboard.panels.map((p) => p.title)).toEqual([
      'Requests per second by route',
      'p99 latency by route',
      'Decisions by outcome',
      'Degraded share',
      'Signal latency per source (p50, p99)',
      'Redis errors',
      'Packs refused (1 h)',
      'Active pack',
      'Anomaly model',
    ]);
    for (const p of dashboard.panels) expect(p.targets?.length, p.title).toBeGreaterThan(0);
    expect(new Set(dashboard.panels.map((p) => (p as unknown as { id: number }).id)).size).toBe(dashboard.panels.length);
  });
});

describe('every query against a real scrape', () => {
  let types: Map<string, string>;
  let samples: Sample[];
  beforeAll(async () => {
    const scrape = await scrapeRealServer();
    types = metricTypes(scrape.text);
    samples = parseSamples(scrape.text);
  }, 60_000);

  /** The family a sample name belongs to (a histogram's _bucket/_sum/_count), if the scrape has it. */
  function family(name: string): string | undefined {
    if (types.has(name)) return name;
    const m = /^(.*)_(bucket|sum|count)$/.exec(name);
    if (m && types.get(m[1]!) === 'histogram') return m[1];
    return undefined;
  }

  it('names only metrics /metrics exposes, with labels their series carry', () => {
    const exprs = allExpressions();
    expect(exprs.length).toBeGreaterThan(10);
    for (const { where, expr } of exprs) {
      const sel = selectors(expr);
      expect(sel.length, `${where}: ${expr}`).toBeGreaterThan(0);
      for (const s of sel) {
        expect(family(s.metric), `${where}: ${s.metric} is not in the scrape`).toBeDefined();
        const series = samples.filter((x) => x.name === s.metric);
        // Labels Prometheus adds at scrape time are not the app's; the app's must exist on the metric.
        for (const l of s.labels.filter((l) => l !== 'job' && l !== 'instance')) {
          if (series.length > 0) expect(series.some((x) => l in x.labels), `${where}: ${s.metric} has no label ${l}`).toBe(true);
        }
      }
    }
  });

  it('a name the app does not expose is caught', () => {
    expect(family('vigil_no_such_metric_total')).toBeUndefined();
    expect(family('vigil_decisions_total_bucket')).toBeUndefined();
    expect(family('http_request_duration_seconds_bucket')).toBe('http_request_duration_seconds');
  });
});
