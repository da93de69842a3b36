// Velocity features from store counters (features/velocity.ts).
import { describe, expect, it } from 'vitest';
import { VELOCITY_FEATURES, velocityFeatures } from '../../features/velocity.ts';

describe('velocityFeatures', () => {
  it('maps every counter to its catalog name', () => {
    expect(
      velocityFeatures({
        userFailed1h: 1,
        userIps24h: 2,
        userRecovery24h: 3,
        ipFailed10m: 4,
        ipFailed1h: 5,
        ipUsers1h: 6, userChanges24h: 0,
        subnetFailed1h: 7,
        deviceUsers24h: 8,
      }),
    ).toEqual({
      'velocity.user_failed_1h': 1,
      'velocity.user_ips_24h': 2,
      'velocity.user_recovery_24h': 3,
      'velocity.ip_failed_10m': 4,
      'velocity.ip_failed_1h': 5,
      'velocity.ip_users_1h': 6,
      'velocity.subnet_failed_1h': 7,
      'velocity.user_changes_24h': 0,
      'device.users_24h': 8,
    });
  });

  it('device and subnet counts are missing when the event has no device / subnet', () => {
    const f = velocityFeatures({ userFailed1h: 0, userIps24h: 1, userRecovery24h: 0, ipFailed10m: 0, ipFailed1h: 0, ipUsers1h: 1, userChanges24h: 0 });
    expect(f['device.users_24h']).toBeUndefined();
    expect(f['velocity.subnet_failed_1h']).toBeUndefined();
    expect(f['velocity.user_ips_24h']).toBe(1);
  });

  it('everything is missing without store signals', () => {
    const f = velocityFeatures(undefined);
    expect(Object.keys(f).sort()).toEqual([...VELOCITY_FEATURES].sort());
    expect(Object.values(f).every((v) => v === undefined)).toBe(true);
  });
});
