// npm run compare: the same workloads, with the same client (kvorumctl bench's runner), against
// etcd 3.4 and Kvorum on this machine, 1 and 3 members on loopback with data on the same disk.
// Runs alternate (etcd, kvorum, etcd, kvorum) so drift in the machine hits both; the best of the
// runs per server is reported, with the Kvorum/etcd ratio and each server's RSS after its runs.
// Each round's etcd and Kvorum runs also make a pair, run back to back: the median and range of
// those paired ratios show how much of a difference is the machine drifting between rounds.
// procs=N runs each load with more than one client from N processes (kvorumctl bench --procs).
// Before the measured runs, every server gets the same unrecorded warm-up load (warmup=N puts
// from 10 clients, 0 for none): Node compiles Kvorum's hot paths in its first few thousand
// requests, and a benchmark of a long-running server should not measure that.
// Run: npm run compare [-- members=1,3 rounds=2 total=10000 procs=1 warmup=5000]
import { runBenchInProcesses } from "../src/cli/bench-procs.js";
import { runBench, type BenchReport, type Workload } from "../src/cli/bench.js";
import type { ServerKind } from "../test/e2e/harness.js";
import { benchArg as arg, loadOptions, rssBytes, startTarget, type Target } from "./targets.js";

const sizes = arg("members", "1,3").split(",").map(Number);
const rounds = Number(arg("rounds", "2"));
const total = Number(arg("total", "10000"));
const procs = Number(arg("procs", "1"));
const warmup = Number(arg("warmup", "5000"));
/** Only the workloads whose label contains this text (e.g. only=put), all by default. */
const only = arg("only", "");

interface Case {
  label: string;
  workload: Workload;
  clients: number;
  conns: number;
  consistency: "l" | "s";
  total: number;
}

const allCases: Case[] = [
  {
    label: "put, 1 client",
    workload: "put",
    clients: 1,
    conns: 1,
    consistency: "l",
    total: Math.min(total, 2000),
  },
  { label: "put, 100 clients", workload: "put", clients: 100, conns: 10, consistency: "l", total },
  {
    label: "range (linearizable), 100 clients",
    workload: "range",
    clients: 100,
    conns: 10,
    consistency: "l",
    total,
  },
  {
    label: "range (serializable), 100 clients",
    workload: "range",
    clients: 100,
    conns: 10,
    consistency: "s",
    total,
  },
];

const cases = allCases.filter((c) => c.label.includes(only));

const fmt = (n: number) => n.toLocaleString("en-US", { maximumFractionDigits: 0 });

/** "1.02× (0.91–1.10×)": the median of the paired ratios and their range. */
function pairedSummary(ratios: number[]): string {
  if (ratios.length === 0) return "";
  const sorted = [...ratios].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median =
    sorted.length % 2 === 1
      ? (sorted[mid] as number)
      : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  const lo = (sorted[0] as number).toFixed(2);
  const hi = (sorted[sorted.length - 1] as number).toFixed(2);
  return `${median.toFixed(2)}× (${lo}–${hi}×)`;
}

for (const size of sizes) {
  const targets = new Map<ServerKind, Target>();
  try {
    for (const kind of ["etcd", "kvorum"] as const)
      targets.set(kind, await startTarget(kind, size, { processes: true }));
    if (warmup > 0) {
      for (const [kind, t] of targets) {
        process.stderr.write(`compare: ${size} member(s), warm-up of ${kind} (${warmup} puts) ...\n`);
        await runBench("put", loadOptions(t.endpoints, { clients: 10, conns: 10, total: warmup }));
      }
    }
    const best = new Map<string, BenchReport>();
    /** Kvorum/etcd throughput of each round's back-to-back pair, per workload. */
    const paired = new Map<string, number[]>();
    const rss = new Map<ServerKind, number>();
    for (const c of cases) {
      for (let r = 0; r < rounds; r++) {
        let roundEtcd = 0;
        for (const kind of ["etcd", "kvorum"] as const) {
          const t = targets.get(kind) as Target;
          process.stderr.write(`compare: ${size} member(s), ${c.label}, round ${r + 1}, ${kind} ...\n`);
          const report =
            procs > 1 && c.clients >= procs
              ? await runBenchInProcesses(c.workload, loadOptions(t.endpoints, c), procs)
              : await runBench(c.workload, loadOptions(t.endpoints, c));
          const key = `${c.label}|${kind}`;
          const prev = best.get(key);
          if (prev === undefined || report.perSecond > prev.perSecond) best.set(key, report);
          if (kind === "etcd") roundEtcd = report.perSecond;
          else paired.set(c.label, [...(paired.get(c.label) ?? []), report.perSecond / roundEtcd]);
          rss.set(kind, Math.max(rss.get(kind) ?? 0, ...t.pids().map(rssBytes)));
        }
      }
    }
    console.log(
      `\n### ${size} member${size === 1 ? "" : "s"} (best of ${rounds} alternating runs, 256-byte values${procs > 1 ? `, client in ${procs} processes` : ""})\n`,
    );
    console.log(
      "| workload | etcd req/s | etcd p50 / p99 ms | kvorum req/s | kvorum p50 / p99 ms | kvorum/etcd | paired rounds: median (range) |",
    );
    console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (const c of cases) {
      const e = best.get(`${c.label}|etcd`) as BenchReport;
      const k = best.get(`${c.label}|kvorum`) as BenchReport;
      console.log(
        `| ${c.label} | ${fmt(e.perSecond)} | ${e.latencyMs.p50.toFixed(2)} / ${e.latencyMs.p99.toFixed(2)} | ${fmt(k.perSecond)} | ${k.latencyMs.p50.toFixed(2)} / ${k.latencyMs.p99.toFixed(2)} | ${(k.perSecond / e.perSecond).toFixed(2)}× | ${pairedSummary(paired.get(c.label) ?? [])} |`,
      );
    }
    const mb = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MiB`;
    console.log(
      `\nLargest RSS of one server process under this load: etcd ${mb(rss.get("etcd") ?? 0)}, kvorum ${mb(rss.get("kvorum") ?? 0)}.`,
    );
  } finally {
    for (const t of targets.values()) await t.stop();
  }
}
