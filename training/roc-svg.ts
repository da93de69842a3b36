// The ROC plot of `vigil model eval --plot`: hand-written SVG, one panel per attacker type, one
// curve per scorer, false-positive rate on a log scale (the operating region of a sign-in check is
// below 1% FPR, invisible on a linear axis). No dependency; deterministic output.

export interface RocCurveSeries {
  readonly name: string;
  readonly fpr: readonly number[];
  readonly tpr: readonly number[];
  readonly auc: number;
}

export interface RocPanel {
  readonly title: string;
  readonly curves: readonly RocCurveSeries[];
}

const COLORS = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e'];
const PANEL = 300;
const MARGIN = { left: 50, right: 12, top: 28, bottom: 40 };
const MIN_FPR = 1e-4;
const COLS = 2;

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function f(x: number): string {
  return (Math.round(x * 10) / 10).toString();
}

/** x in pixels for an FPR (clamped to the axis: FPR 0 sits on the left edge). */
function xOf(fpr: number): number {
  const v = Math.max(MIN_FPR, Math.min(1, fpr));
  return ((Math.log10(v) - Math.log10(MIN_FPR)) / -Math.log10(MIN_FPR)) * PANEL;
}

function yOf(tpr: number): number {
  return (1 - Math.max(0, Math.min(1, tpr))) * PANEL;
}

/** The curve as a step path, dropping points that move less than half a pixel. */
function path(c: RocCurveSeries): string {
  const parts: string[] = [];
  let lastX = Number.NaN;
  let lastY = Number.NaN;
  const n = Math.min(c.fpr.length, c.tpr.length);
  for (let i = 0; i < n; i++) {
    const x = xOf(c.fpr[i]!);
    const y = yOf(c.tpr[i]!);
    if (i > 0 && i < n - 1 && Math.abs(x - lastX) < 0.5 && Math.abs(y - lastY) < 0.5) continue;
    if (i === 0) parts.push(`M${f(x)},${f(y)}`);
    else parts.push(`H${f(x)}V${f(y)}`);
    lastX = x;
    lastY = y;
  }
  return parts.join('');
}

export function renderRocSvg(panels: readonly RocPanel[], title = 'ROC by attacker type'): string {
  const cellW = MARGIN.left + PANEL + MARGIN.right;
  const cellH = MARGIN.top + PANEL + MARGIN.bottom;
  const rows = Math.max(1, Math.ceil(panels.length / COLS));
  const width = cellW * Math.min(COLS, Math.max(1, panels.length));
  const height = 30 + cellH * rows;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  out.push(`<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}</text>`);
  panels.forEach((p, k) => {
    const ox = (k % COLS) * cellW + MARGIN.left;
    const oy = 30 + Math.floor(k / COLS) * cellH + MARGIN.top;
    out.push(`<g transform="translate(${ox},${oy})">`);
    out.push(`<text x="${PANEL / 2}" y="-10" text-anchor="middle" font-size="12">${esc(p.title)}</text>`);
    out.push(`<rect width="${PANEL}" height="${PANEL}" fill="none" stroke="#444"/>`);
    for (const e of [-4, -3, -2, -1, 0]) {
      const x = xOf(10 ** e);
      out.push(`<line x1="${f(x)}" y1="0" x2="${f(x)}" y2="${PANEL}" stroke="#ddd"/>`);
      out.push(`<text x="${f(x)}" y="${PANEL + 14}" text-anchor="middle">${e === 0 ? '1' : `1e${e}`}</text>`);
    }
    for (const t of [0, 0.25, 0.5, 0.75, 1]) {
      const y = yOf(t);
      out.push(`<line x1="0" y1="${f(y)}" x2="${PANEL}" y2="${f(y)}" stroke="#ddd"/>`);
      out.push(`<text x="-6" y="${f(y + 4)}" text-anchor="end">${t}</text>`);
    }
    out.push(`<text x="${PANEL / 2}" y="${PANEL + 30}" text-anchor="middle">false-positive rate (legit challenged, log)</text>`);
    out.push(`<text transform="translate(-36,${PANEL / 2}) rotate(-90)" text-anchor="middle">true-positive rate</text>`);
    p.curves.forEach((c, i) => {
      const color = COLORS[i % COLORS.length]!;
      out.push(`<path d="${path(c)}" fill="none" stroke="${color}" stroke-width="1.6"/>`);
      const ly = PANEL - 12 - (p.curves.length - 1 - i) * 14;
      out.push(`<line x1="${PANEL - 150}" y1="${ly - 4}" x2="${PANEL - 134}" y2="${ly - 4}" stroke="${color}" stroke-width="2"/>`);
      const auc = Number.isNaN(c.auc) ? 'n/a' : c.auc.toFixed(3);
      out.push(`<text x="${PANEL - 130}" y="${ly}">${esc(c.name)} (AUC ${auc})</text>`);
    });
    out.push('</g>');
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
