// npm run bench:ab: two single-member servers side by side, one client alternating between them.
// Compares two builds of Kvorum (or one against etcd 3.4) on the same machine at the same time,
// so that drift of the disk and the CPU hits both: each round runs the load against A then B,
// the next round B then A. Reports, per server, the median throughput of the rounds and the
// latency percentiles of all its requests together (one merged histogram), then how its WAL
// fdatasyncs and backend commits went during its measured runs (from /metrics, which etcd and
// Kvorum both export with the same names and buckets).
// a= and b= name what to run: `etcd`, or a Kvorum entry point (a kvorum.js); a-flags= and
// b-flags= add server flags (space-separated).
// Run: npm run bench:ab -- a=dist/src/cli/kvorum.js b=/other/checkout/dist/src/cli/kvorum.js
//        [workload=put clients=1 total=3000 rounds=8 warmup=5000]
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import * as hdr from "hdr-histogram-js";
import { freeLoopbackPort } from "../src/cli/local-cluster.js";
import { newHistogram, runBench, WORKLOADS, type Workload } from "../src/cli/bench.js";
import { memberFlags } from "../test/e2e/harness.js";
import {
  DISK_HISTOGRAMS,
  histogramDelta,
  parseHistogram,
  scrapeMetrics,
  summarizeHistogram,
  type DiskSummary,
} from "./disk-histograms.js";
import { benchArg as arg, loadOptions, stopChild, waitHealthy } from "./targets.js";

interface Side {
  name: "A" | "B";
  what: string;
  endpoint: string;
  child: ChildProcess;
  histogram: hdr.Histogram;
  perSecond: number[];
  /** /metrics text after the warm-up and after the last round (undefined: not readable). */
  metricsBefore?: string | undefined;
  metricsAfter?: string | undefined;
}

async function startSide(name: "A" | "B", what: string, flags: string[], dir: string): Promise<Side> {
  const ports = { client: await freeLoopbackPort(), peer: await freeLoopbackPort() };
  const args = [
    ...memberFlags(name, join(dir, name), ports, `${name}=http://127.0.0.1:${ports.peer}`),
    ...flags,
  ];
  const child =
    what === "etcd"
      ? spawn("etcd", args, { stdio: "ignore" })
      : spawn(process.execPath, [resolve(what), ...args], { stdio: "ignore" });
  const endpoint = `http://127.0.0.1:${ports.client}`;
  try {
    await waitHealthy(endpoint, Date.now() + 60_000, child);
  } catch (err) {
    child.kill("SIGKILL");
    throw new Error(`${name} (${what}) did not become healthy: ${(err as Error).message}`, { cause: err });
  }
  return { name, what, endpoint, child, histogram: newHistogram(), perSecond: [] };
}

/** A positive whole-number argument; exits with a usage error otherwise. */
function countArg(name: string, fallback: number, min = 1): number {
  const text = arg(name, String(fallback));
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) usage(`${name}=${text}: expected a whole number >= ${min}`);
  return n;
}

function usage(problem: string): never {
  console.error(`bench:ab: ${problem}`);
  console.error(
    "usage: npm run bench:ab -- a=<kvorum.js|etcd> b=<kvorum.js|etcd> [workload=put clients=1 " +
      'total=3000 rounds=8 warmup=5000 a-flags="..." b-flags="..."]',
  );
  process.exit(2);
}

async function main(): Promise<void> {
  const a = arg("a", "dist/src/cli/kvorum.js");
  const b = arg("b", "etcd");
  const workload = arg("workload", "put");
  if (!(WORKLOADS as readonly string[]).includes(workload)) {
    usage(`unknown workload "${workload}" (choose from ${WORKLOADS.join(", ")})`);
  }
  const clients = countArg("clients", 1);
  const total = countArg("total", 3000);
  const rounds = countArg("rounds", 8);
  const warmup = countArg("warmup", 5000, 0);
  const flags = (name: string): string[] => arg(name, "").split(" ").filter(Boolean);
  const dir = mkdtempSync(join(tmpdir(), "bench-ab-"));
  const sides: Side[] = [];
  try {
    sides.push(await startSide("A", a, flags("a-flags"), dir));
    sides.push(await startSide("B", b, flags("b-flags"), dir));
    if (warmup > 0) {
      for (const s of sides)
        await runBench("put", loadOptions([s.endpoint], { clients: 10, conns: 10, total: warmup }));
    }
    for (const s of sides) s.metricsBefore = await scrapeMetrics(s.endpoint);
    const load = { clients, conns: Math.min(10, clients), total };
    for (let r = 0; r < rounds; r++) {
      for (const s of r % 2 === 0 ? sides : [...sides].reverse()) {
        const rep = await runBench(workload as Workload, {
          ...loadOptions([s.endpoint], load),
          rawHistogram: true,
        });
        s.histogram.add(hdr.decodeFromCompressedBase64(rep.hdrBase64 ?? ""));
        s.perSecond.push(rep.perSecond);
        console.error(`bench:ab: round ${r + 1}/${rounds}, ${s.name}: ${Math.round(rep.perSecond)}/s`);
      }
    }
    for (const s of sides) s.metricsAfter = await scrapeMetrics(s.endpoint);
  } finally {
    await Promise.all(sides.map((s) => stopChild(s.child)));
    rmSync(dir, { recursive: true, force: true });
  }
  const ms = (h: hdr.Histogram, p: number): string => (h.getValueAtPercentile(p) / 1000).toFixed(2);
  console.log(`${workload}, ${clients} client(s), ${rounds} rounds of ${total} requests per server\n`);
  console.log("| server | req/s (median of rounds) | p50 | p90 | p95 | p97 | p98 | p99 | p99.9 ms |");
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const s of sides) {
    const sorted = [...s.perSecond].sort((x, y) => x - y);
    const median = sorted[sorted.length >> 1] ?? 0;
    const h = s.histogram;
    console.log(
      `| ${s.name}: ${s.what} | ${Math.round(median)} | ${ms(h, 50)} | ${ms(h, 90)} | ${ms(h, 95)} | ${ms(h, 97)} | ${ms(h, 98)} | ${ms(h, 99)} | ${ms(h, 99.9)} |`,
    );
  }
  printDiskTable(sides);
}

/** The disk's share of the story: each server's WAL fdatasyncs and backend commits in its runs. */
function printDiskTable(sides: Side[]): void {
  const during = (s: Side, name: string, bounds: number[]): DiskSummary | undefined => {
    const after = s.metricsAfter === undefined ? undefined : parseHistogram(s.metricsAfter, name);
    if (after === undefined) return undefined;
    const before = s.metricsBefore === undefined ? undefined : parseHistogram(s.metricsBefore, name);
    return summarizeHistogram(histogramDelta(before, after), bounds);
  };
  const pct = (d: DiskSummary | undefined, boundMs: number): string => {
    const share = d?.shareAtMostMs.get(boundMs);
    return share === undefined ? "–" : `${(share * 100).toFixed(2)} %`;
  };
  const mean = (d: DiskSummary | undefined): string => (d === undefined ? "–" : d.meanMs.toFixed(2));
  console.log("\nDisk, during the measured runs (from each server's /metrics):\n");
  console.log(
    "| server | WAL fdatasyncs | mean ms | ≤ 1 ms | ≤ 2 ms | ≤ 4 ms | backend commits | mean ms | ≤ 4 ms | ≤ 8 ms |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const s of sides) {
    const wal = during(s, DISK_HISTOGRAMS.walFsync, [1, 2, 4]);
    const commit = during(s, DISK_HISTOGRAMS.backendCommit, [4, 8]);
    console.log(
      `| ${s.name}: ${s.what} | ${wal?.count ?? "–"} | ${mean(wal)} | ${pct(wal, 1)} | ${pct(wal, 2)} | ${pct(wal, 4)} | ` +
        `${commit?.count ?? "–"} | ${mean(commit)} | ${pct(commit, 4)} | ${pct(commit, 8)} |`,
    );
  }
}

await main();
