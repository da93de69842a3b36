// The session features an account change reads (features.md § Sensitive actions, plus Vigil's own
// session.new_ip), listed here by hand so that a feature added to or dropped from the engine fails
// the session tests rather than passing unseen; and an answer's values of them, missing as null.
import type { EvaluateResult } from '../../engine/index.ts';

export const SESSION_FEATURES = [
  'session.age',
  'session.login_decision',
  'session.login_score',
  'session.login_challenged',
  'session.new_device',
  'session.new_country',
  'session.new_ip',
  'session.ip_changed',
  'session.country_changed',
  'session.device_changed',
] as const;

export function sessionValues(r: EvaluateResult): Record<string, unknown> {
  const f = r.features ?? {};
  return Object.fromEntries(SESSION_FEATURES.map((k) => [k, f[k]]));
}
