// Stage 2, read signals: the in-process sources (GeoIP, the user agent), then every store-backed
// signal in ONE round trip — history, velocity, rba counts and the Redis-list probes of the pack and
// of the shadow pack (a probe both ask is sent once), with the attempt's recording writes in the
// same trip. GeoIP and the user agent always run: they are cheap, and the history learns places and
// browsers from them even when today's pack reads neither.
import type { CompiledPack } from '../../dsl/index.ts';
import type { GeoIp } from '../../features/geoip.ts';
import { historyFeatures } from '../../features/history.ts';
import { rbaFields, type RbaAttempt } from '../../features/rba.ts';
import type { ListProbeRequest, SignalStore } from '../../features/store/index.ts';
import type { UserAgentParser } from '../../features/useragent.ts';
import { velocityFeatures } from '../../features/velocity.ts';
import { sessionFeatures } from '../../features/session.ts';
import { decodeSession } from '../session.ts';
import type { LinkedLogin } from '../../features/session.ts';
import { errorMessage } from '../../common/errors.ts';
import { fillPhase } from './fill.ts';
import type { FeaturePlan } from '../plan.ts';
import type { Extracted, SignalFailure, SignalLatency, SignalsRead, StageLogger } from './types.ts';

export interface SignalDeps {
  readonly store: SignalStore;
  /** null: no GeoIP at all (geo.* missing; events degraded when the plan needs them). */
  readonly geoip: GeoIp | null;
  readonly ua: UserAgentParser;
  readonly signalTimeoutMs: number;
  readonly fail: SignalFailure;
  /** Absent: nothing is timed. */
  readonly latency?: SignalLatency | undefined;
  readonly logger?: StageLogger;
  /**
   * The decision log's copy of a sign-in whose session record the store does not hold (past the
   * session window, or lost): absent without a log. Asked only then, within signalTimeoutMs.
   */
  readonly archivedLogin?: ((decisionId: string) => Promise<LinkedLogin | undefined>) | undefined;
}

const NONE: readonly number[] = Object.freeze([]);

export async function readSignals(
  deps: SignalDeps,
  x: Extracted,
  pack: CompiledPack,
  plan: FeaturePlan,
  shadow?: CompiledPack,
): Promise<SignalsRead> {
  const { input, slots, event } = x;
  const ip = input.ip;
  let degraded = false;
  const latency = deps.latency;
  if (ip && deps.geoip) {
    const t0 = latency ? performance.now() : 0;
    try {
      input.geo = deps.geoip.lookupParsed(ip);
    } catch (err) {
      degraded = true;
      deps.fail('geoip');
      deps.logger?.warn({ err: errorMessage(err) }, 'GeoIP lookup failed');
    }
    if (latency) latency('geoip', (performance.now() - t0) / 1000);
  } else if (!deps.geoip && plan.geo) {
    degraded = true;
  }
  const geo = input.geo;
  const agent = (input.ua = deps.ua.parse(event.userAgent));
  // Probe operands and the store context read the in-process features, known from here on.
  fillPhase(plan.phases.local, input, slots);

  // Absent values are undefined properties (no conditional spreads: this runs per request).
  const attempt: RbaAttempt = {
    ip: ip?.address,
    asn: geo.asn,
    country: geo.country,
    ua: event.userAgent,
    browser: agent.browser,
    os: agent.os,
    deviceType: agent.deviceType,
  };
  const ctx = deps.store.context({
    type: event.type,
    userId: event.userId,
    ip: ip ? ip.address : event.ip,
    time: event.time,
    deviceId: event.deviceId,
    country: geo.country,
    asn: geo.asn,
    lat: geo.lat,
    lon: geo.lon,
    browser: agent.browser,
    os: agent.os,
    rbaFields: rbaFields(attempt),
  });

  const probes: ListProbeRequest[] = [];
  const probesSent: number[] = [];
  for (let i = 0; i < pack.probes.length; i++) {
    const p = pack.probes[i]!;
    const v = p.operand(slots);
    if (v !== undefined) {
      // An ip list matches the ranges that hold the address too (features/store/lists.ts).
      probes.push({ key: p.key, value: String(v), cidr: p.elemType === 'ip' });
      probesSent.push(i);
    }
  }
  let shadowProbesSent = NONE;
  let shadowProbeAnswers = NONE;
  if (shadow && shadow.probes.length > 0) {
    const sent: number[] = [];
    const at: number[] = [];
    for (let i = 0; i < shadow.probes.length; i++) {
      const p = shadow.probes[i]!;
      const v = p.operand(slots);
      if (v === undefined) continue;
      const value = String(v);
      let j = 0;
      while (j < probes.length && (probes[j]!.key !== p.key || probes[j]!.value !== value)) j++;
      if (j === probes.length) probes.push({ key: p.key, value });
      sent.push(i);
      at.push(j);
    }
    shadowProbesSent = sent;
    shadowProbeAnswers = at;
  }
  const t1 = latency ? performance.now() : 0;
  const signals = await deps.store.readEvent(
    ctx,
    {
      history: plan.store.history,
      velocity: plan.store.velocity,
      rba: plan.store.rba,
      probes,
      // Only an account_change names a sign-in; its session record rides in the same round trip.
      session: plan.store.session && event.type === 'account_change' ? event.loginDecisionId : undefined,
    },
    deps.signalTimeoutMs,
  );
  if (latency) latency('store', (performance.now() - t1) / 1000);
  if (signals === null) {
    degraded = true;
    deps.fail('store');
  }
  input.history = historyFeatures(signals?.history, { time: event.time, lat: geo.lat, lon: geo.lon });
  input.velocity = velocityFeatures(signals?.velocity);
  if (signals?.session !== undefined) {
    let linked = decodeSession(signals.session);
    if (signals.session === null && deps.archivedLogin && event.type === 'account_change' && event.loginDecisionId !== undefined) {
      const got = await archived(deps, deps.archivedLogin, event.loginDecisionId);
      if (got === 'failed') degraded = true;
      else linked = got;
    }
    input.session = sessionFeatures(linked, ctx);
  }
  return { ctx, attempt, signals, probesSent, shadowProbesSent, shadowProbeAnswers, degraded };
}

/** The log's copy of a linked sign-in within the signal budget; 'failed' when the log errs or is late. */
async function archived(
  deps: SignalDeps,
  find: (decisionId: string) => Promise<LinkedLogin | undefined>,
  decisionId: string,
): Promise<LinkedLogin | undefined | 'failed'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'failed'>((resolve) => {
    timer = setTimeout(() => resolve('failed'), deps.signalTimeoutMs);
  });
  try {
    const got = await Promise.race([
      find(decisionId).catch((err: unknown) => {
        deps.logger?.warn({ err: errorMessage(err) }, 'could not read the linked sign-in from the decision log');
        return 'failed' as const;
      }),
      late,
    ]);
    if (got === 'failed') deps.fail('decision_log');
    return got;
  } finally {
    clearTimeout(timer);
  }
}
