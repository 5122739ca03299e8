// A small SVG line chart (several panels side by side, one line per series, points labelled),
// enough for BENCHMARKS.md and the README; no plotting library is needed for this much.

export interface Series {
  name: string;
  color: string;
  /** y value per x; NaN for a missing point. */
  values: number[];
}

export interface Panel {
  title: string;
  yLabel: string;
  series: Series[];
}

export interface Chart {
  title: string;
  xLabel: string;
  xs: number[];
  panels: Panel[];
}

const W = 420;
const H = 300;
const M = { left: 64, right: 16, top: 64, bottom: 48 };

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function fmt(v: number): string {
  if (Number.isInteger(v) && v < 100) return String(v);
  if (v >= 100) return Math.round(v).toLocaleString("en-US");
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

function panelSvg(chart: Chart, panel: Panel, offsetX: number): string {
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const ymax = niceMax(Math.max(...panel.series.flatMap((s) => s.values.filter((v) => Number.isFinite(v)))));
  const x = (i: number) =>
    offsetX + M.left + (chart.xs.length === 1 ? plotW / 2 : (i * plotW) / (chart.xs.length - 1));
  const y = (v: number) => M.top + plotH - (v / ymax) * plotH;
  const out: string[] = [];
  out.push(
    `<text x="${offsetX + W / 2}" y="${M.top - 42}" text-anchor="middle" font-size="14" font-weight="bold">${esc(panel.title)}</text>`,
  );
  for (let t = 0; t <= 4; t++) {
    const v = (ymax * t) / 4;
    out.push(
      `<line x1="${offsetX + M.left}" x2="${offsetX + W - M.right}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`,
      `<text x="${offsetX + M.left - 6}" y="${y(v) + 4}" text-anchor="end" font-size="11">${fmt(v)}</text>`,
    );
  }
  chart.xs.forEach((xv, i) =>
    out.push(`<text x="${x(i)}" y="${M.top + plotH + 16}" text-anchor="middle" font-size="11">${xv}</text>`),
  );
  out.push(
    `<text x="${offsetX + M.left + plotW / 2}" y="${H - 10}" text-anchor="middle" font-size="12">${esc(chart.xLabel)}</text>`,
    `<text transform="translate(${offsetX + 14},${M.top + plotH / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(panel.yLabel)}</text>`,
  );
  for (const s of panel.series) {
    const pts = s.values.flatMap((v, i) =>
      Number.isFinite(v) ? [`${x(i).toFixed(1)},${y(v).toFixed(1)}`] : [],
    );
    out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts.join(" ")}"/>`);
    s.values.forEach((v, i) => {
      if (!Number.isFinite(v)) return;
      out.push(
        `<circle cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3" fill="${s.color}"/>`,
        `<text x="${x(i).toFixed(1)}" y="${(y(v) - 7).toFixed(1)}" text-anchor="middle" font-size="9" fill="${s.color}">${fmt(v)}</text>`,
      );
    });
  }
  // The legend: a row (two when long) between the panel title and the plot.
  const perRow = 2;
  const colW = (W - M.left - M.right) / perRow;
  panel.series.forEach((s, i) => {
    const lx = offsetX + M.left + (i % perRow) * colW;
    const ly = M.top - 32 + Math.floor(i / perRow) * 14;
    out.push(
      `<rect x="${lx}" y="${ly}" width="10" height="10" fill="${s.color}"/>`,
      `<text x="${lx + 14}" y="${ly + 9}" font-size="11">${esc(s.name)}</text>`,
    );
  });
  return out.join("\n");
}

/** The chart as a standalone SVG document. */
export function renderChart(chart: Chart): string {
  const width = W * chart.panels.length;
  const height = H + 28;
  const body = chart.panels.map((p, i) => panelSvg(chart, p, i * W)).join("\n");
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 -28 ${width} ${height}" font-family="sans-serif">`,
    `<rect x="0" y="-28" width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="-8" text-anchor="middle" font-size="15" font-weight="bold">${esc(chart.title)}</text>`,
    body,
    `</svg>`,
    "",
  ].join("\n");
}
