// The velocity features (features.md: velocity.*, device.users_24h) derived from the counters the
// signal store read for one event. Pure. Window semantics (exact sliding windows, inclusive at
// t − W: timestamp sets for failure and recovery counts, last-seen sets saturating at maxDistinct for
// distinct counts) are in docs/signals.md.
import type { VelocitySignals } from './store/types.ts';

/** Feature values, by catalog name; undefined = missing. */
export interface VelocityFeatures {
  'device.users_24h': number | undefined;
  'velocity.user_failed_1h': number | undefined;
  'velocity.user_ips_24h': number | undefined;
  'velocity.user_recovery_24h': number | undefined;
  'velocity.user_changes_24h': number | undefined;
  'velocity.ip_failed_10m': number | undefined;
  'velocity.ip_failed_1h': number | undefined;
  'velocity.ip_users_1h': number | undefined;
  'velocity.subnet_failed_1h': number | undefined;
}

export const VELOCITY_FEATURES: readonly (keyof VelocityFeatures)[] = [
  'device.users_24h',
  'velocity.user_failed_1h',
  'velocity.user_ips_24h',
  'velocity.user_recovery_24h',
  'velocity.user_changes_24h',
  'velocity.ip_failed_10m',
  'velocity.ip_failed_1h',
  'velocity.ip_users_1h',
  'velocity.subnet_failed_1h',
];

const MISSING: VelocityFeatures = Object.freeze({
  'device.users_24h': undefined,
  'velocity.user_failed_1h': undefined,
  'velocity.user_ips_24h': undefined,
  'velocity.user_recovery_24h': undefined,
  'velocity.user_changes_24h': undefined,
  'velocity.ip_failed_10m': undefined,
  'velocity.ip_failed_1h': undefined,
  'velocity.ip_users_1h': undefined,
  'velocity.subnet_failed_1h': undefined,
});

/**
 * Velocity features of one event; all missing when `v` is undefined (store unavailable or velocity
 * not read). `device.users_24h` is missing without a device id, `velocity.subnet_failed_1h` without
 * a parsable address.
 */
export function velocityFeatures(v: VelocitySignals | undefined): VelocityFeatures {
  if (v === undefined) return MISSING;
  return {
    'device.users_24h': v.deviceUsers24h,
    'velocity.user_failed_1h': v.userFailed1h,
    'velocity.user_ips_24h': v.userIps24h,
    'velocity.user_recovery_24h': v.userRecovery24h,
    'velocity.user_changes_24h': v.userChanges24h,
    'velocity.ip_failed_10m': v.ipFailed10m,
    'velocity.ip_failed_1h': v.ipFailed1h,
    'velocity.ip_users_1h': v.ipUsers1h,
    'velocity.subnet_failed_1h': v.subnetFailed1h,
  };
}
