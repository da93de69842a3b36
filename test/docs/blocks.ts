// The docs test's reading of Markdown: which files hold examples, every fenced block with the
// `<!-- docs-test: … -->` markers on the lines right before it, the shell commands of a block
// (continuations joined, quotes spanning lines kept, trailing comments stripped; for `console`
// blocks only the `$ ` lines), a rough shell word splitter for the checks of blocks that are not
// run, and the guard that finds untagged blocks which look like shell. Pure functions: running
// the commands is test/docs/examples.test.ts's job.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Fence languages whose blocks are shell examples. */
export const SHELL_LANGS: ReadonlySet<string> = new Set(['sh', 'bash', 'shell', 'console']);

export interface Markers {
  /** `fails`: every command of the block must fail (exit non-zero; curl: HTTP 4xx). */
  readonly fails: boolean;
  /** `no-run: REASON`: checked, not executed. */
  readonly noRun: string | undefined;
  /** `env NAME=value …`: extra environment for the block's commands. */
  readonly env: Readonly<Record<string, string>>;
  /** `background PORT=N`: the block starts a server the docs put on port N (see the test's header). */
  readonly backgroundPort: number | undefined;
  /** `timeout SECONDS`: per command, instead of the default. */
  readonly timeoutSeconds: number | undefined;
  /** `file PATH`: the block's text is the repo file PATH, byte for byte (trailing newline aside). */
  readonly file: string | undefined;
}

export interface Command {
  /** What bash runs: continuations joined, trailing comments gone, newlines inside quotes kept. */
  readonly text: string;
  /** 1-based line in the Markdown file where the command starts. */
  readonly line: number;
}

export interface Block {
  /** Repo-relative path of the Markdown file. */
  readonly file: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  readonly lang: string;
  readonly body: string;
  readonly markers: Markers;
}

export class DocsSyntaxError extends Error {}

/** README.md, docs/*.md and examples/*\/README.md, in that order (each group sorted). */
export function docFiles(root: string): string[] {
  const out = ['README.md'];
  for (const name of readdirSync(join(root, 'docs')).sort()) if (name.endsWith('.md')) out.push(`docs/${name}`);
  for (const name of readdirSync(join(root, 'examples'), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (name.isDirectory() && existsSync(join(root, 'examples', name.name, 'README.md'))) out.push(`examples/${name.name}/README.md`);
  }
  return out;
}

const MARKER = /^\s*<!--\s*docs-test:\s*(.*?)\s*-->\s*$/;
const FENCE = /^(\s*)(`{3,}|~{3,})\s*([\w+-]*)[^`]*$/;

function parseMarkers(lines: readonly string[], where: string): Markers {
  let fails = false;
  let noRun: string | undefined;
  const env: Record<string, string> = {};
  let backgroundPort: number | undefined;
  let timeoutSeconds: number | undefined;
  let file: string | undefined;
  for (const raw of lines) {
    const m = /^([a-z-]+)(?::?\s*)(.*)$/.exec(raw);
    const word = m?.[1] ?? '';
    const rest = (m?.[2] ?? '').trim();
    switch (word) {
      case 'fails':
        if (rest !== '') throw new DocsSyntaxError(`${where}: \`fails\` takes no argument`);
        fails = true;
        break;
      case 'no-run':
        if (rest === '') throw new DocsSyntaxError(`${where}: \`no-run:\` needs a reason`);
        noRun = rest;
        break;
      case 'env':
        for (const pair of rest.split(/\s+/).filter(Boolean)) {
          const kv = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(pair);
          if (!kv) throw new DocsSyntaxError(`${where}: \`env\` wants NAME=value, got ${JSON.stringify(pair)}`);
          env[kv[1]!] = kv[2]!;
        }
        break;
      case 'background': {
        const p = /^PORT=(\d{1,5})$/.exec(rest);
        if (!p) throw new DocsSyntaxError(`${where}: \`background\` wants PORT=N (the port the docs use)`);
        backgroundPort = Number(p[1]);
        break;
      }
      case 'timeout':
        if (!/^\d+$/.test(rest)) throw new DocsSyntaxError(`${where}: \`timeout\` wants seconds`);
        timeoutSeconds = Number(rest);
        break;
      case 'file':
        if (rest === '') throw new DocsSyntaxError(`${where}: \`file\` wants a repo path`);
        file = rest;
        break;
      default:
        throw new DocsSyntaxError(`${where}: unknown docs-test marker ${JSON.stringify(raw)}`);
    }
  }
  if (fails && noRun !== undefined) throw new DocsSyntaxError(`${where}: a block is either \`fails\` or \`no-run\``);
  return { fails, noRun, env, backgroundPort, timeoutSeconds, file };
}

/**
 * Every fenced block of a Markdown text, with the markers of the comment lines right before its
 * fence. A marker that is not right before a fence is an error: it would silently mark nothing.
 */
export function parseBlocks(file: string, text: string): Block[] {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  let pending: { text: string; line: number }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const marker = MARKER.exec(line);
    if (marker) {
      pending.push({ text: marker[1]!, line: i + 1 });
      continue;
    }
    const fence = FENCE.exec(line);
    if (!fence) {
      if (pending.length > 0) throw new DocsSyntaxError(`${file}:${pending[0]!.line}: a docs-test marker must be right before a fence`);
      continue;
    }
    const indent = fence[1]!.length;
    const close = new RegExp(`^\\s*${fence[2]![0] === '`' ? '`' : '~'}{${fence[2]!.length},}\\s*$`);
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !close.test(lines[j]!); j++) {
      const l = lines[j]!;
      // Content inside an indented fence (a list item) loses the fence's indentation.
      body.push(l.slice(Math.min(indent, l.length - l.trimStart().length)));
    }
    if (j >= lines.length) throw new DocsSyntaxError(`${file}:${i + 1}: fence never closed`);
    const where = `${file}:${pending[0]?.line ?? i + 1}`;
    blocks.push({
      file,
      line: i + 1,
      lang: fence[3]!.toLowerCase(),
      body: body.join('\n'),
      markers: parseMarkers(pending.map((p) => p.text), where),
    });
    pending = [];
    i = j;
  }
  if (pending.length > 0) throw new DocsSyntaxError(`${file}:${pending[0]!.line}: a docs-test marker must be right before a fence`);
  return blocks;
}

interface ScanState {
  quote: "'" | '"' | undefined;
  depth: number;
}

/**
 * One line of shell through a small scanner: returns the line without its trailing comment, and
 * updates quote and parenthesis state (a quote or `$(` may span lines). Not a shell parser: enough
 * for documentation (no here-documents, no `case` patterns with `)`).
 */
function scanLine(line: string, st: ScanState): { code: string; escapedNewline: boolean } {
  let out = '';
  for (let k = 0; k < line.length; k++) {
    const c = line[k]!;
    if (st.quote === "'") {
      out += c;
      if (c === "'") st.quote = undefined;
      continue;
    }
    if (c === '\\') {
      if (k === line.length - 1) return { code: out, escapedNewline: true };
      out += c + line[k + 1]!;
      k++;
      continue;
    }
    if (st.quote === '"') {
      out += c;
      if (c === '"') st.quote = undefined;
      continue;
    }
    if (c === '#' && (k === 0 || /\s/.test(line[k - 1]!))) break;
    if (c === "'" || c === '"') st.quote = c;
    else if (c === '(') st.depth++;
    else if (c === ')') st.depth = Math.max(0, st.depth - 1);
    out += c;
  }
  return { code: out, escapedNewline: false };
}

/** Whether a command continues on the next line after this (comment-free) code. */
function continues(code: string, st: ScanState): boolean {
  if (st.quote !== undefined || st.depth > 0) return true;
  return /(\|\||&&|\|)\s*$/.test(code);
}

/**
 * The commands of a shell block. `console` blocks: a command starts at a `$ ` line and takes the
 * lines its continuation or an open quote needs; every other line is output. Other shell blocks:
 * every line is code; blank and comment-only lines separate nothing but are dropped.
 */
export function splitCommands(block: Pick<Block, 'file' | 'lang' | 'body' | 'line'>): Command[] {
  const lines = block.body.split('\n');
  const consoleMode = block.lang === 'console';
  const cmds: Command[] = [];
  let buf: string | undefined;
  let start = 0;
  const st: ScanState = { quote: undefined, depth: 0 };
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    const lineNo = block.line + 1 + i;
    if (buf === undefined) {
      if (consoleMode) {
        const m = /^\s*\$ (.*)$/.exec(line);
        if (!m) continue;
        line = m[1]!;
      }
      if (line.trim() === '' || /^\s*#/.test(line)) continue;
      buf = '';
      start = lineNo;
    }
    const { code, escapedNewline } = scanLine(line, st);
    buf += code;
    // As in bash, backslash-newline disappears; the next line's indentation separates the words.
    if (escapedNewline) continue;
    if (continues(code, st)) {
      buf += '\n';
      continue;
    }
    cmds.push({ text: buf.trim(), line: start });
    buf = undefined;
  }
  if (buf !== undefined) {
    throw new DocsSyntaxError(`${block.file}:${start}: command never ends (an open quote, parenthesis, pipe or \`\\\`)`);
  }
  return cmds;
}

/** Shell-looking first words: an untagged block holding one of these must say what it is. */
const SHELLISH = /^\s*(\$ |npx |npm |curl |vigil |node |redis-cli |psql |jq |export |docker |[A-Z_]+=\S* +(npm|npx|node|vigil) )/;

/** Untagged blocks whose lines look like shell commands (tag them `sh`/`console`, or `text`). */
export function looksLikeShell(body: string): boolean {
  return body.split('\n').some((l) => SHELLISH.test(l));
}

/**
 * A command split into simple commands (on `|`, `||`, `&&`, `;`, newlines), each a list of words
 * with quotes removed. `$(…)` is kept as one word. Rough, for the static checks only.
 */
export function simpleCommands(text: string): string[][] {
  const out: string[][] = [];
  let words: string[] = [];
  let word: string | undefined;
  let quote: "'" | '"' | undefined;
  let depth = 0;
  const endWord = (): void => {
    if (word !== undefined) words.push(word);
    word = undefined;
  };
  const endCmd = (): void => {
    endWord();
    if (words.length > 0) out.push(words);
    words = [];
  };
  for (let k = 0; k < text.length; k++) {
    const c = text[k]!;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word += c;
      continue;
    }
    if (depth > 0) {
      word += c;
      if (c === '(') depth++;
      else if (c === ')') depth--;
      continue;
    }
    if (c === '\\' && k + 1 < text.length) {
      word = (word ?? '') + text[k + 1]!;
      k++;
      continue;
    }
    if (quote === '"') {
      if (c === '"') quote = undefined;
      else word += c;
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      word = word ?? '';
      continue;
    }
    if (c === '$' && text[k + 1] === '(') {
      word = (word ?? '') + '$(';
      depth = 1;
      k++;
      continue;
    }
    if (c === '|' || c === ';' || c === '\n' || (c === '&' && text[k + 1] === '&')) {
      if (c === '&' || (c === '|' && text[k + 1] === '|')) k++;
      endCmd();
      continue;
    }
    if (/\s/.test(c)) {
      endWord();
      continue;
    }
    word = (word ?? '') + c;
  }
  endCmd();
  return out;
}

/** The words of a simple command after its leading `NAME=value` assignments. */
export function withoutAssignments(words: readonly string[]): string[] {
  let i = 0;
  while (i < words.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[i]!)) i++;
  return words.slice(i);
}

/** Top-level folders of the repository: a word starting with one of these is a repo path. */
export const REPO_DIRS = ['rules', 'examples', 'docs', 'models', 'bench', 'test', 'scripts', 'dsl', 'features', 'engine', 'api', 'cli', 'common', 'training', 'decisionlog', 'bin'];

/** Options whose value is a file the command writes (it need not exist; its folder must). */
export const OUTPUT_OPTIONS: ReadonlySet<string> = new Set(['--out', '--features-out', '--plot', '-o', '--output']);

/** Repo-relative paths a simple command names: `{path, output}` for each. */
export function repoPaths(words: readonly string[]): { path: string; output: boolean }[] {
  const re = new RegExp(`^(?:\\./)?((?:${REPO_DIRS.join('|')})/[^\\s]*)$`);
  const out: { path: string; output: boolean }[] = [];
  for (let i = 0; i < words.length; i++) {
    let w = words[i]!;
    let output = OUTPUT_OPTIONS.has(words[i - 1] ?? '');
    const eq = /^(--[\w-]+)=(.*)$/.exec(w);
    if (eq) {
      output = OUTPUT_OPTIONS.has(eq[1]!);
      w = eq[2]!;
    }
    if (w.startsWith('@')) w = w.slice(1);
    const m = re.exec(w);
    if (m && !/[$*?…]/.test(m[1]!)) out.push({ path: m[1]!, output });
  }
  return out;
}

/** Read a repo file as text (the test's single reading point, so errors name the file). */
export function readRepoFile(root: string, rel: string): string {
  return readFileSync(join(root, rel), 'utf8');
}
