// An HTML page with an SVG timeline of a chaos run: one lane per client, each operation a bar
// from call to return (green: answered, grey: outcome unknown, red: on the key the checker could
// not linearize), faults as shaded bands with labels, and the report text below. Opened in a
// browser when a check fails.
import type { ChaosResult } from "./run.js";

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

export function renderTimeline(result: ChaosResult, title: string, reportLines: string[]): string {
  const end = Math.max(result.durationMs, 1);
  const width = 1400;
  const laneHeight = 18;
  const clients = [...new Set(result.history.map((op) => op.client))].sort((a, b) => a - b);
  const top = 40;
  const height = top + clients.length * laneHeight + 40;
  const x = (t: number) => ((Math.min(t, end) / end) * (width - 120) + 100).toFixed(1);
  const bad = new Set(result.violationOps);
  const badKey = result.violationOps[0]?.input.key;
  const parts: string[] = [];
  for (const f of result.faults) {
    parts.push(
      `<rect x="${x(f.start)}" y="20" width="${Math.max(2, Number(x(f.end)) - Number(x(f.start))).toFixed(1)}" height="${height - 40}" fill="#f5c542" opacity="0.25"><title>${esc(`${f.kind} ${f.target}: ${f.detail}`)}</title></rect>`,
      `<text x="${x(f.start)}" y="15" font-size="10">${esc(`${f.kind} ${f.target}`)}</text>`,
    );
  }
  clients.forEach((c, i) => {
    const y = top + i * laneHeight;
    parts.push(`<text x="5" y="${y + 12}" font-size="11">client ${c}</text>`);
  });
  const describeOp = (op: ChaosResult["history"][number]) => {
    const out = op.output === undefined ? "?" : JSON.stringify(op.output);
    return `${JSON.stringify(op.input)} -> ${out} [${op.call.toFixed(1)}, ${op.ret === Infinity ? "?" : op.ret.toFixed(1)}] ms`;
  };
  for (const op of result.history) {
    const lane = clients.indexOf(op.client);
    const y = top + lane * laneHeight + 3;
    const unknown = op.ret === Infinity;
    const color =
      bad.has(op) || (badKey !== undefined && op.input.key === badKey && !result.linearizable)
        ? "#d9534f"
        : unknown
          ? "#999"
          : "#5cb85c";
    const w = Math.max(1.5, Number(x(unknown ? end : op.ret)) - Number(x(op.call)));
    parts.push(
      `<rect x="${x(op.call)}" y="${y}" width="${w.toFixed(1)}" height="${laneHeight - 6}" fill="${color}" opacity="${unknown ? 0.4 : 0.8}"><title>${esc(describeOp(op))}</title></rect>`,
    );
  }
  for (let s = 0; s <= end / 1000; s += Math.max(1, Math.round(end / 1000 / 20))) {
    parts.push(`<text x="${x(s * 1000)}" y="${height - 5}" font-size="10">${s}s</text>`);
  }
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:sans-serif;margin:16px} pre{background:#f6f6f6;padding:8px;overflow:auto}</style></head>
<body><h1>${esc(title)}</h1>
<p>Bars: operations from call to return (green answered, grey outcome unknown, red on the key that is not linearizable). Yellow bands: faults. Hover for details.</p>
<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${parts.join("")}</svg>
<pre>${esc(reportLines.join("\n"))}</pre>
</body></html>
`;
}
