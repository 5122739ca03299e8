// `kvorumctl bench --procs N`: the same load from N client processes, so that the client's own
// event loop (one core at most) does not cap what a server on a multi-core machine can show.
// Each child is `kvorumctl bench` with its share of --clients, --conns and --total (or the same
// --duration); it reports progress on stderr and its result, with the raw latency histogram, as
// JSON on stdout. The parent adds the histograms and counts and reports the whole run.
import { spawn } from "node:child_process";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import * as hdr from "hdr-histogram-js";
import {
  newHistogram,
  startProgress,
  summarize,
  type BenchOptions,
  type BenchReport,
  type Workload,
} from "./bench.js";

/** Workloads whose requests are independent, so they can be split across processes. */
export const SPLITTABLE: readonly Workload[] = ["put", "range", "txn-put", "txn-mixed", "lease-keepalive"];

/** `n` split into `parts` whole shares that differ by at most one. */
export function shares(n: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(n / parts) + (i < n % parts ? 1 : 0));
}

/** The argv of child `i` of `procs`. */
export function childArgs(workload: Workload, opts: BenchOptions, procs: number, i: number): string[] {
  const clients = shares(opts.clients, procs)[i] as number;
  const conns = Math.max(1, Math.min(clients, shares(opts.conns, procs)[i] as number));
  const args = [
    "bench",
    workload,
    "--endpoints",
    opts.endpoints.join(","),
    "--conns",
    String(conns),
    "--clients",
    String(clients),
    "--key-size",
    String(opts.keySize),
    "--val-size",
    String(opts.valSize),
    "--key-space-size",
    String(opts.keySpaceSize),
    "--consistency",
    opts.consistency,
    "--json",
    "--child-report",
  ];
  if (opts.durationSec > 0) args.push("--duration", String(opts.durationSec));
  else args.push("--total", String(Math.max(1, shares(opts.total, procs)[i] as number)));
  if (opts.sequentialKeys) args.push("--sequential-keys");
  if (opts.targetLeader) args.push("--target-leader");
  return args;
}

function kvorumctlPath(): string {
  const here = fileURLToPath(import.meta.url);
  return here.slice(0, -extname(here).length).replace(/bench-procs$/, "kvorumctl") + extname(here);
}

interface ChildRun {
  report: Promise<BenchReport>;
  done: number;
  errors: number;
}

function startChild(args: string[]): ChildRun {
  const script = kvorumctlPath();
  const execArgs = extname(script) === ".ts" ? ["--import", "tsx", script] : [script];
  const child = spawn(process.execPath, [...execArgs, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const run: ChildRun = { report: Promise.resolve(undefined as unknown as BenchReport), done: 0, errors: 0 };
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    err += d;
    const lines = err.split("\n");
    err = lines.pop() ?? "";
    for (const line of lines) {
      const m = /^progress (\d+) (\d+)$/.exec(line);
      if (m !== null) {
        run.done = Number(m[1]);
        run.errors = Number(m[2]);
      } else if (line !== "") process.stderr.write(`bench child: ${line}\n`);
    }
  });
  run.report = new Promise<BenchReport>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`bench child exited with ${code}: ${err.trim()}`));
      try {
        resolve(JSON.parse(out) as BenchReport);
      } catch (e) {
        reject(new Error(`bench child printed no report: ${String(e)}`));
      }
    });
  });
  return run;
}

/** Runs the workload from `procs` child processes and merges their results. */
export async function runBenchInProcesses(
  workload: Workload,
  opts: BenchOptions,
  procs: number,
): Promise<BenchReport> {
  if (!SPLITTABLE.includes(workload))
    throw new Error(`--procs above 1 is for ${SPLITTABLE.join(", ")}; ${workload} runs in one process`);
  if (opts.clients < procs)
    throw new Error(`--clients (${opts.clients}) must be at least --procs (${procs})`);
  const children = Array.from({ length: procs }, (_, i) => startChild(childArgs(workload, opts, procs, i)));
  const stopProgress = startProgress(`${workload} x${procs} procs`, opts, () => ({
    done: children.reduce((n, c) => n + c.done, 0),
    errors: children.reduce((n, c) => n + c.errors, 0),
  }));
  let reports: BenchReport[];
  try {
    reports = await Promise.all(children.map((c) => c.report));
  } finally {
    stopProgress();
  }
  const h = newHistogram();
  for (const r of reports) if (r.hdrBase64 !== undefined) h.add(hdr.decodeFromCompressedBase64(r.hdrBase64));
  const requests = reports.reduce((n, r) => n + r.requests, 0);
  const errors = reports.reduce((n, r) => n + r.errors, 0);
  // The children start together; the run lasts as long as the slowest one.
  const seconds = Math.max(...reports.map((r) => r.seconds));
  const merged = summarize(workload, opts, h, requests, errors, seconds);
  merged.procs = procs;
  return merged;
}
