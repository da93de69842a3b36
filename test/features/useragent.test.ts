// features/useragent.ts: real agents → browser/OS/device type (with the `desktop` inference), bot
// and CLI agents, empty/garbage/huge input, the length cap and the bounded LRU cache.
import { describe, expect, it } from 'vitest';
import { DESKTOP_OS, UA_MAX_LENGTH, createUserAgentParser, parseUserAgent } from '../../features/useragent.ts';

const CHROME_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const SAFARI_IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';
const FIREFOX_LINUX = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';
const ANDROID_TABLET = 'Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';

describe('parseUserAgent', () => {
  it.each([
    ['Chrome on Windows', CHROME_WINDOWS, { browser: 'Chrome', os: 'Windows', deviceType: 'desktop' }],
    ['Safari on iPhone', SAFARI_IPHONE, { browser: 'Mobile Safari', os: 'iOS', deviceType: 'mobile' }],
    ['Firefox on Linux', FIREFOX_LINUX, { browser: 'Firefox', os: 'Linux', deviceType: 'desktop' }],
    ['Android tablet', ANDROID_TABLET, { browser: 'Chrome', os: 'Android', deviceType: 'tablet' }],
    [
      'Android phone',
      'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36',
      { browser: 'Chrome', os: 'Android', deviceType: 'mobile' },
    ],
    [
      'iPad',
      'Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
      { browser: 'Mobile Safari', os: 'iOS', deviceType: 'tablet' },
    ],
    [
      'Safari on macOS',
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
      { browser: 'Safari', os: 'macOS', deviceType: 'desktop' },
    ],
    ['Edge on Windows', `${CHROME_WINDOWS} Edg/131.0.0.0`, { browser: 'Edge', os: 'Windows', deviceType: 'desktop' }],
    [
      'Chromebook',
      'Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
      { browser: 'Chrome', os: 'Chrome OS', deviceType: 'desktop' },
    ],
    [
      'smart TV',
      'Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36',
      { browser: 'Samsung Internet', os: 'Tizen', deviceType: 'smarttv' },
    ],
    [
      'headless Chrome keeps its OS',
      'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36',
      { browser: 'Chrome Headless', os: 'Linux', deviceType: 'desktop' },
    ],
  ])('%s', (_name, ua, expected) => {
    expect(parseUserAgent(ua)).toEqual(expected);
  });

  // Scripts and bots name no browser, so `not present(ua.browser)` (the shipped pack's
  // unrecognised_client rule) catches them.
  it.each([
    ['curl', 'curl/8.5.0'],
    ['python-requests', 'python-requests/2.31.0'],
    ['Go', 'Go-http-client/1.1'],
    ['Googlebot', 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)'],
    ['undefined', undefined],
    ['empty', ''],
    ['garbage', 'asdf qwer ((( zzz'],
    ['a bare product token', 'Mozilla/5.0'],
    ['control characters', '\u0000\u0001\u0002\n\r\t'],
  ])('%s → {}', (_name, ua) => {
    expect(parseUserAgent(ua)).toEqual({});
  });

  it('returns {} for non-string input from untyped JSON', () => {
    for (const v of [null, 42, {}, ['curl/8']]) expect(parseUserAgent(v as unknown as string)).toEqual({});
  });

  it('parses only the first UA_MAX_LENGTH characters of a 100 KB agent', () => {
    expect(UA_MAX_LENGTH).toBe(512);
    const huge = `${CHROME_WINDOWS} ${'A'.repeat(100_000)}`;
    expect(parseUserAgent(huge)).toEqual({ browser: 'Chrome', os: 'Windows', deviceType: 'desktop' });
    // what lies past the cap is ignored: an Edge token at 600 chars does not make this Edge
    const late = `${CHROME_WINDOWS}${' '.repeat(600 - CHROME_WINDOWS.length)} Edg/131.0.0.0`;
    expect(parseUserAgent(late).browser).toBe('Chrome');
    expect(parseUserAgent(`${CHROME_WINDOWS} Edg/131.0.0.0`).browser).toBe('Edge');
  });

  it('survives a pathological 100 KB string of parser metacharacters', () => {
    const evil = '('.repeat(50_000) + ';'.repeat(50_000);
    expect(parseUserAgent(evil)).toEqual({});
  });

  it('returns frozen results, so a shared cached answer cannot be corrupted by a caller', () => {
    const a = parseUserAgent(FIREFOX_LINUX);
    expect(Object.isFrozen(a)).toBe(true);
    expect(Object.isFrozen(parseUserAgent(''))).toBe(true);
  });

  it('calls desktop only the OSes without a device type in DESKTOP_OS', () => {
    for (const os of ['Windows', 'macOS', 'Linux', 'Chrome OS', 'Ubuntu', 'FreeBSD']) expect(DESKTOP_OS.has(os)).toBe(true);
    for (const os of ['iOS', 'Android', 'Tizen', 'watchOS', 'PlayStation']) expect(DESKTOP_OS.has(os)).toBe(false);
  });
});

describe('createUserAgentParser cache', () => {
  it('answers a repeated agent from the cache with the same object', () => {
    const p = createUserAgentParser({ cacheSize: 4 });
    const a = p.parse(CHROME_WINDOWS);
    expect(p.parse(CHROME_WINDOWS)).toBe(a);
    expect(p.cacheSize).toBe(1);
  });

  it('never holds more than cacheSize entries, evicting the least recently used', () => {
    const p = createUserAgentParser({ cacheSize: 3 });
    const first = p.parse(CHROME_WINDOWS);
    p.parse(SAFARI_IPHONE);
    p.parse(FIREFOX_LINUX);
    expect(p.parse(CHROME_WINDOWS)).toBe(first); // refreshes Chrome: Safari is now the oldest
    p.parse(ANDROID_TABLET); // evicts Safari
    expect(p.cacheSize).toBe(3);
    expect(p.parse(CHROME_WINDOWS)).toBe(first);
    for (let i = 0; i < 50; i++) p.parse(`Mozilla/5.0 (X11; Linux x86_64; rv:${i}.0) Gecko/20100101 Firefox/${i}.0`);
    expect(p.cacheSize).toBe(3);
    expect(p.parse(CHROME_WINDOWS)).not.toBe(first); // long evicted: parsed again
    expect(p.parse(CHROME_WINDOWS)).toEqual(first);
  });

  it('keys the cache on the capped agent, so huge variants share one entry', () => {
    const p = createUserAgentParser({ cacheSize: 8, maxLength: 40 });
    p.parse(`${'x'.repeat(40)}a`);
    p.parse(`${'x'.repeat(40)}b`);
    expect(p.cacheSize).toBe(1);
  });

  it('does not cache empty input', () => {
    const p = createUserAgentParser();
    p.parse('');
    p.parse(undefined);
    expect(p.cacheSize).toBe(0);
  });
});
