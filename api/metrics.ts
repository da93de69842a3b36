// Prometheus metrics of the API and the engine, registered on a Registry handed in (never the
// global one, so tests and several apps in one process never collide). The engine reports signal
// failures through `signalFailure` and each source's time through `signalLatency`; the pack manager
// reports swaps through `setPack`; the model's version is read at each scrape (`watchModel`).
// Every metric name here is what deploy/ (dashboard, alert rules) queries: test/deploy checks.
import { Counter, Gauge, Histogram, collectDefaultMetrics, type Registry } from 'prom-client';
import type { DecisionLogStats } from '../decisionlog/index.ts';
import type { EvaluateResult, PackInfo } from '../engine/types.ts';

export interface VigilMetrics {
  readonly registry: Registry;
  observeDecision(type: string, result: EvaluateResult, seconds: number): void;
  /** One answered request: `route` is the matched route's pattern (never the raw path). */
  observeHttp(route: string, method: string, status: number, seconds: number): void;
  /** A signal source (redis, geoip, model, …) failed or ran past its budget. */
  signalFailure(source: string): void;
  /** The time one signal source took for one event, failures and timeouts included. */
  signalLatency(source: string, seconds: number): void;
  /** Export the anomaly model's version as `vigil_model_info` (read at each scrape; null: no model). */
  watchModel(version: () => string | null): void;
  /** The active pack changed (null: none loaded). */
  setPack(pack: PackInfo | null): void;
  packChange(action: 'activate' | 'rollback' | 'reload' | 'sync', result: 'ok' | 'rejected' | 'unchanged'): void;
  /** Export the decision log's queue, spool, writes and drops (read at each scrape). */
  watchDecisionLog(log: { readonly stats: DecisionLogStats }): void;
  /** The exposition text; replaced by the cluster-wide aggregate under VIGIL_WORKERS > 1. */
  render(): Promise<string>;
  readonly contentType: string;
}

export interface MetricsOptions {
  /** Add the process/runtime metrics of prom-client (off in tests to keep output small). */
  readonly defaultMetrics?: boolean;
  /** Replace local rendering, e.g. to ask the cluster primary for an aggregate. */
  readonly render?: () => Promise<string>;
}

export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
/** Requests run up to the server's 15 s request timeout. */
export const HTTP_BUCKETS = [...LATENCY_BUCKETS, 5, 10, 15];
/** A signal source's budget is VIGIL_SIGNAL_TIMEOUT_MS (25 ms by default): finer buckets below it. */
export const SIGNAL_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

export function createMetrics(registry: Registry, opts: MetricsOptions = {}): VigilMetrics {
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry });
  const decisions = new Counter({
    name: 'vigil_decisions_total',
    help: 'Decisions by event type and result',
    labelNames: ['type', 'decision'] as const,
    registers: [registry],
  });
  const degraded = new Counter({
    name: 'vigil_degraded_decisions_total',
    help: 'Decisions taken while a signal source failed or ran past its budget',
    labelNames: ['type'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'vigil_evaluate_duration_seconds',
    help: 'Time to evaluate one event, from validated request to answer',
    labelNames: ['type'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const ruleHits = new Counter({
    name: 'vigil_rule_hits_total',
    help: 'Matched rules by name and mode (enforce or shadow)',
    labelNames: ['rule', 'mode'] as const,
    registers: [registry],
  });
  const signalFailures = new Counter({
    name: 'vigil_signal_failures_total',
    help: 'Signal source failures and timeouts',
    labelNames: ['source'] as const,
    registers: [registry],
  });
  const packInfo = new Gauge({
    name: 'vigil_pack_info',
    help: 'The active rule pack (value 1)',
    labelNames: ['name', 'version', 'hash'] as const,
    registers: [registry],
    // Summed over workers the value would read N; every worker serves the same pack.
    aggregator: 'max',
  });
  const packChanges = new Counter({
    name: 'vigil_pack_changes_total',
    help: 'Pack activations, rollbacks, reloads and syncs by result',
    labelNames: ['action', 'result'] as const,
    registers: [registry],
  });
  const http = new Counter({
    name: 'vigil_http_requests_total',
    help: 'HTTP requests by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from a request\'s arrival to the end of its answer, by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: HTTP_BUCKETS,
    registers: [registry],
  });
  const signalDuration = new Histogram({
    name: 'vigil_signal_duration_seconds',
    help: 'Time one signal source took for one event (failures and timeouts included)',
    labelNames: ['source'] as const,
    buckets: SIGNAL_BUCKETS,
    registers: [registry],
  });
  let modelVersion: (() => string | null) | null = null;
  new Gauge({
    name: 'vigil_model_info',
    help: 'The anomaly model loaded (value 1)',
    labelNames: ['version'] as const,
    registers: [registry],
    aggregator: 'max',
    collect() {
      this.reset();
      const v = modelVersion?.() ?? null;
      if (v !== null) this.set({ version: v }, 1);
    },
  });

  let logStats: (() => DecisionLogStats) | null = null;
  const logGauge = (name: string, help: string, read: (s: DecisionLogStats) => number): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        if (logStats) this.set(read(logStats()));
      },
    });
  };
  // The log's own counts are totals since start; exported as gauges that read them at each scrape.
  logGauge('vigil_decision_log_queued', 'Decision log rows waiting in memory for the database', (s) => s.queued);
  logGauge('vigil_decision_log_spooled', 'Decision log rows in the disk spool (the database was away)', (s) => s.spooled);
  logGauge('vigil_decision_log_spool_bytes', 'Bytes of the decision log spool on disk', (s) => s.spoolBytes);
  logGauge('vigil_decision_log_written_rows', 'Decision log rows written to the database since start', (s) => s.written);
  logGauge('vigil_decision_log_dropped_rows', 'Decision log rows dropped since start (queue and spool full)', (s) => s.dropped);
  logGauge('vigil_decision_log_write_errors', 'Failed decision log writes since start', (s) => s.writeErrors);

  return {
    registry,
    contentType: registry.contentType,
    watchDecisionLog(log) {
      logStats = () => log.stats;
    },
    observeDecision(type, result, seconds) {
      decisions.inc({ type, decision: result.decision });
      latency.observe({ type }, seconds);
      if (result.degraded) degraded.inc({ type });
      for (const r of result.rules) ruleHits.inc({ rule: r.name, mode: 'enforce' });
      for (const r of result.shadow) ruleHits.inc({ rule: r.name, mode: 'shadow' });
    },
    observeHttp(route, method, status, seconds) {
      const labels = { route, method, status: String(status) };
      http.inc(labels);
      httpDuration.observe(labels, seconds);
    },
    signalFailure(source) {
      signalFailures.inc({ source });
    },
    signalLatency(source, seconds) {
      signalDuration.observe({ source }, seconds);
    },
    watchModel(version) {
      modelVersion = version;
    },
    setPack(pack) {
      packInfo.reset();
      if (pack) packInfo.set({ name: pack.name, version: String(pack.version), hash: pack.hash }, 1);
    },
    packChange(action, result) {
      packChanges.inc({ action, result });
    },
    render: opts.render ?? (() => registry.metrics()),
  };
}
