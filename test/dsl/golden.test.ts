// Golden diagnostics: every case under test/dsl/golden/ (a `NAME.rules` file, or a `NAME/` pack
// directory with list files) is compiled against the feature catalog and its rendered diagnostics
// (dsl.md §5: `file:LINE:COL: severity[CODE]: message`, source line, caret, hint) are compared with
// `NAME.expected`. A first line `# limits: {json}` sets compile limits. `GOLDEN_UPDATE=1` rewrites
// the expected files. There is one case per diagnostic code, named after it.
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compilePack, packFromFiles, renderDiagnostics, DIAGNOSTIC_CODES, type Limits } from '../../dsl/index.ts';
import { VIGIL_SCHEME } from '../../features/catalog.ts';

const DIR = fileURLToPath(new URL('./golden/', import.meta.url));
const UPDATE = process.env.GOLDEN_UPDATE === '1';

function filesUnder(dir: string, root = dir): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) Object.assign(out, filesUnder(p, root));
    else out[relative(root, p).split('\\').join('/')] = readFileSync(p, 'utf8');
  }
  return out;
}

interface Case {
  readonly name: string;
  readonly files: Record<string, string>;
  /** How diagnostics name a file: relative to test/dsl/golden/. */
  readonly display: (file: string) => string;
}

function cases(): Case[] {
  return readdirSync(DIR)
    .sort()
    .flatMap((entry): Case[] => {
      const p = join(DIR, entry);
      if (statSync(p).isDirectory()) return [{ name: entry, files: filesUnder(p), display: (f) => `${entry}/${f}` }];
      if (!entry.endsWith('.rules')) return [];
      return [{ name: entry.slice(0, -'.rules'.length), files: { [entry]: readFileSync(p, 'utf8') }, display: (f) => f }];
    });
}

function limitsOf(c: Case): Partial<Limits> | undefined {
  const first = Object.entries(c.files).find(([f]) => f.endsWith('.rules'))?.[1] ?? '';
  const m = /^# limits: (\{.*\})\s*$/m.exec(first.split('\n')[0] ?? '');
  return m ? (JSON.parse(m[1]!) as Partial<Limits>) : undefined;
}

function render(c: Case): string {
  const r = compilePack(packFromFiles(c.files), { scheme: VIGIL_SCHEME, limits: limitsOf(c) });
  return `${renderDiagnostics(r.diagnostics, (f) => c.files[f], c.display)}\n`;
}

describe('golden diagnostics', () => {
  const all = cases();
  for (const c of all) {
    it(c.name, () => {
      const expectedPath = join(DIR, `${c.name}.expected`);
      const actual = render(c);
      if (UPDATE) writeFileSync(expectedPath, actual);
      expect(existsSync(expectedPath), `${expectedPath} is missing; run with GOLDEN_UPDATE=1`).toBe(true);
      expect(actual).toBe(readFileSync(expectedPath, 'utf8'));
      // A case named after a code must produce it.
      if (c.name in DIAGNOSTIC_CODES) expect(actual).toContain(`[${c.name}]`);
    });
  }
  it('there is one case per diagnostic code', () => {
    expect(all.map((c) => c.name).filter((n) => n in DIAGNOSTIC_CODES).sort()).toEqual(Object.keys(DIAGNOSTIC_CODES).sort());
  });
});
