// The Vigil console's behaviour: sign-in (the admin token, kept in this tab's sessionStorage and
// sent as a bearer header, never in a URL), and the four screens over the admin API — packs
// (editor with live diagnostics, tests, backtest, shadow, activate, roll back), decisions (search,
// one decision with its explain trace), levers (live lists, overrides, counters) and the audit log.
//
// Plain JavaScript run as is by the browser (no build step, not type-checked by tsc): it is served
// from the package's console/ folder under a CSP that forbids inline script. Every piece of data is
// put in the page with textContent, never as HTML.

const TOKEN_KEY = 'vigil.console.token';
const ACTOR_KEY = 'vigil.console.actor';
const CHECK_DEBOUNCE_MS = 400;

const $ = (sel, root = document) => root.querySelector(sel);

/** An element with attributes (`class`, `data-*`, properties) and children (strings become text). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === 'class') el.className = v;
    else if (k === 'spellcheck') el.setAttribute('spellcheck', String(v));
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k.startsWith('data-') || k === 'title' || k === 'type' || k === 'colspan') el.setAttribute(k, String(v));
    else el[k] = v;
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Replace an element's children, leaving out null and false (DOM's replaceChildren would print them). */
function fill(el, ...children) {
  el.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

const badge = (decision) => h('span', { class: `badge ${decision}`, 'data-decision': decision }, decision);
const when = (iso) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '');
const shortHash = (hash) => (hash ? hash.slice(0, 19) : '');

// ---------------------------------------------------------------------------------------------
// The admin API
// ---------------------------------------------------------------------------------------------

class ApiFailure extends Error {
  constructor(status, body) {
    const e = body && body.error ? body.error : null;
    super(e ? e.message : `the server answered ${status}`);
    this.status = status;
    this.code = e ? e.code : null;
    this.details = e ? e.details : null;
  }
}

/** Is this failure the route itself missing (an endpoint this server does not have)? */
const missingRoute = (err) => err instanceof ApiFailure && err.status === 404 && err.message === 'no such endpoint';

async function api(method, path, body) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const headers = { Authorization: `Bearer ${token ?? ''}` };
  const actor = sessionStorage.getItem(ACTOR_KEY);
  if (actor) headers['X-Vigil-Actor'] = actor;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store', credentials: 'omit' });
  } catch (err) {
    throw new ApiFailure(0, { error: { code: 'unreachable', message: `Vigil cannot be reached (${err.message})` } });
  }
  const text = await res.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (res.status === 401) {
    signOut('The token was refused: sign in again.');
    throw new ApiFailure(401, parsed);
  }
  if (!res.ok) throw new ApiFailure(res.status, parsed);
  return parsed;
}

function flash(message, ok = false) {
  const el = $('#flash');
  el.textContent = message;
  el.classList.toggle('ok', ok);
  el.hidden = false;
  clearTimeout(flash.timer);
  flash.timer = setTimeout(() => (el.hidden = true), ok ? 4000 : 10000);
}

/** Run an action from a button or form; its failure is shown, never thrown away silently. */
function guarded(fn) {
  return async (ev) => {
    if (ev && typeof ev.preventDefault === 'function' && ev.type === 'submit') ev.preventDefault();
    try {
      await fn(ev);
    } catch (err) {
      if (err instanceof ApiFailure && err.status === 401) return;
      flash(err instanceof ApiFailure && err.code ? `${err.code}: ${err.message}` : String(err.message ?? err));
    }
  };
}

// ---------------------------------------------------------------------------------------------
// Sign-in
// ---------------------------------------------------------------------------------------------

function showApp(on) {
  $('#login').hidden = on;
  $('#app').hidden = !on;
  $('#tabs').hidden = !on;
  $('#signout').hidden = !on;
  $('#whoami').textContent = on ? `signed in as ${sessionStorage.getItem(ACTOR_KEY) || 'admin'}` : '';
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(ACTOR_KEY);
  showApp(false);
  const err = $('#login-error');
  err.textContent = message ?? '';
  err.hidden = !message;
  $('#token').value = '';
}

async function signIn(ev) {
  ev.preventDefault();
  const token = $('#token').value.trim();
  const actor = $('#actor').value.trim();
  if (!token) return;
  sessionStorage.setItem(TOKEN_KEY, token);
  if (actor) sessionStorage.setItem(ACTOR_KEY, actor);
  else sessionStorage.removeItem(ACTOR_KEY);
  $('#token').value = '';
  try {
    await api('GET', '/v1/packs');
  } catch (err) {
    if (err instanceof ApiFailure && err.status === 401) return; // signOut already said so
    sessionStorage.removeItem(TOKEN_KEY);
    const msg = err instanceof ApiFailure && err.status === 404 ? 'The admin API is off on this server (VIGIL_ADMIN_TOKEN is unset).' : err.message;
    $('#login-error').textContent = msg;
    $('#login-error').hidden = false;
    return;
  }
  $('#login-error').hidden = true;
  showApp(true);
  await openView('packs');
}

// ---------------------------------------------------------------------------------------------
// Screens
// ---------------------------------------------------------------------------------------------

const VIEWS = ['packs', 'decisions', 'levers', 'audit'];

async function openView(name) {
  for (const v of VIEWS) $(`#view-${v}`).hidden = v !== name;
  for (const b of document.querySelectorAll('#tabs .tab')) b.classList.toggle('active', b.dataset.view === name);
  document.body.dataset.view = name;
  if (name === 'packs') await refreshPacks(!editor.loaded);
  if (name === 'levers') await refreshLevers();
  if (name === 'audit') await readAudit();
}

// ----- Packs -----------------------------------------------------------------------------------

const editor = { files: new Map(), loaded: false, timer: null, seq: 0, lastCheck: null };

async function refreshPacks(loadEditor) {
  const list = await api('GET', '/v1/packs');
  const a = list.active;
  $('#active-pack').textContent = a ? `${a.name} v${a.version}  ${a.hash}  — activated ${when(a.activated_at)} by ${a.by} (${a.source})` : 'no pack is active';
  const body = $('#history tbody');
  fill(body,
    list.history.length === 0 ? h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'no earlier version')) : null,
    ...list.history.map((m) =>
      h('tr', { 'data-hash': m.hash },
        h('td', {}, `v${m.version}`),
        h('td', { class: 'mono' }, shortHash(m.hash)),
        h('td', {}, when(m.activated_at)),
        h('td', {}, m.by),
        h('td', {}, m.source),
        h('td', {}, h('button', { type: 'button', class: 'secondary', onclick: guarded(() => loadVersion(m.hash)) }, 'Open in editor')),
      ),
    ),
  );
  $('#rollback-preview').disabled = list.history.length === 0;
  if (loadEditor) await loadVersion(undefined);
}

async function loadVersion(hash) {
  const got = await api('GET', hash ? `/v1/packs/files?hash=${encodeURIComponent(hash)}` : '/v1/packs/files');
  setFiles(got.files);
  editor.loaded = true;
  flash(`Loaded ${got.meta.name} v${got.meta.version} into the editor.`, true);
}

function setFiles(files) {
  editor.files = new Map(Object.entries(files).sort(([a], [b]) => (a.endsWith('.rules') === b.endsWith('.rules') ? a.localeCompare(b) : a.endsWith('.rules') ? -1 : 1)));
  renderFiles();
  scheduleCheck(0);
}

function renderFiles() {
  const root = $('#files');
  fill(root,
    ...[...editor.files.keys()].map((name) => {
      const area = h('textarea', { spellcheck: false, 'data-file': name, value: editor.files.get(name) ?? '' });
      area.addEventListener('input', () => {
        editor.files.set(name, area.value);
        scheduleCheck(CHECK_DEBOUNCE_MS);
      });
      return h('div', { class: 'file', 'data-file': name },
        h('header', {}, h('span', {}, name), h('button', { type: 'button', class: 'secondary', onclick: () => removeFile(name) }, 'Remove')),
        area,
        h('ul', { class: 'diags file-diags', 'data-file': name }),
      );
    }),
  );
}

function addFile() {
  const input = $('#new-file-name');
  const name = input.value.trim();
  if (!/^[A-Za-z0-9_\-.]+(\/[A-Za-z0-9_\-.]+)*$/.test(name) || editor.files.has(name)) {
    flash('A file name is a relative path of [A-Za-z0-9_-.] segments, not already open.');
    return;
  }
  editor.files.set(name, '');
  input.value = '';
  renderFiles();
  scheduleCheck(0);
}

function removeFile(name) {
  editor.files.delete(name);
  renderFiles();
  scheduleCheck(0);
}

const filesObject = () => Object.fromEntries(editor.files);

function scheduleCheck(delay) {
  clearTimeout(editor.timer);
  $('#check-status').textContent = 'checking…';
  $('#check-status').className = 'status';
  editor.timer = setTimeout(() => void check().catch((err) => flash(err.message)), delay);
}

/** Which open file a diagnostic's path names (the server prefixes uploads with `upload/`). */
function fileOf(path) {
  if (editor.files.has(path)) return path;
  for (const name of editor.files.keys()) if (path.endsWith(`/${name}`)) return name;
  return null;
}

async function check() {
  const seq = ++editor.seq;
  if (editor.files.size === 0) {
    $('#check-status').textContent = 'no files';
    return null;
  }
  const r = await api('POST', '/v1/packs/validate', { files: filesObject() });
  // An answer to an older text arriving late must not overwrite the newer one's.
  if (seq !== editor.seq) return null;
  editor.lastCheck = r;
  showCheck(r);
  return r;
}

function showCheck(r) {
  for (const ul of document.querySelectorAll('.file-diags')) fill(ul);
  const general = [];
  for (const d of r.diagnostics) {
    const li = h('li', { class: `diag ${d.severity}`, 'data-line': d.line, 'data-col': d.col, 'data-code': d.code, 'data-severity': d.severity },
      `${d.line}:${d.col} ${d.code} ${d.message}`,
      d.hint ? h('span', { class: 'hint' }, ` — ${d.hint}`) : null,
    );
    const f = fileOf(d.file);
    const ul = f === null ? null : document.querySelector(`.file-diags[data-file="${CSS.escape(f)}"]`);
    if (ul) ul.append(li);
    else general.push(h('li', { class: `diag ${d.severity}` }, `${d.file}:${d.line}:${d.col} ${d.code} ${d.message}`));
  }
  if (r.error) general.push(h('li', { class: 'diag error', 'data-code': 'load' }, r.error));
  fill($('#pack-diagnostics'), ...general);
  const errors = r.diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = r.diagnostics.length - errors;
  const status = $('#check-status');
  if (r.ok) {
    status.textContent = `ok${r.pack ? ` — ${r.pack.name} v${r.pack.version}` : ''}${warnings ? `, ${warnings} warning(s)` : ''}`;
    status.className = 'status ok';
  } else {
    status.textContent = errors || r.error ? `${errors || 1} error(s)${warnings ? `, ${warnings} warning(s)` : ''}` : `${r.tests.failed} failing test(s)`;
    status.className = 'status bad';
  }
  status.dataset.ok = String(r.ok);
  showTests(r);
}

function showTests(r) {
  const t = r.tests;
  const s = $('#tests-summary');
  s.textContent = r.pack ? `${t.passed} passed, ${t.failed} failed` : 'the pack does not compile: no tests ran';
  s.className = `status ${r.pack && t.failed === 0 ? 'ok' : 'bad'}`;
  s.dataset.passed = String(t.passed);
  s.dataset.failed = String(t.failed);
  fill($('#test-failures'),
    ...t.failures.flatMap((f) => f.failures.map((msg) => h('li', { class: 'diag error', 'data-test': f.name }, `${f.file}:${f.line}:${f.col} test "${f.name}": ${msg}`))),
  );
}

async function runTests() {
  clearTimeout(editor.timer);
  await check();
  $('#tests-summary').scrollIntoView({ block: 'nearest' });
}

function diffList(diff) {
  const item = (cls, label, names) =>
    names.length ? h('li', { class: cls, 'data-kind': cls }, `${label}: `, names.join(', ')) : null;
  const items = [
    item('diff-added', 'rules added', diff.rules_added),
    item('diff-removed', 'rules removed', diff.rules_removed),
    item('diff-changed', 'rules changed', diff.rules_changed),
    diff.files_changed.length ? h('li', { class: 'muted' }, `files changed: ${diff.files_changed.join(', ')}`) : null,
  ].filter(Boolean);
  return h('ul', { class: 'diff' }, items.length ? items : h('li', { class: 'muted' }, 'no rule changes'));
}

function countsRow(label, c) {
  return h('tr', {}, h('th', {}, label), ...['allow', 'step_up', 'block'].map((k) => h('td', { class: 'num', 'data-count': k }, c[k])));
}

async function runBacktest() {
  const limit = Number($('#backtest-limit').value) || 1000;
  const out = $('#backtest-result');
  out.hidden = false;
  fill(out, h('p', { class: 'muted' }, 'backtesting…'));
  let r;
  try {
    r = await api('POST', '/v1/packs/backtest', { files: filesObject(), limit });
  } catch (err) {
    fill(out, h('p', { class: 'error' }, err.message), ...(err.details && err.details.diagnostics ? [diagnosticList(err.details.diagnostics)] : []));
    return;
  }
  fill(out,
    h('p', { 'data-events': r.events }, `${r.events} decisions${r.from ? ` from ${when(r.from)} to ${when(r.to)}` : ''}; ${r.changed} would change. The active pack, recomputed, reproduces ${r.reproduced} of the kept answers.`),
    r.notes.length ? h('ul', { class: 'notes' }, r.notes.map((n) => h('li', {}, n))) : null,
    h('h3', {}, 'Decisions'),
    h('table', { class: 'grid counts' },
      h('thead', {}, h('tr', {}, h('th', {}, ''), h('th', {}, 'allow'), h('th', {}, 'step_up'), h('th', {}, 'block'))),
      h('tbody', {},
        countsRow(`kept`, r.kept.decisions),
        countsRow(`active (${r.active.pack.name} v${r.active.pack.version})`, r.active.decisions),
        countsRow(`edited (${r.candidate.pack.name} v${r.candidate.pack.version})`, r.candidate.decisions),
      ),
    ),
    h('h3', {}, 'Rules'),
    diffList(r.diff),
    h('table', { class: 'grid rules' },
      h('thead', {}, h('tr', {}, h('th', {}, 'rule'), h('th', {}, 'active'), h('th', {}, 'edited'), h('th', {}, 'change'))),
      h('tbody', {},
        r.rules.map((x) =>
          h('tr', { 'data-rule': x.name },
            h('td', { class: 'mono' }, x.name),
            h('td', { class: 'num' }, x.active ?? '—'),
            h('td', { class: 'num' }, x.candidate ?? '—'),
            h('td', { class: 'num' }, x.active !== null && x.candidate !== null ? signed(x.candidate - x.active) : x.active === null ? 'new' : 'removed'),
          ),
        ),
      ),
    ),
    h('h3', {}, `Decisions that change (${r.changed}${r.changed > r.changes.length ? `, first ${r.changes.length} shown` : ''})`),
    h('table', { class: 'grid changes' },
      h('thead', {}, h('tr', {}, h('th', {}, 'time'), h('th', {}, 'decision id'), h('th', {}, 'type'), h('th', {}, 'before → after'), h('th', {}, 'rules before → after'))),
      h('tbody', {},
        r.changes.map((c) =>
          h('tr', { class: 'pick change', 'data-id': c.decision_id, onclick: guarded(() => showDecision(c.decision_id, true)) },
            h('td', {}, when(c.at)),
            h('td', { class: 'mono' }, c.decision_id),
            h('td', {}, c.type),
            h('td', {}, badge(c.before), ' → ', badge(c.after)),
            h('td', { class: 'mono' }, `${c.rules_before.join(', ') || '—'} → ${c.rules_after.join(', ') || '—'}`),
          ),
        ),
      ),
    ),
  );
}

const signed = (n) => (n > 0 ? `+${n}` : String(n));

function diagnosticList(diags) {
  return h('ul', { class: 'diags' }, diags.map((d) => h('li', { class: `diag ${d.severity}` }, `${d.file}:${d.line}:${d.col} ${d.code} ${d.message}`)));
}

async function activatePreview() {
  const panel = $('#activate-panel');
  panel.hidden = false;
  fill(panel, h('p', { class: 'muted' }, 'comparing with the active pack…'));
  let d;
  try {
    d = await api('POST', '/v1/packs/diff', { files: filesObject() });
  } catch (err) {
    fill(panel, h('p', { class: 'error' }, err.message), ...(err.details && err.details.diagnostics ? [diagnosticList(err.details.diagnostics)] : []));
    return;
  }
  fill(panel,
    h('p', {}, `Activating replaces ${d.from.name} v${d.from.version} with ${d.to.name} v${d.to.version} on every instance:`),
    diffList(d.diff),
    h('div', { class: 'row' },
      h('button', { type: 'button', id: 'activate-confirm', class: 'danger', onclick: guarded(activate) }, 'Activate now'),
      h('button', { type: 'button', class: 'secondary', onclick: () => (panel.hidden = true) }, 'Cancel'),
    ),
  );
}

async function activate() {
  const panel = $('#activate-panel');
  try {
    const r = await api('PUT', '/v1/packs/active', { files: filesObject() });
    fill(panel, h('p', { class: 'status ok', 'data-result': r.status }, r.status === 'activated' ? `Activated ${r.active.name} v${r.active.version} (${shortHash(r.active.hash)}).` : 'This exact pack is already active.'));
    flash(r.status === 'activated' ? 'Pack activated.' : 'Unchanged: this pack is already active.', true);
  } catch (err) {
    fill(panel, h('p', { class: 'error' }, err.message), ...(err.details && err.details.diagnostics ? [diagnosticList(err.details.diagnostics)] : []));
    return;
  }
  await refreshPacks(false);
}

async function rollbackPreview() {
  const panel = $('#rollback-panel');
  panel.hidden = false;
  fill(panel, h('p', { class: 'muted' }, 'comparing with the previous version…'));
  let d;
  try {
    d = await api('GET', '/v1/packs/diff');
  } catch (err) {
    fill(panel, h('p', { class: 'error' }, err.message));
    return;
  }
  fill(panel,
    h('p', {}, `Rolling back replaces ${d.from.name} v${d.from.version} (${shortHash(d.from.hash)}) with ${d.to.name} v${d.to.version} (${shortHash(d.to.hash)}), activated ${when(d.to.activated_at)} by ${d.to.by}:`),
    diffList(d.diff),
    h('div', { class: 'row' },
      h('button', { type: 'button', id: 'rollback-confirm', class: 'danger', onclick: guarded(rollback) }, 'Roll back now'),
      h('button', { type: 'button', class: 'secondary', onclick: () => (panel.hidden = true) }, 'Cancel'),
    ),
  );
}

async function rollback() {
  const panel = $('#rollback-panel');
  try {
    const r = await api('POST', '/v1/packs/rollback');
    fill(panel, h('p', { class: 'status ok', 'data-result': r.status }, `Rolled back to ${r.active.name} v${r.active.version} (${shortHash(r.active.hash)}).`));
    flash('Rolled back.', true);
  } catch (err) {
    fill(panel, h('p', { class: 'error' }, err.message));
    return;
  }
  await refreshPacks(false);
}

// Shadow packs: the routes may not exist on this server (an older version); say so plainly.
const SHADOW_MISSING = 'Shadow packs are not available on this server.';

async function shadowCall(fn) {
  const out = $('#shadow-result');
  try {
    await fn(out);
  } catch (err) {
    if (missingRoute(err)) fill(out, h('p', { class: 'muted', 'data-unavailable': 'shadow' }, SHADOW_MISSING));
    else fill(out, h('p', { class: 'error' }, err.message), ...(err.details && err.details.diagnostics ? [diagnosticList(err.details.diagnostics)] : []));
  }
}

const shadowPush = () =>
  shadowCall(async (out) => {
    const r = await api('PUT', '/v1/packs/shadow', { files: filesObject() });
    const p = r && (r.shadow || r.active || r.pack);
    fill(out, h('p', { class: 'status ok', 'data-result': 'shadow' }, p ? `Shadow pack set: ${p.name ?? ''} v${p.version ?? ''} (${shortHash(p.hash)}).` : 'Shadow pack set.'));
  });

const shadowClear = () =>
  shadowCall(async (out) => {
    await api('DELETE', '/v1/packs/shadow');
    fill(out, h('p', { class: 'status ok' }, 'Shadow pack removed.'));
  });

const shadowReport = () =>
  shadowCall(async (out) => {
    const hours = Number($('#shadow-since').value) || 24;
    const since = new Date(Date.now() - hours * 3600_000).toISOString();
    const r = await api('GET', `/v1/packs/shadow/report?since=${encodeURIComponent(since)}`);
    const actions = ['allow', 'step_up', 'block'];
    const m = r.matrix ?? {};
    const rules = r.rules ?? { live: {}, shadow: {} };
    const names = [...new Set([...Object.keys(rules.live ?? {}), ...Object.keys(rules.shadow ?? {})])].sort();
    const samples = Object.entries(r.samples ?? {});
    fill(out,
      h('p', {}, `${r.events ?? 0} events since ${when(r.since ?? since)}; live ${shortHash(r.active)}, shadow ${shortHash(r.shadow)}.`),
      h('table', { class: 'grid matrix' },
        h('thead', {}, h('tr', {}, h('th', {}, 'live ↓ / shadow →'), ...actions.map((a) => h('th', {}, a)))),
        h('tbody', {}, actions.map((live) => h('tr', {}, h('th', {}, live), ...actions.map((sh) => h('td', { class: `num${live === sh ? ' diag' : ''}` }, (m[live] ?? {})[sh] ?? 0))))),
      ),
      h('table', { class: 'grid' },
        h('thead', {}, h('tr', {}, h('th', {}, 'rule'), h('th', {}, 'live hits'), h('th', {}, 'shadow hits'))),
        h('tbody', {}, names.map((n) => h('tr', {}, h('td', { class: 'mono' }, n), h('td', { class: 'num' }, (rules.live ?? {})[n] ?? '—'), h('td', { class: 'num' }, (rules.shadow ?? {})[n] ?? '—')))),
      ),
      samples.length ? h('h3', {}, 'Samples') : null,
      ...samples.map(([k, ids]) => h('p', {}, h('strong', {}, `${k}: `), ...ids.slice(0, 20).flatMap((id) => [h('a', { href: '#', class: 'mono', onclick: guarded(async (e) => { e.preventDefault(); await showDecision(id, true); }) }, id), ' ']))),
    );
  });

// ----- Decisions ---------------------------------------------------------------------------------

const search = { params: null, cursor: null };

async function runSearch(ev, more = false) {
  if (!more) {
    const form = $('#search-form');
    const p = new URLSearchParams();
    for (const name of ['user', 'rule', 'decision', 'since', 'until', 'limit']) {
      const v = form.elements[name].value.trim();
      if (v) p.set(name, v);
    }
    search.params = p;
    search.cursor = null;
    fill($('#results tbody'));
  }
  const p = new URLSearchParams(search.params);
  if (more && search.cursor) p.set('cursor', search.cursor);
  const qs = p.toString();
  const page = await api('GET', `/v1/decisions${qs ? `?${qs}` : ''}`);
  search.cursor = page.cursor;
  $('#more').hidden = !page.cursor;
  $('#results tbody').append(
    ...page.decisions.map((d) =>
      h('tr', { class: 'pick result', 'data-id': d.decision_id, onclick: guarded(() => showDecision(d.decision_id)) },
        h('td', {}, when(d.at)),
        h('td', { class: 'mono' }, d.decision_id),
        h('td', {}, d.request.type),
        h('td', {}, badge(d.result.decision)),
        h('td', { class: 'num' }, d.result.score),
        h('td', { class: 'mono' }, [...d.result.rules.map((r) => r.name), ...d.result.shadow.map((r) => `${r.name} (shadow)`)].join(', ')),
        h('td', {}, `${d.result.pack.name} v${d.result.pack.version}`),
      ),
    ),
  );
  if (!more && page.decisions.length === 0) $('#results tbody').append(h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'no decisions match')));
}

function valueClass(node) {
  if (node.type.startsWith('list<')) return 'val list';
  if (node.value === null) return 'val missing';
  if (node.value === true) return 'val true';
  if (node.value === false) return 'val false';
  return 'val';
}

function traceTree(node) {
  return h('li', { 'data-expr': node.expr },
    h('code', { class: 'expr' }, node.expr),
    h('span', { class: valueClass(node), 'data-value': node.shown }, node.shown),
    node.skipped ? h('span', { class: 'skipped', title: 'the operator had decided before this operand' }, '(not reached)') : null,
    node.children.length ? h('ul', { class: 'trace' }, node.children.map(traceTree)) : null,
  );
}

function ruleTrace(r, kept) {
  const state = !r.applies ? 'not for this event type' : r.matched ? 'matched' : 'did not match';
  const keptNote = kept.has(r.rule) !== r.matched ? ` — the kept decision ${kept.has(r.rule) ? 'matched it' : 'did not match it'}` : '';
  return h('div', { class: `rule-trace${r.matched ? ' matched' : ''}${r.applies ? '' : ' inapplicable'}`, 'data-rule': r.rule, 'data-matched': String(r.matched) },
    h('div', {},
      h('strong', { class: 'mono' }, r.rule), ' ',
      h('span', { class: 'muted' }, `${r.mode}${r.action ? `, then ${r.action}` : ''}${r.score ? `, score ${r.score}` : ''} · line ${r.line}`),
      ' — ', h('span', { class: 'state' }, state), h('span', { class: 'muted' }, keptNote),
    ),
    h('ul', { class: 'trace' }, traceTree(r.when)),
  );
}

async function showDecision(id, switchView = false) {
  if (switchView) await openView('decisions');
  const d = await api('GET', `/v1/decisions/${encodeURIComponent(id)}?explain=1`);
  const box = $('#decision');
  box.hidden = false;
  const x = d.explain;
  const t = x.trace;
  const kept = new Set([...x.kept.rules, ...x.kept.shadow]);
  const r = d.result;
  const policy = t && t.policy;
  fill(box,
    h('h2', { 'data-id': d.decision_id }, 'Decision ', h('span', { class: 'mono' }, d.decision_id)),
    h('p', {}, badge(r.decision), ` score ${r.score} · ${d.request.type} at ${when(d.at)} · pack ${r.pack.name} v${r.pack.version}${r.degraded ? ' · degraded' : ''}${d.outcome ? ` · outcome ${d.outcome}` : ''}`),
    h('p', { class: 'muted' }, `Matched at the time: ${x.kept.rules.join(', ') || 'no rule'}${x.kept.shadow.length ? `; shadow: ${x.kept.shadow.join(', ')}` : ''}.`),
    x.notes.length ? h('ul', { class: 'notes' }, x.notes.map((n) => h('li', {}, n))) : null,
    t ? h('p', {}, `Recomputed with ${t.pack.name} v${t.pack.version}: `, badge(t.decision), ` score ${t.score}, decided by ${viaText(t)}.`) : null,
    t ? h('h3', {}, 'Rules') : null,
    ...(t ? t.rules.map((rt) => ruleTrace(rt, kept)) : []),
    policy ? h('h3', {}, `Policy (${policy.policy ?? 'default'})${policy.consulted ? '' : ' — not consulted: a rule decided'}`) : null,
    policy
      ? h('div', { class: 'policy' },
          policy.lines.map((l, i) =>
            h('div', { class: `rule-trace${i === policy.chosen ? ' matched' : ''}`, 'data-policy-line': i },
              h('div', {}, h('strong', {}, l.action), h('span', { class: 'muted' }, ` when … · line ${l.line}`), i === policy.chosen ? ' — the first line that holds' : ''),
              h('ul', { class: 'trace' }, traceTree(l.cond)),
            ),
          ),
          policy.chosen === null ? h('p', { class: 'muted' }, 'No line holds: the policy answers allow.') : null,
        )
      : null,
    x.model ? h('h3', {}, 'Model') : null,
    x.model
      ? h('div', { class: 'model' },
          h('p', {}, `${x.model.version ?? 'no model'}: anomaly ${x.model.anomaly === null ? 'missing' : x.model.anomaly.toFixed(3)}${x.model.explained_with && x.model.explained_with !== x.model.version ? ` (contributions from ${x.model.explained_with})` : ''}`),
          x.model.contributions.length
            ? h('table', { class: 'grid' }, h('tbody', {}, x.model.contributions.map((c) => h('tr', {}, h('td', { class: 'mono' }, c.feature), h('td', { class: 'num' }, c.contribution.toFixed(3))))))
            : h('p', { class: 'muted' }, 'No contributions (the model file holds no node sizes, or none is loaded).'),
        )
      : null,
    h('h3', {}, 'Features kept'),
    h('table', { class: 'grid features' },
      h('tbody', {}, Object.entries(d.features).map(([k, v]) => h('tr', {}, h('td', { class: 'mono' }, k), h('td', { class: 'mono' }, v === null ? 'missing' : String(v))))),
    ),
  );
  box.scrollIntoView({ block: 'start' });
}

function viaText(t) {
  switch (t.via) {
    case 'block_rule':
      return 'a matched block rule';
    case 'allow_rule':
      return 'a matched allow rule';
    case 'policy+step_up':
      return 'the policy (allow), raised to step_up by a matched step_up rule';
    default:
      return 'the policy';
  }
}

// ----- Levers ------------------------------------------------------------------------------------

async function refreshLevers() {
  const got = await api('GET', '/v1/lists');
  const select = $('#list-name');
  const current = select.value;
  fill(select, ...got.lists.map((l) => h('option', { value: l.name, 'data-kind': l.kind }, `${l.name} (${l.kind})`)));
  if (got.lists.some((l) => l.name === current)) select.value = current;
  if (got.lists.length === 0) fill($('#list-entries tbody'), h('tr', {}, h('td', { colspan: 3, class: 'muted' }, 'the active pack declares no redis list')));
  else await readList();
  await readOverrides();
}

async function readList() {
  const name = $('#list-name').value;
  if (!name) return;
  const l = await api('GET', `/v1/lists/${encodeURIComponent(name)}`);
  showList(l);
}

function showList(l) {
  $('#list-kind').textContent = `${l.kind} list, ${l.entries.length} entr${l.entries.length === 1 ? 'y' : 'ies'}`;
  fill($('#list-entries tbody'),
    ...(l.entries.length
      ? l.entries.map((e) =>
          h('tr', { 'data-entry': e.value },
            h('td', { class: 'mono' }, e.value),
            h('td', {}, e.expires_at ? when(e.expires_at) : 'never'),
            h('td', {}, h('button', { type: 'button', class: 'secondary', onclick: guarded(() => removeEntry(l.name, e.value)) }, 'Remove')),
          ),
        )
      : [h('tr', {}, h('td', { colspan: 3, class: 'muted' }, 'empty'))]),
  );
}

async function addEntries() {
  const name = $('#list-name').value;
  const entries = $('#list-values').value.split(/[\n,]+/).map((s) => s.trim()).filter(Boolean);
  if (!name || entries.length === 0) return;
  const ttl = $('#list-ttl').value.trim();
  const reason = $('#list-reason').value.trim();
  const l = await api('POST', `/v1/lists/${encodeURIComponent(name)}`, { entries, ...(ttl ? { ttl } : {}), ...(reason ? { reason } : {}) });
  $('#list-values').value = '';
  showList(l);
  flash(`Added ${entries.length} entr${entries.length === 1 ? 'y' : 'ies'} to ${name}.`, true);
}

async function removeEntry(name, value) {
  const reason = $('#list-reason').value.trim();
  const l = await api('DELETE', `/v1/lists/${encodeURIComponent(name)}`, { entries: [value], ...(reason ? { reason } : {}) });
  showList(l);
  flash(`Removed ${value} from ${name}.`, true);
}

const OVERRIDES_MISSING = 'Overrides are not available on this server.';

async function readOverrides() {
  const box = $('#overrides');
  let r;
  try {
    r = await api('GET', '/v1/overrides');
  } catch (err) {
    if (!missingRoute(err)) throw err;
    fill(box, h('p', { class: 'muted', 'data-unavailable': 'overrides' }, OVERRIDES_MISSING));
    $('#override-submit').disabled = true;
    return;
  }
  $('#override-submit').disabled = false;
  const list = Array.isArray(r) ? r : Array.isArray(r && r.overrides) ? r.overrides : [];
  fill(box,
    h('table', { class: 'grid' },
      h('thead', {}, h('tr', {}, h('th', {}, 'rule'), h('th', {}, 'mode'), h('th', {}, 'expires'), h('th', {}, 'reason'), h('th', {}, 'by'), h('th', {}, ''))),
      h('tbody', {},
        list.length
          ? list.map((o) =>
              h('tr', { 'data-override': o.rule },
                h('td', { class: 'mono' }, o.rule),
                h('td', {}, o.mode),
                h('td', {}, o.expires_at ? when(o.expires_at) : 'never'),
                h('td', {}, o.reason ?? ''),
                h('td', {}, o.by ?? ''),
                h('td', {}, h('button', { type: 'button', class: 'secondary', onclick: guarded(() => clearOverride(o.rule)) }, 'Remove')),
              ),
            )
          : h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'no overrides')),
      ),
    ),
  );
}

async function setOverride() {
  const rule = $('#override-rule').value.trim();
  const ttl = $('#override-ttl').value.trim();
  const body = { mode: $('#override-mode').value, reason: $('#override-reason').value.trim(), ...(ttl ? { ttl } : {}) };
  try {
    await api('PUT', `/v1/overrides/${encodeURIComponent(rule)}`, body);
  } catch (err) {
    if (missingRoute(err)) {
      fill($('#overrides'), h('p', { class: 'muted', 'data-unavailable': 'overrides' }, OVERRIDES_MISSING));
      return;
    }
    throw err;
  }
  flash(`Override set on ${rule}.`, true);
  await readOverrides();
}

async function clearOverride(rule) {
  await api('DELETE', `/v1/overrides/${encodeURIComponent(rule)}`);
  flash(`Override on ${rule} removed.`, true);
  await readOverrides();
}

async function clearCounters() {
  const ip = $('#counters-ip').value.trim();
  const user = $('#counters-user').value.trim();
  const reason = $('#counters-reason').value.trim();
  const subnet = $('#counters-subnet').checked;
  const r = await api('DELETE', '/v1/counters', { ...(ip ? { ip } : {}), ...(ip && subnet ? { subnet: true } : {}), ...(user ? { user } : {}), ...(reason ? { reason } : {}) });
  const out = $('#counters-result');
  out.textContent = `Cleared ${r.cleared} counter key${r.cleared === 1 ? '' : 's'}.`;
  out.className = 'status ok';
  out.dataset.cleared = String(r.cleared);
}

// ----- Audit -------------------------------------------------------------------------------------

async function readAudit() {
  const form = $('#audit-form');
  const p = new URLSearchParams();
  for (const name of ['since', 'action', 'limit']) {
    const v = form.elements[name].value.trim();
    if (v) p.set(name, v);
  }
  const r = await api('GET', `/v1/audit?${p.toString()}`);
  fill($('#audit tbody'),
    ...(r.entries.length
      ? r.entries.map((e) =>
          h('tr', { 'data-action': e.action },
            h('td', {}, when(e.at)),
            h('td', {}, e.by),
            h('td', { class: 'mono' }, e.action),
            h('td', {}, e.reason ?? ''),
            h('td', { class: 'mono' }, JSON.stringify(e.details)),
          ),
        )
      : [h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'no entries'))]),
  );
}

// ---------------------------------------------------------------------------------------------
// Wiring
// ---------------------------------------------------------------------------------------------

function wire() {
  $('#login-form').addEventListener('submit', (ev) => void signIn(ev));
  $('#signout').addEventListener('click', () => signOut());
  for (const b of document.querySelectorAll('#tabs .tab')) b.addEventListener('click', guarded(() => openView(b.dataset.view)));
  $('#load-active').addEventListener('click', guarded(() => loadVersion(undefined)));
  $('#add-file').addEventListener('click', addFile);
  $('#run-tests').addEventListener('click', guarded(runTests));
  $('#run-backtest').addEventListener('click', guarded(runBacktest));
  $('#shadow-push').addEventListener('click', guarded(shadowPush));
  $('#shadow-clear').addEventListener('click', guarded(shadowClear));
  $('#shadow-report').addEventListener('click', guarded(shadowReport));
  $('#activate-preview').addEventListener('click', guarded(activatePreview));
  $('#rollback-preview').addEventListener('click', guarded(rollbackPreview));
  $('#search-form').addEventListener('submit', guarded((ev) => runSearch(ev)));
  $('#more').addEventListener('click', guarded((ev) => runSearch(ev, true)));
  $('#list-name').addEventListener('change', guarded(readList));
  $('#list-add').addEventListener('submit', guarded(addEntries));
  $('#override-form').addEventListener('submit', guarded(setOverride));
  $('#counters-form').addEventListener('submit', guarded(clearCounters));
  $('#audit-form').addEventListener('submit', guarded(readAudit));
}

async function start() {
  wire();
  if (sessionStorage.getItem(TOKEN_KEY)) {
    showApp(true);
    await guarded(() => openView('packs'))();
  } else {
    showApp(false);
  }
  document.body.dataset.ready = 'true';
}

void start();
