// The signal store's key layout, windows and caps (docs/signals.md § Keys is the prose of this
// file). Every key carries a Redis Cluster hash tag: all keys of one user share `{u:<hash>}`, and an
// address, subnet, device or rba field is tagged by its own hash, so per-entity commands always land
// in one slot and a Cluster pipeline can be grouped by tag.

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** Sliding windows of the velocity features (ms). */
export const W_USER_FAILED = HOUR;
export const W_USER_RECOVERY = DAY;
export const W_USER_CHANGES = DAY;
export const W_IP_FAILED_SHORT = 10 * MINUTE;
export const W_IP_FAILED = HOUR;
export const W_SUBNET_FAILED = HOUR;
export const W_USER_IPS = DAY;
export const W_IP_USERS = HOUR;
export const W_DEVICE_USERS = DAY;

/** Extra lifetime of every counter key beyond its window, so a key never expires mid-window. */
export const TTL_MARGIN_MS = 10 * MINUTE;

/** Tunables with their defaults (createStore options). */
export interface StoreLimits {
  /** History and rba retention, days (VIGIL_RETENTION_DAYS). */
  readonly retentionDays: number;
  /** Timestamps kept per sliding-window counter; counts saturate here. */
  readonly maxEvents: number;
  /** Learned values (devices, countries, ASNs, addresses, browser/OS) kept per user, newest first. */
  readonly maxKnown: number;
  /** rba field counters kept per user; the rarest are dropped first. */
  readonly maxRbaFields: number;
  /**
   * Members kept per distinct-count set (a user's addresses, an address's or device's users); the
   * least recently seen are dropped first, so distinct counts are exact below this and saturate here.
   */
  readonly maxDistinct: number;
}

export const DEFAULT_LIMITS: StoreLimits = Object.freeze({
  retentionDays: 180,
  maxEvents: 1000,
  maxKnown: 500,
  maxRbaFields: 512,
  maxDistinct: 1000,
});

/** Members of a user's known-values sorted set (`…:k`), one per kind. */
export const KNOWN_DEVICE = 'd:';
export const KNOWN_COUNTRY = 'c:';
export const KNOWN_ASN = 'a:';
export const KNOWN_IP = 'i:';
export const KNOWN_UA = 'u:';
export const KNOWN_SUBNET = 's:';

/** Fields of the user's history hash (`…:h`). */
export const H_LOGINS = 'n';
export const H_LAST_TIME = 'lt';
export const H_LAST_COUNTRY = 'lc';
export const H_LAST_LAT = 'la';
export const H_LAST_LON = 'lo';
/** Time of the last completed recovery (history.since_recovery). */
export const H_LAST_RECOVERY = 'lr';
/** Whether that recovery had to pass a challenge first ('1') or not ('0') (history.recovery_challenged). */
export const H_LAST_RECOVERY_CHALLENGED = 'rc';

/** Key names for one prefix. Tags (the `{…}` part) decide the Cluster slot. */
export class Keys {
  constructor(readonly prefix: string) {}

  userTag(u: string): string {
    return `{u:${u}}`;
  }
  /** Every key of the user starts with this (erase scans for it). */
  userStem(u: string): string {
    return `${this.prefix}{u:${u}}:`;
  }
  /** Hash: logins, last sign-in time/country/lat/lon. Retention. */
  userHistory(u: string): string {
    return `${this.prefix}{u:${u}}:h`;
  }
  /** Sorted set: learned value → last time seen. Retention. */
  userKnown(u: string): string {
    return `${this.prefix}{u:${u}}:k`;
  }
  /** Sorted set: hashed rba field → successful sign-ins with it. Retention. */
  userRba(u: string): string {
    return `${this.prefix}{u:${u}}:r`;
  }
  /** Sorted set of failure timestamps. */
  userFailed(u: string): string {
    return `${this.prefix}{u:${u}}:f`;
  }
  /** Sorted set of recovery-attempt timestamps. */
  userRecovery(u: string): string {
    return `${this.prefix}{u:${u}}:rc`;
  }
  /** Sorted set of account_change attempt timestamps (velocity.user_changes_24h). */
  userChanges(u: string): string {
    return `${this.prefix}{u:${u}}:ch`;
  }
  /** Sorted set: address digest → last time seen (velocity.user_ips_24h). */
  userIps(u: string): string {
    return `${this.prefix}{u:${u}}:ips`;
  }

  ipTag(i: string): string {
    return `{i:${i}}`;
  }
  ipFailed(i: string): string {
    return `${this.prefix}{i:${i}}:f`;
  }
  /** Sorted set: user digest → last time seen (velocity.ip_users_1h). */
  ipUsers(i: string): string {
    return `${this.prefix}{i:${i}}:us`;
  }

  subnetTag(n: string): string {
    return `{n:${n}}`;
  }
  subnetFailed(n: string): string {
    return `${this.prefix}{n:${n}}:f`;
  }

  deviceTag(d: string): string {
    return `{d:${d}}`;
  }
  /** Sorted set: user digest → last time seen (device.users_24h). */
  deviceUsers(d: string): string {
    return `${this.prefix}{d:${d}}:us`;
  }

  /** Global count of successful sign-ins with one rba field value (its own key: spreads over slots). */
  rbaFieldTag(f: string): string {
    return `{rf:${f}}`;
  }
  rbaField(f: string): string {
    return `${this.prefix}{rf:${f}}`;
  }
  readonly rbaGlobalTag = '{rg}';
  /** Global count of successful sign-ins. */
  get rbaTotal(): string {
    return `${this.prefix}{rg}:n`;
  }
  /** HyperLogLog of users with a successful sign-in. */
  get rbaUsers(): string {
    return `${this.prefix}{rg}:u`;
  }

  decision(id: string): string {
    return `${this.prefix}dec:{${id}}`;
  }
  /** A sign-in decision's session record (account_change session features); same slot as its window record. */
  session(id: string): string {
    return `${this.prefix}ses:{${id}}`;
  }
  decisionTag(id: string): string {
    return `{${id}}`;
  }
}

/** Escape Redis glob metacharacters so a prefix matches literally in SCAN MATCH. */
export function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => '\\' + c);
}
