// node dist/bench/sched-delays.js TIMEHIST [PID...]: how long each thread waited for a CPU.
// Reads the output of `perf sched timehist` (one line per context switch, ending in the wait
// time, the scheduling delay and the run time, in ms) and prints, per thread, its context
// switches, its CPU time and its scheduling delays: the time from being woken to running. Give
// process ids to see only their threads. A server thread with many delays over 1 ms is one whose
// requests waited for a CPU that other work held (see docs/benchmarking.md).
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

export interface ThreadStats {
  delays: number[];
  runMs: number;
}

/** Per thread (`name[tid]` or `name[tid/pid]`), its scheduling delays and CPU time; only the given pids if any. */
export function parseTimehist(text: string, pids: ReadonlySet<string>): Map<string, ThreadStats> {
  const threads = new Map<string, ThreadStats>();
  for (const line of text.split("\n")) {
    const parts = line.trim().split(/\s+/);
    // time [cpu] task... wait sch run
    if (parts.length < 6 || !/^\[\d+\]$/.test(parts[1] ?? "")) continue;
    const task = parts.slice(2, parts.length - 3).join(" ");
    const [, delay, run] = parts.slice(parts.length - 3).map(Number) as [number, number, number];
    if (Number.isNaN(delay) || Number.isNaN(run)) continue;
    // task is name[tid] or name[tid/pid]
    const ids = /\[(\d+)(?:\/(\d+))?\]$/.exec(task);
    const pid = ids?.[2] ?? ids?.[1];
    if (pids.size > 0 && (pid === undefined || !pids.has(pid))) continue;
    let t = threads.get(task);
    if (t === undefined) threads.set(task, (t = { delays: [], runMs: 0 }));
    t.delays.push(delay);
    t.runMs += run;
  }
  return threads;
}

/** The per-thread table, busiest thread first (threads with under 1 ms of CPU left out). */
export function delayTable(threads: Map<string, ThreadStats>): string {
  const rows = [...threads].filter(([, t]) => t.runMs >= 1).sort((a, b) => b[1].runMs - a[1].runMs);
  const lines = [
    "| thread | switches | CPU ms | delay p50 ms | p99 ms | max ms | delays > 1 ms | > 2 ms |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const [task, t] of rows) {
    const d = [...t.delays].sort((a, b) => a - b);
    const q = (p: number): string => (d[Math.min(d.length - 1, Math.floor(p * d.length))] ?? 0).toFixed(3);
    const over = (ms: number): number => d.filter((x) => x > ms).length;
    lines.push(
      `| ${task} | ${d.length} | ${t.runMs.toFixed(0)} | ${q(0.5)} | ${q(0.99)} | ${(d[d.length - 1] ?? 0).toFixed(2)} | ${over(1)} | ${over(2)} |`,
    );
  }
  return lines.join("\n");
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [file, ...pids] = process.argv.slice(2);
  if (file === undefined) {
    console.error("usage: node dist/bench/sched-delays.js TIMEHIST [PID...]");
    process.exit(2);
  }
  console.log(delayTable(parseTimehist(readFileSync(file, "utf8"), new Set(pids))));
}
