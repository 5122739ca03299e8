// Benchmark: writes while a defragmentation runs, on etcd 3.4 and then on Kvorum (one member each,
// fresh data dirs, default flags except a larger space quota). Each server is filled with `keys`
// keys of `valueBytes` bytes, every other block of 100 keys is deleted, the history is compacted
// (physical, so the compaction has finished), and then a client runs puts with `inflight` requests
// in flight: `before` seconds alone, then while `etcdctl defrag` runs, then `afterSec` seconds more.
// Prints, for each server: the database size before and after, the defrag's duration (etcdctl's
// run time), puts per second in each second, the put rate before and during the defrag, the
// longest put latency during the defrag, and the longest gap between two completed puts.
// Run: npx tsx bench/defrag-stall.ts [keys=100000 valueBytes=10240 inflight=16 before=5 after=5]
//      (or npm run bench:defrag -- keys=...)
import { spawn } from "node:child_process";
import { Etcd3 } from "etcd3";
import { startServer, type ServerKind } from "../test/e2e/harness.js";
import { benchArg } from "./targets.js";

const keys = Number(benchArg("keys", "100000"));
const valueBytes = Number(benchArg("valueBytes", "10240"));
const inflight = Number(benchArg("inflight", "16"));
const beforeSec = Number(benchArg("before", "5"));
const afterSec = Number(benchArg("after", "5"));
const kinds = benchArg("servers", "etcd,kvorum").split(",") as ServerKind[];
const QUOTA = String(8 * 1024 ** 3);

function etcdctl(endpoint: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn("etcdctl", ["--endpoints", endpoint, "--command-timeout", "600s", ...args], {
      env: { ...process.env, ETCDCTL_API: "3" },
    });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (out += c.toString()));
    child.on("close", (code) => resolve({ code, out }));
  });
}

async function dbSizes(endpoint: string): Promise<{ size: number; inUse: number }> {
  const r = await etcdctl(endpoint, ["endpoint", "status", "-w", "json"]);
  const s = (JSON.parse(r.out) as Array<{ Status: { dbSize: number; dbSizeInUse?: number } }>)[0]!.Status;
  return { size: s.dbSize, inUse: s.dbSizeInUse ?? NaN };
}

const mib = (n: number) => `${(n / 1024 ** 2).toFixed(0)} MiB`;
const key = (i: number) => `fill/${String(i).padStart(8, "0")}`;

async function inParallel(n: number, width: number, op: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) await op(next++);
    }),
  );
}

interface Result {
  kind: ServerKind;
  fillSec: number;
  before: { size: number; inUse: number };
  after: { size: number; inUse: number };
  defragMs: number;
  /** The defrag's start and end, seconds since the puts began. */
  defragWindow: [number, number];
  defragOk: boolean;
  perSecond: number[];
  rateBefore: number;
  rateDuring: number;
  maxLatencyDuringMs: number;
  p99BeforeMs: number;
  longestGapDuringMs: number;
}

async function measure(kind: ServerKind): Promise<Result> {
  const server = await startServer(kind, {
    extraArgs: ["--quota-backend-bytes", QUOTA],
    readyTimeoutMs: 60_000,
  });
  const client = new Etcd3({ hosts: server.endpoint });
  try {
    const value = Buffer.alloc(valueBytes, 0x61);
    const t0 = performance.now();
    await inParallel(keys, 32, (i) => client.put(key(i)).value(value).exec());
    // Delete every other block of 100 keys (range deletes), so freed pages are spread through the file.
    const blocks = Math.ceil(keys / 100);
    await inParallel(Math.ceil(blocks / 2), 8, (b) =>
      client
        .delete()
        .inRange({ start: key(2 * b * 100), end: key(2 * b * 100 + 100) })
        .exec(),
    );
    const rev = (await client.get("none").exec()).header.revision;
    const compact = await etcdctl(server.endpoint, ["compact", rev, "--physical"]);
    if (compact.code !== 0) throw new Error(`compact: ${compact.out}`);
    const fillSec = (performance.now() - t0) / 1000;
    const before = await dbSizes(server.endpoint);
    console.error(`${kind}: filled and compacted in ${fillSec.toFixed(0)} s, db ${mib(before.size)}`);

    // Puts with `inflight` in flight; every completion's time and latency is kept.
    const small = Buffer.alloc(256, 0x62);
    const done: Array<{ at: number; ms: number }> = [];
    let stop = false;
    let n = 0;
    const start = performance.now();
    const writers = Promise.all(
      Array.from({ length: inflight }, async () => {
        while (!stop) {
          const t = performance.now();
          await client.put(`load/${n++ % 10_000}`).value(small);
          const now = performance.now();
          done.push({ at: now - start, ms: now - t });
        }
      }),
    );
    await new Promise((r) => setTimeout(r, beforeSec * 1000));
    const d0 = performance.now() - start;
    const defrag = await etcdctl(server.endpoint, ["defrag"]);
    const d1 = performance.now() - start;
    const afterDefrag = await dbSizes(server.endpoint);
    await new Promise((r) => setTimeout(r, afterSec * 1000));
    stop = true;
    await writers;

    const perSecond: number[] = [];
    for (const c of done) perSecond[Math.floor(c.at / 1000)] = (perSecond[Math.floor(c.at / 1000)] ?? 0) + 1;
    const beforeOps = done.filter((c) => c.at < d0);
    // A put is affected by the defrag when its interval overlaps the defrag's.
    const during = done.filter((c) => c.at >= d0 && c.at - c.ms <= d1);
    const gaps: number[] = [];
    const times = [d0, ...done.map((c) => c.at).filter((a) => a >= d0 && a <= d1), d1].sort((a, b) => a - b);
    for (let i = 1; i < times.length; i++) gaps.push(times[i]! - times[i - 1]!);
    const lat = beforeOps.map((c) => c.ms).sort((a, b) => a - b);
    return {
      kind,
      fillSec,
      before,
      after: afterDefrag,
      defragMs: d1 - d0,
      defragWindow: [d0 / 1000, d1 / 1000],
      defragOk: defrag.code === 0,
      perSecond: Array.from(perSecond, (v) => v ?? 0),
      rateBefore: beforeOps.length / (d0 / 1000),
      rateDuring: done.filter((c) => c.at >= d0 && c.at <= d1).length / ((d1 - d0) / 1000),
      maxLatencyDuringMs: Math.max(0, ...during.map((c) => c.ms)),
      p99BeforeMs: lat[Math.floor(lat.length * 0.99)] ?? NaN,
      longestGapDuringMs: Math.max(0, ...gaps),
    };
  } finally {
    client.close();
    await server.stop();
  }
}

console.error(
  `defrag-stall: ${keys} keys x ${valueBytes} B (${mib(keys * valueBytes)} of values), ` +
    `half deleted, ${inflight} puts of 256 B in flight; servers: ${kinds.join(", ")}`,
);
const results: Result[] = [];
for (const kind of kinds) results.push(await measure(kind));
for (const r of results) {
  console.log(`\n== ${r.kind} ==`);
  console.log(`fill + delete half + compact: ${r.fillSec.toFixed(0)} s`);
  console.log(
    `db size before defrag: ${mib(r.before.size)} (in use ${mib(r.before.inUse)}); ` +
      `right after it: ${mib(r.after.size)} (in use ${mib(r.after.inUse)})`,
  );
  console.log(`defrag: ${r.defragMs.toFixed(0)} ms${r.defragOk ? "" : " (FAILED)"}`);
  console.log(`puts/s before defrag: ${r.rateBefore.toFixed(0)}, during: ${r.rateDuring.toFixed(0)}`);
  console.log(
    `put p99 before: ${r.p99BeforeMs.toFixed(1)} ms; max put latency during defrag: ${r.maxLatencyDuringMs.toFixed(0)} ms`,
  );
  console.log(`longest gap between completed puts during defrag: ${r.longestGapDuringMs.toFixed(0)} ms`);
  const [w0, w1] = r.defragWindow;
  console.log(
    `puts completed in each second (defrag from ${w0.toFixed(1)} s to ${w1.toFixed(1)} s): ${r.perSecond.join(" ")}`,
  );
}
console.log(`\n${JSON.stringify(results)}`);
process.exit(0);
