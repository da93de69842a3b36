// TEMPORARY scratch harness (deleted before hand-off): fake DSL until dsl/ lands.
import { vi } from 'vitest';
vi.mock('../../dsl/index.ts', async () => {
  const fs = await import('node:fs');
  const path = await import('node:path');
  const crypto = await import('node:crypto');
  const diagMod = await import('../../dsl/diagnostics.ts');
  type Src = { rules: { path: string; text: string }[]; readFile(rel: string): { ok: true; text: string } | { ok: false; reason: string } };
  function loadPackDir(p: string): Src {
    const st = fs.statSync(p);
    const dir = st.isDirectory() ? p : path.dirname(p);
    const names = st.isDirectory() ? fs.readdirSync(p).filter((n) => n.endsWith('.rules')).sort() : [path.basename(p)];
    return {
      rules: names.map((n) => ({ path: path.join(dir, n), text: fs.readFileSync(path.join(dir, n), 'utf8') })),
      readFile(rel) {
        try { return { ok: true, text: fs.readFileSync(path.join(dir, rel), 'utf8') }; } catch (e) { return { ok: false, reason: String(e) }; }
      },
    };
  }
  function packFromFiles(files: Record<string, string>, root = '.'): Src {
    return {
      rules: Object.keys(files).filter((k) => k.endsWith('.rules') && !k.includes('/')).sort().map((k) => ({ path: `${root}/${k}`, text: files[k]! })),
      readFile(rel) { return rel in files ? { ok: true, text: files[rel]! } : { ok: false, reason: 'missing' }; },
    };
  }
  function compilePack(src: Src) {
    const diagnostics: unknown[] = [];
    let name = '', version = 0;
    const rules: { name: string; on: null; action: null; score: number; mode: 'enforce'; tags: string[]; description: null }[] = [];
    const h = crypto.createHash('sha256');
    for (const f of src.rules) {
      h.update(path.basename(f.path)).update(f.text);
      const m = /pack (\w+) version (\d+)/.exec(f.text);
      if (m) { name = m[1]!; version = Number(m[2]); }
      const bad = f.text.indexOf('geo.contry');
      if (bad >= 0) {
        const before = f.text.slice(0, bad); const line = before.split('\n').length; const col = bad - before.lastIndexOf('\n');
        diagnostics.push({ code: 'E_UNKNOWN_NAME', severity: 'error', message: 'unknown feature', span: { file: f.path, offset: bad, end: bad + 10, line, col } });
      }
      for (const r of f.text.matchAll(/rule (\w+) \{/g)) rules.push({ name: r[1]!, on: null, action: null, score: 0, mode: 'enforce', tags: [], description: null });
      for (const l of f.text.matchAll(/file "([^"]+)"/g)) { const r = src.readFile(l[1]!); if (r.ok) h.update(l[1]!).update(r.text); }
    }
    const failing = src.rules.some((f) => f.text.includes('expects the wrong thing'));
    const pack = diagnostics.length ? null : {
      name, version, hash: 'sha256:' + h.digest('hex'), features: [], featureTypes: [], slotCount: 0, probes: [], rules, eventTypes: ['login', 'recovery'],
      slotOf: () => -1, evaluate: () => ({ decision: 'allow', score: 0, rules: [], shadow: [] }),
    };
    return {
      pack, diagnostics,
      runTests: () => failing
        ? { passed: 0, failed: 1, results: [{ name: 'expects the wrong thing', span: { file: 'x', offset: 0, end: 1, line: 8, col: 1 }, passed: false, failures: ['expected block, got step_up'], decision: null }] }
        : { passed: 2, failed: 0, results: [] },
    };
  }
  return {
    loadPackDir, packFromFiles, compilePack,
    hasErrors: diagMod.hasErrors, renderDiagnostics: diagMod.renderDiagnostics,
    evaluateRecord: () => ({ ok: true, decision: { decision: 'step_up', score: 30, rules: [{ name: 'no_mfa', action: 'step_up', score: 30, reason: null, tags: [] }], shadow: [] } }),
  };
});
await import(process.env.SCRATCH ?? './app.test.ts');
