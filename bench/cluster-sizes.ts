// npm run bench:sizes: the cost of cluster size, measured. For each size (1, 3, 5, 7, 9 members
// on loopback, fresh data dirs, default flags), etcd 3.4 and Kvorum each run a put load with 100
// clients (throughput, p50, p99) and with 1 client (latency), one server kind at a time, the
// order alternating between sizes. Prints Markdown tables (with how many failures each size
// tolerates) and writes the chart to docs/img/cluster-sizes.svg (out=... to change).
// rounds=N repeats every measurement N times (the server kinds alternating) and keeps the best.
// Every server first gets an unrecorded warm-up of warmup=N puts from 10 clients (as in compare).
// Run: npm run bench:sizes [-- sizes=1,3,5,7,9 total=5000 rounds=1 procs=1 warmup=5000 out=docs/img/cluster-sizes.svg]
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { runBenchInProcesses } from "../src/cli/bench-procs.js";
import { runBench, type BenchReport } from "../src/cli/bench.js";
import type { ServerKind } from "../test/e2e/harness.js";
import { renderChart } from "./svg-chart.js";
import { benchArg as arg, loadOptions, startTarget } from "./targets.js";

const sizes = arg("sizes", "1,3,5,7,9").split(",").map(Number);
const total = Number(arg("total", "5000"));
const procs = Number(arg("procs", "1"));
const rounds = Number(arg("rounds", "1"));
const warmup = Number(arg("warmup", "5000"));
const out = arg("out", "docs/img/cluster-sizes.svg");
const kinds: ServerKind[] = ["etcd", "kvorum"];

async function load(
  endpoints: string[],
  clients: number,
  conns: number,
  requests: number,
): Promise<BenchReport> {
  const opts = loadOptions(endpoints, { clients, conns, total: requests });
  return procs > 1 && clients >= procs ? runBenchInProcesses("put", opts, procs) : runBench("put", opts);
}

interface Point {
  many: BenchReport;
  one: BenchReport;
}
const results = new Map<string, Point>();

const better = (a: BenchReport | undefined, b: BenchReport) =>
  a === undefined || b.perSecond > a.perSecond ? b : a;
for (let round = 0; round < rounds; round++) {
  for (const [i, size] of sizes.entries()) {
    const order = (i + round) % 2 === 0 ? kinds : [...kinds].reverse();
    for (const kind of order) {
      process.stderr.write(`sizes: round ${round + 1}, ${kind}, ${size} member(s) ...\n`);
      const target = await startTarget(kind, size, { processes: true });
      try {
        if (warmup > 0) await load(target.endpoints, 10, 10, warmup); // connections, JIT, leader settled
        const many = await load(target.endpoints, 100, 10, total);
        const one = await load(target.endpoints, 1, 1, Math.min(1000, Math.max(100, Math.floor(total / 5))));
        const prev = results.get(`${kind}|${size}`);
        results.set(`${kind}|${size}`, { many: better(prev?.many, many), one: better(prev?.one, one) });
      } finally {
        await target.stop();
      }
    }
  }
}

const get = (kind: ServerKind, size: number) => results.get(`${kind}|${size}`) as Point;
const fmt = (n: number) => n.toLocaleString("en-US", { maximumFractionDigits: 0 });

console.log(
  `\n### Put throughput and latency by cluster size (${fmt(total)} puts, 100 clients over 10 connections spread over all members; 256-byte values; best of ${rounds})\n`,
);
console.log(
  "| members | etcd req/s | etcd p50 / p99 ms | kvorum req/s | kvorum p50 / p99 ms | kvorum/etcd | 1 client p50 ms: etcd / kvorum |",
);
console.log("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const size of sizes) {
  const e = get("etcd", size);
  const k = get("kvorum", size);
  console.log(
    `| ${size} | ${fmt(e.many.perSecond)} | ${e.many.latencyMs.p50.toFixed(1)} / ${e.many.latencyMs.p99.toFixed(1)} | ${fmt(k.many.perSecond)} | ${k.many.latencyMs.p50.toFixed(1)} / ${k.many.latencyMs.p99.toFixed(1)} | ${(k.many.perSecond / e.many.perSecond).toFixed(2)}× | ${e.one.latencyMs.p50.toFixed(2)} / ${k.one.latencyMs.p50.toFixed(2)} |`,
  );
}

console.log("\n### What each size tolerates\n");
console.log("| members | quorum | member failures tolerated |");
console.log("| ---: | ---: | ---: |");
for (const size of sizes)
  console.log(`| ${size} | ${Math.floor(size / 2) + 1} | ${Math.floor((size - 1) / 2)} |`);

const svg = renderChart({
  title: "Put load by cluster size (same machine, loopback, same client)",
  xLabel: "members",
  xs: sizes,
  panels: [
    {
      title: "Throughput, 100 clients",
      yLabel: "puts per second",
      series: [
        { name: "etcd 3.4", color: "#1f77b4", values: sizes.map((s) => get("etcd", s).many.perSecond) },
        { name: "Kvorum", color: "#d62728", values: sizes.map((s) => get("kvorum", s).many.perSecond) },
      ],
    },
    {
      title: "Latency, 100 clients",
      yLabel: "ms",
      series: [
        { name: "etcd p99", color: "#1f77b4", values: sizes.map((s) => get("etcd", s).many.latencyMs.p99) },
        {
          name: "Kvorum p99",
          color: "#d62728",
          values: sizes.map((s) => get("kvorum", s).many.latencyMs.p99),
        },
        { name: "etcd p50", color: "#9ecae1", values: sizes.map((s) => get("etcd", s).many.latencyMs.p50) },
        {
          name: "Kvorum p50",
          color: "#f4a6a6",
          values: sizes.map((s) => get("kvorum", s).many.latencyMs.p50),
        },
      ],
    },
    {
      title: "Failures tolerated",
      yLabel: "members that may fail",
      series: [
        { name: "floor((n-1)/2)", color: "#2ca02c", values: sizes.map((s) => Math.floor((s - 1) / 2)) },
      ],
    },
  ],
});
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, svg);
console.log(`\nChart: ${out}`);
