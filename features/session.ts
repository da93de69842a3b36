// The session features (features.md § Sensitive actions: session.*) of an account_change: what the
// sign-in that opened the session (its `login_decision_id`) was, and whether this event moved away
// from it. Pure: the engine decodes the linked sign-in's session record (engine/session.ts) into a
// LinkedLogin and hands it over with this event's own keyed facts. Addresses and devices are compared
// as keyed hashes (the same secret hashes both events): nothing raw is stored or compared.
import type { Action } from '../dsl/ast.ts';

/** What a sign-in decision keeps for the session it opens (keyed hashes and coarse facts only). */
export interface LinkedLogin {
  /** The sign-in's time, ms since the epoch. */
  readonly time: number;
  /** Keyed hash of the user: a link to another user's sign-in is no link. */
  readonly user: string;
  readonly ip: string;
  readonly device?: string | undefined;
  readonly country?: string | undefined;
  readonly decision: Action;
  readonly score: number;
  /** The sign-in came from a device (country) new to the user; undefined when it was not known. */
  readonly newDevice?: boolean | undefined;
  readonly newCountry?: boolean | undefined;
  /** The sign-in came from an address the user never signed in from; undefined when not known. */
  readonly newIp?: boolean | undefined;
}

/** This event's own keyed facts (the store's EventContext fits). */
export interface SessionEvent {
  readonly time: number;
  readonly user: string;
  readonly ip: string;
  readonly device?: string | undefined;
  readonly country?: string | undefined;
}

/** Feature values, by catalog name; undefined = missing. Durations are seconds. */
export interface SessionFeatures {
  'session.age': number | undefined;
  'session.login_decision': string | undefined;
  'session.login_score': number | undefined;
  'session.login_challenged': boolean | undefined;
  'session.new_device': boolean | undefined;
  'session.new_country': boolean | undefined;
  'session.new_ip': boolean | undefined;
  'session.ip_changed': boolean | undefined;
  'session.country_changed': boolean | undefined;
  'session.device_changed': boolean | undefined;
}

export const NO_SESSION: SessionFeatures = Object.freeze({
  'session.age': undefined,
  'session.login_decision': undefined,
  'session.login_score': undefined,
  'session.login_challenged': undefined,
  'session.new_device': undefined,
  'session.new_country': undefined,
  'session.new_ip': undefined,
  'session.ip_changed': undefined,
  'session.country_changed': undefined,
  'session.device_changed': undefined,
});

/**
 * Session features of one event. Every one is missing without a linked sign-in (no
 * `login_decision_id`, an unknown or expired id, the store unavailable), when the link names another
 * user's sign-in, or when the sign-in lies after the event. `*_changed` is missing when either side
 * lacks the value (no device id, no GeoIP country).
 */
export function sessionFeatures(l: LinkedLogin | undefined, ev: SessionEvent): SessionFeatures {
  if (l === undefined || l.user !== ev.user || l.time > ev.time) return NO_SESSION;
  const differs = (a: string | undefined, b: string | undefined): boolean | undefined =>
    a === undefined || b === undefined ? undefined : a !== b;
  return {
    'session.age': (ev.time - l.time) / 1000,
    'session.login_decision': l.decision,
    'session.login_score': l.score,
    'session.login_challenged': l.decision === 'step_up',
    'session.new_device': l.newDevice,
    'session.new_country': l.newCountry,
    'session.new_ip': l.newIp,
    'session.ip_changed': l.ip !== ev.ip,
    'session.country_changed': differs(l.country, ev.country),
    'session.device_changed': differs(l.device, ev.device),
  };
}
