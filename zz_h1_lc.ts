import { compilePack, loadPackDir, renderDiagnostics } from './dsl/index.ts';
import { VIGIL_SCHEME } from './features/catalog.ts';
const src = loadPackDir('rules/login_core');
const r = compilePack(src as never, { scheme: VIGIL_SCHEME });
console.log(renderDiagnostics(r.diagnostics, (f) => (src as { rules: { path: string; text: string }[] }).rules.find((x) => x.path === f)?.text));
