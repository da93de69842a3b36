// `vigil pack diff [HASH]`: what changes from a pack of the history (default: the entry before the
// active one — after a rollback, the version rolled away from) to the active pack of a running
// server: the rules added, removed and changed (engine/packs/diff.ts, on both packs compiled
// here from the files GET /v1/packs/:hash returns) and a unified diff of every changed file.
// Should either pack not compile here (a CLI older or newer than the server's feature catalog),
// the rules are compared by their source text alone, and a note says so.
import { compilePack, packFromFiles, type CompiledPack, type Scheme } from '../../dsl/index.ts';
import { diffPacks, ruleSources } from '../../engine/packs/diff.ts';
import type { CliIO } from '../io.ts';
import { adminContext, EXIT_OK, printJson, Refused, request, runAdmin, type AdminOptions, type Env } from './client.ts';
import { diffLines, packLabel, resolveHash, type DiffJson, type ListJson, type MetaJson } from './pack.ts';
import { unifiedDiff } from './textdiff.ts';

interface StoredJson {
  readonly pack: MetaJson;
  readonly files: Readonly<Record<string, string>>;
  readonly root: string;
}

function compiled(s: StoredJson, scheme: Scheme): CompiledPack | null {
  try {
    return compilePack(packFromFiles(s.files, s.root), { scheme }).pack;
  } catch {
    return null;
  }
}

/** The rules compared by source text (comments and layout aside) when a pack does not compile here. */
function sourceDiff(before: StoredJson, after: StoredJson): DiffJson {
  const a = ruleSources(before.files);
  const b = ruleSources(after.files);
  const names = new Set([...Object.keys(before.files), ...Object.keys(after.files)]);
  return {
    rules_added: [...b.keys()].filter((n) => !a.has(n)),
    rules_removed: [...a.keys()].filter((n) => !b.has(n)),
    rules_changed: [...b.keys()].filter((n) => a.has(n) && a.get(n) !== b.get(n)),
    files_changed: [...names].filter((n) => before.files[n] !== after.files[n]).sort(),
  };
}

export async function packDiff(hash: string | undefined, o: AdminOptions, io: CliIO, env: Env, scheme: () => Promise<Scheme>): Promise<number> {
  const ctx = adminContext('vigil pack diff', o, io, env);
  return runAdmin(ctx, async () => {
    const list = await request<ListJson>(ctx, 'GET', '/v1/packs');
    const active = list.active;
    if (!active) throw new Refused(0, 'none', `${ctx.url} has no active pack`, null, null);
    let from: string;
    if (hash !== undefined) from = await resolveHash(ctx, hash, list);
    else {
      const previous = list.history[0];
      if (!previous) throw new Refused(0, 'none', 'the history holds no entry before the active one to compare with', null, null);
      from = previous.hash;
    }
    const get = (h: string): Promise<StoredJson> => request<StoredJson>(ctx, 'GET', `/v1/packs/${encodeURIComponent(h)}`);
    const [before, after] = await Promise.all([get(from), get(active.hash)]);
    const s = await scheme();
    const pb = compiled(before, s);
    const pa = compiled(after, s);
    const exact = pb !== null && pa !== null;
    const diff: DiffJson = exact ? diffPacks({ pack: pb, files: before.files }, { pack: pa, files: after.files }) : sourceDiff(before, after);
    const texts: Record<string, string> = {};
    for (const f of diff.files_changed) texts[f] = unifiedDiff(before.files[f] ?? null, after.files[f] ?? null, `a/${f}`, `b/${f}`);
    if (ctx.json) {
      printJson(ctx, { from: before.pack, to: after.pack, diff, by_source_only: !exact, files: texts });
      return EXIT_OK;
    }
    const out: string[] = [`diff ${packLabel(before.pack)} → active ${packLabel(after.pack)}`];
    if (before.pack.hash === after.pack.hash) out.push('  no difference: that is the active pack');
    else {
      out.push(...diffLines(diff));
      if (!exact) out.push(`  (rules compared by source text: a pack does not compile with this CLI's feature catalog)`);
    }
    io.stdout(`${out.join('\n')}\n`);
    for (const f of diff.files_changed) io.stdout(texts[f]!);
    return EXIT_OK;
  });
}
