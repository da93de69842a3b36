// Typed command-line values for cli/main.ts: commander argParsers that turn an option's text into a
// checked number, time or URL, or refuse it with a message that names the option (commander then
// reports it as a usage error, exit 2), and UsageError, which a command's implementation throws for
// a usage problem only it can see (e.g. an option that only applies with another). Light on purpose:
// main.ts imports this for every command, including `--help`.
import { InvalidArgumentError } from 'commander';

/** Bad usage found after parsing; cli/main.ts prints it like commander's own errors and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type ArgParser<T> = (value: string) => T;

function range(min: number, max: number): string {
  if (max === Number.MAX_SAFE_INTEGER || max === Infinity) return `≥ ${min}`;
  return `from ${min} to ${max}`;
}

/** A whole number in [min, max] (decimal digits, an optional minus sign). */
export function integer(flag: string, min: number, max: number = Number.MAX_SAFE_INTEGER): ArgParser<number> {
  return (value) => {
    const n = /^-?\d+$/.test(value) ? Number(value) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${flag} must be an integer ${range(min, max)}, got ${JSON.stringify(value)}`);
    }
    return n;
  };
}

/** A finite decimal number in [min, max]. */
export function decimal(flag: string, min: number, max: number): ArgParser<number> {
  return (value) => {
    const n = value.trim() === '' ? NaN : Number(value);
    if (!Number.isFinite(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${flag} must be a number ${range(min, max)}, got ${JSON.stringify(value)}`);
    }
    return n;
  };
}

/** An ISO 8601 date or date-time, as milliseconds since the epoch. */
export function isoTime(flag: string): ArgParser<number> {
  return (value) => {
    const t = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : NaN;
    if (Number.isNaN(t)) throw new InvalidArgumentError(`${flag} must be an ISO date-time (e.g. 2026-01-05T00:00:00Z), got ${JSON.stringify(value)}`);
    return t;
  };
}

/** An http(s) URL. */
export function httpUrl(flag: string): ArgParser<string> {
  return (value) => {
    let u: URL;
    try {
      u = new URL(value);
    } catch {
      throw new InvalidArgumentError(`${flag} must be an http(s) URL, got ${JSON.stringify(value)}`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new InvalidArgumentError(`${flag} must be an http(s) URL, got ${JSON.stringify(value)}`);
    return value;
  };
}

/** A non-empty string. */
export function nonEmpty(flag: string): ArgParser<string> {
  return (value) => {
    if (value.length === 0) throw new InvalidArgumentError(`${flag} must not be empty`);
    return value;
  };
}

/** A value matching `pattern`, described by `what` in the error. */
export function matching(name: string, pattern: RegExp, what: string): ArgParser<string> {
  return (value) => {
    if (!pattern.test(value)) throw new InvalidArgumentError(`${name} must be ${what}, got ${JSON.stringify(value)}`);
    return value;
  };
}

/** Who makes an admin change: the server's rule for `X-Vigil-Actor` (api/routes/admin.ts). */
export const ACTOR = /^[A-Za-z0-9._@:+-]{1,64}$/;
export const ACTOR_RULE = '1-64 characters of [A-Za-z0-9._@:+-]';
/** Characters of an admin change's reason (the server's bound, api/schemas.ts MAX_REASON). */
export const MAX_REASON = 500;

/** `--reason`: why an admin change is made, 1-500 characters (it goes into the audit log). */
export function reasonArg(flag: string): ArgParser<string> {
  return (value) => {
    if (value.trim().length === 0) throw new InvalidArgumentError(`${flag} must not be empty`);
    if (value.length > MAX_REASON) throw new InvalidArgumentError(`${flag} must be at most ${MAX_REASON} characters, got ${value.length}`);
    return value;
  };
}

/** A duration as the server reads it (`90s`, `30m`, `2h`, `7d`), kept as text. */
export function durationArg(flag: string): ArgParser<string> {
  return (value) => {
    if (!/^[1-9]\d{0,8}(s|m|h|d)$/.test(value)) throw new InvalidArgumentError(`${flag} must be a duration such as 90s, 30m, 2h or 7d, got ${JSON.stringify(value)}`);
    return value;
  };
}

/**
 * `--since` of a server query: a duration ago (`30m`, `24h`, `7d`), passed on as text so the
 * server's clock decides, or an ISO 8601 date or date-time, sent as an ISO date-time in UTC.
 */
export function sinceArg(flag: string): ArgParser<string> {
  return (value) => {
    if (/^\d{1,9}(s|m|h|d)$/.test(value)) return value;
    const t = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : NaN;
    if (Number.isNaN(t)) throw new InvalidArgumentError(`${flag} must be a duration ago (30m, 24h, 7d) or an ISO date-time, got ${JSON.stringify(value)}`);
    return new Date(t).toISOString();
  };
}

/**
 * Commander's error text in Vigil's words: no `error:` prefix (main.ts adds `vigil CMD: error:`), an
 * argParser's own message without commander's preamble, and `--x is required` for a missing
 * mandatory option.
 */
export function usageMessage(commanderText: string): string {
  let s = commanderText.trim().replace(/^error: /, '');
  s = s.replace(/^(?:option|command-argument value) .*? is invalid(?: for argument '[^']*')?\. /s, '');
  const required = /^required option '(-[^ ,']+)(?:, (--[^ ']+))?[^']*' not specified$/.exec(s);
  if (required) s = `${required[2] ?? required[1]} is required`;
  return s;
}
