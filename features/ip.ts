// The `ip` signal source: strict parsing of the client address into one canonical form, the
// `ip.private` test (every non-routable range, listed below and in docs/signals.md), and the subnet
// key the velocity counters group failures by. ipaddr.js does the parsing and formatting; the
// range tables are ours because ipaddr.js's `range()` names mix routable (AS112, AMT) and
// non-routable ranges and miss some (NAT64 local use, 3fff::/20, the 2001::/23 exceptions).
import ipaddr from 'ipaddr.js';

/** A parsed client address. IPv4-mapped IPv6 (`::ffff:a.b.c.d`) is reported as the IPv4 address. */
export interface ParsedIp {
  readonly family: 4 | 6;
  /** Canonical text: dotted decimal for IPv4, RFC 5952 (lowercase, `::` compressed) for IPv6. */
  readonly address: string;
  /** Network-order bytes: 4 for IPv4, 16 for IPv6. */
  readonly bytes: Uint8Array;
}

/**
 * The longest textual address accepted: `ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255` (45 chars).
 * Anything longer is garbage, and refusing it before any regex bounds the work per request.
 */
export const MAX_IP_TEXT = 45;

/**
 * Parse a client address. Returns null for anything that is not exactly one IPv4 address in
 * four-part decimal (no leading zeros, no `127.1`, no hex/octal forms) or one IPv6 address; zone
 * ids (`fe80::1%eth0`), brackets, ports, CIDR suffixes and surrounding whitespace are refused,
 * because the auth service must send the bare peer address and anything else is a bug or an attack.
 */
export function parseIp(s: string): ParsedIp | null {
  // One request parses its address three times (validation, engine, store keys), back to back: a
  // one-entry memo makes the second and third free.
  if (s === lastText) return lastParsed;
  const parsed = parseIpUncached(s);
  lastText = s;
  lastParsed = parsed;
  return parsed;
}

let lastText: string | undefined;
let lastParsed: ParsedIp | null = null;

function parseIpUncached(s: string): ParsedIp | null {
  if (typeof s !== 'string' || s.length === 0 || s.length > MAX_IP_TEXT) return null;
  if (s.includes(':')) {
    if (s.includes('%') || !ipaddr.IPv6.isValid(s)) return null;
    const v6 = ipaddr.IPv6.parse(s);
    // ipaddr.js also maps the deprecated IPv4-compatible text form `::a.b.c.d` here; both name an
    // IPv4 client, and rules and history must see one address, not two spellings of it.
    if (v6.isIPv4MappedAddress()) return fromV4(v6.toIPv4Address());
    return { family: 6, address: v6.toRFC5952String(), bytes: Uint8Array.from(v6.toByteArray()) };
  }
  if (!ipaddr.IPv4.isValidFourPartDecimal(s)) return null;
  return fromV4(ipaddr.IPv4.parse(s));
}

function fromV4(v4: ipaddr.IPv4): ParsedIp {
  return { family: 4, address: v4.toString(), bytes: Uint8Array.from(v4.octets) };
}

// ------------------------------------------------------------------------------------------------
// Non-routable ranges
// ------------------------------------------------------------------------------------------------

interface Prefix {
  readonly cidr: string;
  readonly bytes: Uint8Array;
  readonly bits: number;
}

function prefix(cidr: string): Prefix {
  const [addr, bits] = ipaddr.parseCIDR(cidr);
  return { cidr, bytes: Uint8Array.from(addr.toByteArray()), bits };
}

function inPrefix(bytes: Uint8Array, p: Prefix): boolean {
  if (bytes.length !== p.bytes.length) return false;
  const whole = p.bits >> 3;
  for (let i = 0; i < whole; i++) if (bytes[i] !== p.bytes[i]) return false;
  const rest = p.bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((bytes[whole] as number) & mask) === ((p.bytes[whole] as number) & mask);
}

function anyPrefix(bytes: Uint8Array, list: readonly Prefix[]): boolean {
  for (const p of list) if (inPrefix(bytes, p)) return true;
  return false;
}

/** IPv4 ranges that are not a routable client address (IANA special-purpose registry + multicast). */
export const PRIVATE_V4: readonly string[] = [
  '0.0.0.0/8', // "this network"
  '10.0.0.0/8', // RFC 1918
  '100.64.0.0/10', // shared address space (carrier-grade NAT)
  '127.0.0.0/8', // loopback
  '169.254.0.0/16', // link-local
  '172.16.0.0/12', // RFC 1918
  '192.0.0.0/24', // IETF protocol assignments (incl. the PCP/TURN anycast /32s: never a client)
  '192.0.2.0/24', // TEST-NET-1
  '192.168.0.0/16', // RFC 1918
  '198.18.0.0/15', // benchmarking
  '198.51.100.0/24', // TEST-NET-2
  '203.0.113.0/24', // TEST-NET-3
  '224.0.0.0/4', // multicast
  '240.0.0.0/4', // reserved (includes 255.255.255.255, limited broadcast)
];

/** IPv6 ranges inside global unicast 2000::/3 that are not a routable client address. */
export const PRIVATE_V6_IN_GLOBAL: readonly string[] = [
  '2001::/23', // IETF protocol assignments, except GLOBAL_V6_EXCEPTIONS
  '2001:db8::/32', // documentation
  '3fff::/20', // documentation (RFC 9637)
];

/** Globally reachable (or tunnel, N/A in IANA's table) sub-ranges of 2001::/23: not private. */
export const GLOBAL_V6_EXCEPTIONS: readonly string[] = [
  '2001::/32', // Teredo: the client's real IPv4 address is behind it
  '2001:1::1/128', // PCP anycast
  '2001:1::2/128', // TURN anycast
  '2001:1::3/128', // DNS-SD SRP anycast
  '2001:3::/32', // AMT
  '2001:4:112::/48', // AS112-v6
  '2001:20::/28', // ORCHIDv2
  '2001:30::/28', // drone remote ID
];

const V4 = PRIVATE_V4.map(prefix);
const V6_GLOBAL_UNICAST = prefix('2000::/3');
const V6_PRIVATE = PRIVATE_V6_IN_GLOBAL.map(prefix);
const V6_EXCEPTIONS = GLOBAL_V6_EXCEPTIONS.map(prefix);
const NAT64 = prefix('64:ff9b::/96');
const SIX_TO_FOUR = prefix('2002::/16');

/**
 * True for an address that cannot be a routable client: see PRIVATE_V4 for IPv4. For IPv6 the rule
 * is "not global unicast": everything outside 2000::/3 (::, ::1, fc00::/7, fe80::/10, fec0::/10,
 * ff00::/8, 100::/64, 64:ff9b:1::/48, 5f00::/16, …) is private, except the NAT64 well-known prefix
 * 64:ff9b::/96, which is judged by the IPv4 address it embeds (as is 6to4, 2002::/16); inside
 * 2000::/3 the ranges of PRIVATE_V6_IN_GLOBAL minus GLOBAL_V6_EXCEPTIONS are private.
 */
export function isPrivateIp(p: ParsedIp): boolean {
  const b = p.bytes;
  if (p.family === 4) return anyPrefix(b, V4);
  if (inPrefix(b, NAT64)) return anyPrefix(b.subarray(12, 16), V4);
  if (!inPrefix(b, V6_GLOBAL_UNICAST)) return true;
  if (inPrefix(b, SIX_TO_FOUR)) return anyPrefix(b.subarray(2, 6), V4);
  return anyPrefix(b, V6_PRIVATE) && !anyPrefix(b, V6_EXCEPTIONS);
}

/**
 * The network failures are grouped by for `velocity.subnet_failed_1h`: the /24 of an IPv4 address,
 * the /48 of an IPv6 one (a typical site allocation: an attacker rotating through the addresses of
 * its /64s stays under one key), in canonical CIDR text, e.g. `203.0.113.0/24`, `2001:db8:1::/48`.
 */
export function subnetKey(p: ParsedIp): string {
  const b = p.bytes;
  if (p.family === 4) return `${b[0]}.${b[1]}.${b[2]}.0/24`;
  // Behind a NAT64 translator every IPv4 client shares 64:ff9b::/96; its own /24 is the useful key.
  if (inPrefix(b, NAT64)) return `${b[12]}.${b[13]}.${b[14]}.0/24`;
  const net = new ipaddr.IPv6([
    ((b[0] as number) << 8) | (b[1] as number),
    ((b[2] as number) << 8) | (b[3] as number),
    ((b[4] as number) << 8) | (b[5] as number),
    0,
    0,
    0,
    0,
    0,
  ]);
  return `${net.toRFC5952String()}/48`;
}
