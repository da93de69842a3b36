// Dependency directions, enforced by walking every import of the runtime and tool folders:
// the language never imports a signal source (nor anything of Vigil's outside dsl/ and common/),
// features never import the engine, only api/ knows HTTP, and runtime code never imports training
// or simulation; the typed client (client/) loads nothing of Vigil at run time and takes only types
// from the API's schemas, which import nothing of the server. A violation names the file, the import
// and the rule.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FOLDERS = ['common', 'dsl', 'features', 'engine', 'api', 'cli', 'training', 'bin', 'decisionlog', 'client'];
const HTTP = new Set(['express', 'express-rate-limit', 'body-parser', 'node:http', 'node:https', 'http', 'https', 'supertest']);

interface Edge {
  readonly from: string;
  readonly spec: string;
  /** Repo-relative target for a relative import, else the bare specifier. */
  readonly to: string;
}

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const rel = posix.join(dir, name);
    if (name === 'generated' || name === 'node_modules') continue;
    if (statSync(join(ROOT, rel)).isDirectory()) out.push(...sources(rel));
    else if (/\.(ts|mts|js|mjs)$/.test(name)) out.push(rel);
  }
  return out;
}

/** Every static import, re-export and dynamic import() with a string literal. */
export function importsOf(text: string): string[] {
  const specs: string[] = [];
  const re = /(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|(?:^|[\s;(])import\s*\(\s*['"]([^'"]+)['"]\s*\)|^import\s+['"]([^'"]+)['"]/gm;
  for (const m of text.matchAll(re)) specs.push((m[1] ?? m[2] ?? m[3])!);
  return specs;
}

function edges(): Edge[] {
  const out: Edge[] = [];
  for (const folder of FOLDERS) {
    for (const file of sources(folder)) {
      for (const spec of importsOf(readFileSync(join(ROOT, file), 'utf8'))) {
        const to = spec.startsWith('.') ? relative(ROOT, join(ROOT, posix.dirname(file), spec)).split(sep).join('/') : spec;
        out.push({ from: file, spec, to });
      }
    }
  }
  return out;
}

const top = (path: string): string => path.split('/')[0]!;
const ALL = edges();

function violations(rule: (e: Edge) => boolean): string[] {
  return ALL.filter(rule).map((e) => `${e.from} imports ${e.spec}`);
}

describe('dependency directions', () => {
  it('the walk sees the imports (a sanity check on the parser)', () => {
    expect(ALL.length).toBeGreaterThan(200);
    expect(ALL).toContainEqual(expect.objectContaining({ from: 'engine/index.ts', to: 'features/catalog.ts' }));
    expect(importsOf("import { a } from './a.ts';\nexport { b } from '../b.ts';\nconst c = await import('./c.ts');\nimport type {\n  D,\n} from 'd';\nimport './e.ts';")).toEqual([
      './a.ts',
      '../b.ts',
      './c.ts',
      'd',
      './e.ts',
    ]);
  });

  it('the language imports nothing of Vigil outside dsl/ and common/ (no signal source)', () => {
    expect(violations((e) => top(e.from) === 'dsl' && e.spec.startsWith('.') && !['dsl', 'common'].includes(top(e.to)))).toEqual([]);
  });

  it('features never import the engine, the API, the CLI or training', () => {
    expect(violations((e) => top(e.from) === 'features' && ['engine', 'api', 'cli', 'training'].includes(top(e.to)))).toEqual([]);
  });

  it('the engine never imports the API, the CLI or training', () => {
    expect(violations((e) => top(e.from) === 'engine' && ['api', 'cli', 'training'].includes(top(e.to)))).toEqual([]);
  });

  it('nothing but api/ imports HTTP', () => {
    expect(violations((e) => top(e.from) !== 'api' && HTTP.has(e.spec))).toEqual([]);
  });

  it('runtime code (common, dsl, features, engine, api) never imports training or simulation', () => {
    expect(violations((e) => ['common', 'dsl', 'features', 'engine', 'api'].includes(top(e.from)) && top(e.to) === 'training')).toEqual([]);
  });

  it('the decision log imports nothing of Vigil outside decisionlog/ and common/', () => {
    expect(violations((e) => top(e.from) === 'decisionlog' && e.spec.startsWith('.') && !['decisionlog', 'common'].includes(top(e.to)))).toEqual([]);
  });

  it('common/ imports nothing of Vigil', () => {
    expect(violations((e) => top(e.from) === 'common' && e.spec.startsWith('.') && top(e.to) !== 'common')).toEqual([]);
  });

  it('the client (vigil/client) imports at run time nothing but client/; types only from api/schemas.ts and api/responses.ts', () => {
    const bad: string[] = [];
    for (const file of sources('client')) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      const typeOnly = new Set([...text.matchAll(/^import\s+type\s[^;]*?from\s*['"]([^'"]+)['"]/gm)].map((m) => m[1]!));
      for (const spec of importsOf(text)) {
        const to = spec.startsWith('.') ? relative(ROOT, join(ROOT, posix.dirname(file), spec)).split(sep).join('/') : spec;
        if (spec.startsWith('.') && top(to) === 'client') continue;
        if (typeOnly.has(spec) && (to === 'zod' || to === 'api/schemas.ts' || to === 'api/responses.ts')) continue;
        bad.push(`${file} imports ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('api/responses.ts (whose types the client ships) imports nothing but zod; no runtime folder imports the client', () => {
    expect(violations((e) => e.from === 'api/responses.ts' && e.spec !== 'zod')).toEqual([]);
    expect(violations((e) => top(e.from) !== 'client' && e.spec.startsWith('.') && top(e.to) === 'client')).toEqual([]);
  });
});

describe('tests are portable', () => {
  it('no test names an absolute path of a machine (the shared data is ../shared, relative to the repo)', () => {
    const files = sources('test').filter((f) => f !== 'test/architecture/dependencies.test.ts');
    const absolute = /['"`](\/(work|root|home|Users)\/[^'"`]*)['"`]/;
    expect(files.filter((f) => absolute.test(readFileSync(join(ROOT, f), 'utf8')))).toEqual([]);
  });
});
