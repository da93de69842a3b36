// The repository's security and licence files against what the code does: LICENSE is the full,
// unmodified Apache License 2.0 that package.json declares; SECURITY.md names every route the app
// serves (a route added without saying who may reach it fails here), the admin rate limit's
// variable and default, and README links it.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_ADMIN_RATE_LIMIT } from '../../api/config.ts';
import { testApp } from '../api/helpers.ts';
import { routesOf } from '../helpers/routes.ts';

const root = new URL('../../', import.meta.url);
const read = (name: string): string => readFileSync(new URL(name, root), 'utf8');

/** SHA-256 of https://www.apache.org/licenses/LICENSE-2.0.txt, byte for byte (LF line ends). */
const APACHE_2_SHA256 = 'cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30';

describe('LICENSE', () => {
  it('is the Apache License 2.0 package.json declares, unmodified', () => {
    const pkg = JSON.parse(read('package.json')) as { license?: unknown };
    expect(pkg.license).toBe('Apache-2.0');
    const text = read('LICENSE');
    expect(text.split('\n').slice(0, 4).join('\n')).toMatch(/^\s*Apache License\n\s+Version 2\.0, January 2004\n\s+http:\/\/www\.apache\.org\/licenses\/\s*$/);
    expect(createHash('sha256').update(text).digest('hex')).toBe(APACHE_2_SHA256);
  });
});

describe('SECURITY.md', () => {
  const doc = read('SECURITY.md');

  it('names every route the app serves', async () => {
    const { app } = await testApp();
    const routes = routesOf(app).map((r) => r.path.replace(/(.)\/$/, '$1'));
    expect(routes.length).toBeGreaterThan(25);
    const missing = [...new Set(routes)].filter((p) => !new RegExp('`(?:[A-Z]+ )?' + p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '`').test(doc));
    expect(missing).toEqual([]);
  });

  it('gives the admin rate limit as configured, and a private way to report', () => {
    expect(doc).toContain('`VIGIL_ADMIN_RATE_LIMIT`');
    expect(doc).toContain(`(default ${DEFAULT_ADMIN_RATE_LIMIT};`);
    expect(doc).toMatch(/## Reporting a vulnerability[\s\S]*Report a vulnerability/);
  });

  it('is linked from the README', () => {
    expect(read('README.md')).toContain('(SECURITY.md)');
  });
});
