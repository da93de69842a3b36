// What the compiler hands the engine: a pack of closures that read feature values by slot. The
// engine fills `Slots` (one array per event, index = slot) and calls `evaluate`; nothing here knows
// where a feature's value comes from.
import type { Action } from './ast.ts';
import type { Notice, NoticeCode } from './notices.ts';
import type { Slots, Type } from './types.ts';

export interface RuleHit {
  readonly name: string;
  readonly action: Action | null;
  readonly score: number;
  /** The rendered `reason` (missing interpolations render as `?`), else the description, else null. */
  readonly reason: string | null;
  readonly tags: readonly string[];
}

export interface Decision {
  readonly decision: Action;
  /** Sum of matched enforcing rules' scores, clamped to 0..100. */
  readonly score: number;
  readonly rules: readonly RuleHit[];
  readonly shadow: readonly RuleHit[];
  /**
   * The rules whose condition matched and whose effect a mode override changed (declaration
   * order); undefined when none did.
   */
  readonly overrides?: readonly string[];
  /**
   * The notices of the matched enforcing rules (dsl.md §7): each code once, in declaration order of
   * the first rule naming it; empty when none.
   */
  readonly notices: readonly Notice[];
}

/**
 * What an override makes of one rule, for `evaluate`'s `modes` (one byte per entry of
 * `CompiledPack.rules`): as declared, `off` (the rule does nothing), or `shadow` (reported under
 * `shadow`, changes nothing). The engine computes the array once per change of overrides.
 */
export const RULE_MODE = { declared: 0, off: 1, shadow: 2 } as const;
export type RuleOverrideMode = 'off' | 'shadow';

/**
 * A membership test against a live Redis set (`list x: T = redis "key"`). The engine computes
 * `operand(slots)`, asks the store whether it is in `key`, and writes the answer (boolean, or
 * undefined when the store could not answer) into `slots[slot]` before calling `evaluate`.
 */
export interface ListProbe {
  readonly slot: number;
  readonly list: string;
  readonly key: string;
  readonly elemType: Type;
  readonly operand: (slots: Slots) => string | number | boolean | undefined;
}

/** A `list x: T = redis "key"` declaration, whether or not a rule reads it (live-list admin). */
export interface RedisListInfo {
  readonly list: string;
  readonly key: string;
  readonly elemType: Type;
}

export interface CompiledRuleInfo {
  readonly name: string;
  readonly on: readonly string[] | null;
  readonly action: Action | null;
  readonly score: number;
  readonly mode: 'enforce' | 'shadow';
  readonly tags: readonly string[];
  readonly description: string | null;
  readonly notice: NoticeCode | null;
}

export interface CompiledPack {
  readonly name: string;
  readonly version: number;
  /** `sha256:<hex>` over the pack's files (names and contents, in order). */
  readonly hash: string;
  /** Every feature any rule, policy or probe reads, in first-use order. */
  readonly features: readonly string[];
  /** The type of each entry of `features`. */
  readonly featureTypes: readonly Type[];
  /** Total slot count: the Scheme's feature slots, then one slot per ListProbe. */
  readonly slotCount: number;
  readonly probes: readonly ListProbe[];
  /** Every `redis` list the pack declares, in declaration order. */
  readonly redisLists: readonly RedisListInfo[];
  readonly rules: readonly CompiledRuleInfo[];
  /** Event types the pack knows (from the scheme). */
  readonly eventTypes: readonly string[];
  /** Slot of a feature name, or -1 when the pack does not read it. */
  slotOf(feature: string): number;
  /**
   * Evaluate one event. `slots.length` must be at least `slotCount`; missing values are
   * `undefined`. `modes`, when given, holds one RULE_MODE per entry of `rules` (see `ruleModes`).
   */
  evaluate(eventType: string, slots: Slots, modes?: Uint8Array): Decision;
}
