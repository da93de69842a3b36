// docs/architecture.md's diagram of one event stays true to the code: every file it names exists,
// and every stage of the engine (engine/stages/*.ts) and every part of the evaluate path it must
// show is named in it.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const doc = readFileSync(`${ROOT}docs/architecture.md`, 'utf8');
const diagram = doc.slice(doc.indexOf('<!-- diagram:begin -->'), doc.indexOf('<!-- diagram:end -->'));
const named = new Set([...diagram.matchAll(/\b([a-z]+(?:\/[a-z_.-]+)+\.(?:ts|ne))\b/g)].map((m) => m[1]!));

describe('architecture diagram', () => {
  it('exists and names files', () => {
    expect(diagram.length).toBeGreaterThan(100);
    expect(named.size).toBeGreaterThan(20);
  });

  it('names only files that exist', () => {
    expect([...named].filter((f) => !existsSync(ROOT + f))).toEqual([]);
  });

  it('names every engine stage file and the registry, planner and engine entry', () => {
    const stages = readdirSync(`${ROOT}engine/stages`)
      .filter((f) => f.endsWith('.ts'))
      .map((f) => `engine/stages/${f}`);
    const required = [...stages, 'features/catalog.ts', 'engine/plan.ts', 'engine/index.ts', 'api/routes/evaluate.ts', 'decisionlog/index.ts'];
    expect(required.filter((f) => !named.has(f))).toEqual([]);
  });
});
