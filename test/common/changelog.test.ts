// CHANGELOG.md and package.json agree: the newest released version in the changelog is
// package.json's `version`, versions are semantic and listed newest first, and unreleased work has
// its section at the top.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url);
const changelog = readFileSync(new URL('CHANGELOG.md', root), 'utf8');
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { version: string };
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?$/;

describe('CHANGELOG.md', () => {
  const headings = [...changelog.matchAll(/^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?$/gm)].map((m) => ({ version: m[1]!, date: m[2] }));

  it('starts with Unreleased, then releases with dates, newest first', () => {
    expect(headings[0]).toEqual({ version: 'Unreleased', date: undefined });
    const releases = headings.slice(1);
    expect(releases.length).toBeGreaterThan(0);
    for (const r of releases) {
      expect(r.version).toMatch(SEMVER);
      expect(r.date).toBeDefined();
    }
    const key = (v: string): number[] => v.split('-')[0]!.split('.').map(Number);
    for (let i = 1; i < releases.length; i++) {
      const [a, b] = [key(releases[i - 1]!.version), key(releases[i]!.version)];
      expect(a[0]! * 1e6 + a[1]! * 1e3 + a[2]! > b[0]! * 1e6 + b[1]! * 1e3 + b[2]!).toBe(true);
    }
  });

  it("names package.json's version as the newest release", () => {
    expect(pkg.version).toMatch(SEMVER);
    expect(headings[1]?.version).toBe(pkg.version);
  });
});
