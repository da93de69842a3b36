// The vocabulary of `vigil simulate` (training/simulate.ts): attack and takeover-chain kinds, the
// sensitive changes and where owners make them, the legitimate scenarios, the two behaviour mixes
// (`default`, tuned on, and `heldout`, measured only), the NDJSON line format and the options. Types
// and constants only: the generator lives in simulate.ts, which re-exports all of this.
import type { EventType } from '../features/catalog.ts';
import type { Outcome } from '../engine/types.ts';
export const ATTACK_TYPES = ['naive', 'vpn', 'targeted', 'stuffing'] as const;
export type AttackType = (typeof ATTACK_TYPES)[number];
/**
 * Takeover chains that end in a sensitive change (`--changes`): a targeted sign-in whose step-up the
 * attacker passes with a phished code, then a change from that session; a stolen session cookie
 * replayed hours later from another network; a recovery through a VPN in the owner's country, then
 * a sign-in and a password change.
 */
export const CHAIN_TYPES = ['phished_2fa', 'stolen_cookie', 'vpn_recovery'] as const;
export type ChainType = (typeof CHAIN_TYPES)[number];
export type Label = 'legit' | AttackType | ChainType;
export function isAttackType(l: string): l is AttackType {
  return (ATTACK_TYPES as readonly string[]).includes(l);
}
export function isChainType(l: string): l is ChainType {
  return (CHAIN_TYPES as readonly string[]).includes(l);
}
export const CHANGE_KINDS = ['password', 'email', 'mfa_add', 'mfa_remove', 'recovery_method'] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];
/**
 * Where a legitimate change happens: `home` is the usual case, the others the unusual ones;
 * `long_session` is a change hours into a session, often after the device has moved.
 */
export const CHANGE_CONTEXTS = ['home', 'abroad', 'new_phone', 'after_recovery', 'long_session'] as const;
export type ChangeContext = (typeof CHANGE_CONTEXTS)[number];
/** The event type of sensitive changes (spec v2); this engine may not accept it yet. */
export const ACCOUNT_CHANGE = 'account_change';
export type SimEventType = EventType | typeof ACCOUNT_CHANGE;

/** Why a legitimate attempt looks the way it does (for reading false positives). */
export type LegitScenario = 'home' | 'mobile' | 'work' | 'trip' | 'private_window' | 'new_phone' | 'new_account' | 'vpn_user' | 'second_device';
export const LEGIT_SCENARIOS: readonly LegitScenario[] = ['home', 'mobile', 'work', 'trip', 'private_window', 'new_phone', 'new_account', 'vpn_user', 'second_device'];

/**
 * How messy the simulated people are, and how the targeted attacker picks a network. Two named
 * configurations: `default` (what the pack and model are tuned and trained on) and `heldout` (other
 * proportions and other random streams, for measuring only: never tune on it).
 */
export interface SimMix {
  /** Share of sessions in a private window or after clearing cookies: a fresh device id, same browser. */
  readonly freshDeviceId: number;
  /** Of those, the share that are cleared cookies (the device keeps the new id) rather than a private window. */
  readonly clearedSticks: number;
  /** Share of a phone's sessions on the mobile network. */
  readonly mobileShare: number;
  /** Share of mobile sessions through a carrier gateway near home (else anywhere in the carrier's ASN). */
  readonly carrierNearShare: number;
  /** How many of the carrier's gateways count as near home. */
  readonly carrierNearCount: number;
  /** Users who start using another device (a work laptop, a partner's tablet) during the simulation. */
  readonly secondDevice: number;
  /** Users who replace their phone. */
  readonly newPhone: number;
  /** Users who travel abroad. */
  readonly trip: number;
  /** Users whose home address the ISP reassigns now and then. */
  readonly dynamicHome: number;
  /** Commercial-VPN subscribers. */
  readonly vpnUser: number;
  /** Per-user mistype probability is drawn uniformly in this range. */
  readonly typo: readonly [number, number];
  /** Targeted attackers who use the victim's mobile carrier in the victim's area (else the home ISP). */
  readonly targetedCarrier: number;
}

export const SIM_CONFIGS = ['default', 'heldout'] as const;
export type SimConfigName = (typeof SIM_CONFIGS)[number];

export const MIXES: Readonly<Record<SimConfigName, SimMix>> = {
  default: {
    freshDeviceId: 0.05,
    clearedSticks: 0.5,
    mobileShare: 0.55,
    carrierNearShare: 0.8,
    carrierNearCount: 20,
    secondDevice: 0.1,
    newPhone: 0.06,
    trip: 0.08,
    dynamicHome: 0.5,
    vpnUser: 0.03,
    typo: [0.02, 0.1],
    targetedCarrier: 0.25,
  },
  heldout: {
    freshDeviceId: 0.08,
    clearedSticks: 0.65,
    mobileShare: 0.65,
    carrierNearShare: 0.65,
    carrierNearCount: 40,
    secondDevice: 0.15,
    newPhone: 0.09,
    trip: 0.12,
    dynamicHome: 0.65,
    vpnUser: 0.04,
    typo: [0.03, 0.15],
    targetedCarrier: 0.4,
  },
};

/** The random streams' root: the held-out configuration never shares a stream with the default one. */
export function streamSeed(seed: string, config: SimConfigName = 'default'): string {
  return config === 'default' ? seed : `${config}:${seed}`;
}

/** A `POST /v1/evaluate` body (shared/spec/interfaces.md), always with `time`. */
export interface SimRequest {
  readonly type: SimEventType;
  /** account_change only: what changes. */
  readonly change?: ChangeKind;
  readonly user: { readonly id: string; readonly created_at?: string; readonly mfa?: boolean };
  readonly ip: string;
  readonly device?: { readonly id?: string; readonly user_agent?: string };
  readonly time: string;
}

/** One NDJSON line of `vigil simulate`. */
export interface SimLine {
  readonly request: SimRequest;
  /** What the auth service would report if the engine allowed the attempt. */
  readonly outcome: Outcome;
  readonly label: Label;
  readonly attacker_type?: AttackType;
  /** Attack campaign (one victim, or one stuffing burst) and this attempt's 0-based index in it. */
  readonly attack_id?: string;
  readonly seq?: number;
  readonly scenario?: LegitScenario;
  /** A sign-in that opens a session later lines refer to (`session`). */
  readonly session_id?: string;
  /**
   * account_change: the `session_id` of the sign-in whose decision id replay puts in the request's
   * `login_decision_id` (it is known only once the engine has answered that sign-in).
   */
  readonly session?: string;
  /** A legitimate account_change: where it happens (home is the usual case). */
  readonly change_context?: ChangeContext;
  /**
   * The attacker passes a step-up on this attempt (a phished one-time code on the sign-in, a mailbox
   * code after a hijacked mailbox). Absent: only the owner passes a step-up.
   */
  readonly passes_step_up?: boolean;
  /** Days since the simulation start (0-based). */
  readonly day: number;
}

export interface SimulateOptions {
  readonly users: number;
  readonly days: number;
  readonly seed: string;
  /** Attack types to inject (default: all four). */
  readonly attacks?: readonly AttackType[];
  /** First simulated instant, ms since the epoch (default 2026-01-05T00:00:00Z, a Monday). */
  readonly start?: number;
  /**
   * Attacks begin on this day (default: a third of the way in), so that victims have a history
   * by then; an account the engine knows nothing about cannot be defended by novelty.
   */
  readonly attackStartDay?: number;
  /** Multiplies every attack volume (default 1). */
  readonly attackScale?: number;
  /** The behaviour mix and random streams (default `default`). */
  readonly config?: SimConfigName;
  /** Also sensitive changes: legitimate ones and the takeover chains (default false). */
  readonly changes?: boolean;
}

export const DEFAULT_START = Date.parse('2026-01-05T00:00:00Z');
