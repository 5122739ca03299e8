// Benchmark: the same client workload against real etcd 3.4 and against Kvorum, one after the
// other on the same machine, each a single member (or, with members=3, a cluster of separate
// processes) on fresh data dirs on loopback, with default flags.
// Workloads (etcd3 npm client, one client process): sequential puts (latency), puts and
// linearizable gets with many requests in flight (throughput). Prints one table and the ratios.
// Run: npm run bench:api [-- puts=20000 inflight=64 valueBytes=256 members=1]
import { Etcd3 } from "etcd3";
import type { ServerKind } from "../test/e2e/harness.js";
import { startTarget } from "./targets.js";

function arg(name: string, fallback: number): number {
  const hit = process.argv.slice(2).find((a) => a.startsWith(`${name}=`));
  return hit === undefined ? fallback : Number(hit.slice(name.length + 1));
}

const totalOps = arg("puts", 20_000);
const inflight = arg("inflight", 64);
const valueBytes = arg("valueBytes", 256);
const members = arg("members", 1);
const sequentialOps = Math.min(2_000, totalOps);
const value = Buffer.alloc(valueBytes, 0x61);

interface Result {
  kind: ServerKind;
  seqPutMs: number[];
  putPerSec: number;
  getPerSec: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
}

/** Runs `ops` calls of `op` with `width` in flight; returns calls per second. */
async function concurrently(
  ops: number,
  width: number,
  op: (i: number) => Promise<unknown>,
): Promise<number> {
  let next = 0;
  const start = performance.now();
  const worker = async (): Promise<void> => {
    while (next < ops) await op(next++);
  };
  await Promise.all(Array.from({ length: width }, worker));
  return (ops / (performance.now() - start)) * 1000;
}

async function measure(kind: ServerKind): Promise<Result> {
  const server = await startTarget(kind, members);
  const client = new Etcd3({ hosts: server.endpoints });
  try {
    for (let i = 0; i < 200; i++) await client.put(`warm/${i}`).value(value); // connection, JIT
    const seqPutMs: number[] = [];
    for (let i = 0; i < sequentialOps; i++) {
      const t = performance.now();
      await client.put(`seq/${i}`).value(value);
      seqPutMs.push(performance.now() - t);
    }
    seqPutMs.sort((a, b) => a - b);
    const putPerSec = await concurrently(totalOps, inflight, (i) =>
      client
        .put(`k/${i % 10_000}`)
        .value(value)
        .exec(),
    );
    const getPerSec = await concurrently(totalOps, inflight, (i) => client.get(`k/${i % 10_000}`).buffer());
    return { kind, seqPutMs, putPerSec, getPerSec };
  } finally {
    client.close();
    await server.stop();
  }
}

const results: Result[] = [];
for (const kind of ["etcd", "kvorum"] as const) {
  process.stderr.write(`bench:api measuring ${kind} ...\n`);
  results.push(await measure(kind));
}

const fmt = (n: number): string => n.toLocaleString("en-US", { maximumFractionDigits: 0 });
console.log(
  `${members} member${members === 1 ? "" : "s"}, values ${valueBytes} B, ${totalOps} ops per throughput run, ${inflight} in flight, 1 client process`,
);
console.log("| server | seq put p50 ms | seq put p99 ms | put/s | linearizable get/s |");
console.log("| ------ | -------------: | -------------: | ----: | -----------------: |");
for (const r of results) {
  console.log(
    `| ${r.kind} | ${percentile(r.seqPutMs, 0.5).toFixed(2)} | ${percentile(r.seqPutMs, 0.99).toFixed(2)} | ${fmt(r.putPerSec)} | ${fmt(r.getPerSec)} |`,
  );
}
const [etcd, kvorum] = results as [Result, Result];
console.log(
  `kvorum/etcd: put/s ${(kvorum.putPerSec / etcd.putPerSec).toFixed(2)}, get/s ${(kvorum.getPerSec / etcd.getPerSec).toFixed(2)}, ` +
    `seq put p50 latency ${(percentile(kvorum.seqPutMs, 0.5) / percentile(etcd.seqPutMs, 0.5)).toFixed(2)}`,
);
