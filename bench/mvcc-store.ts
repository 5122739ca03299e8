// Benchmark of the MVCC store on LMDB: load N keys (256-byte values), then measure applied puts/s
// (one request per write transaction, and batched as the apply loop does), point reads/s,
// 1000-key range reads/s, resident memory, and the time to open the store again.
//
//   node --import tsx bench/mvcc-store.ts [--keys 1000000] [--durability sync|lazy] [--dir DIR]
//   node --import tsx bench/mvcc-store.ts --dir DIR --open-only     (open time in a fresh process)
//
// Without --dir a temp dir is used and removed at the end.

import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Command } from "commander";
import { openLmdbBackend, type LmdbBackendOptions } from "../src/mvcc/lmdb-backend.js";
import { MvccStore } from "../src/mvcc/store.js";

const program = new Command()
  .option("--keys <n>", "keys to load", "1000000")
  .option("--durability <mode>", "sync | lazy (LMDB commit flushing)", "sync")
  .option("--dir <dir>", "data directory (default: a temp dir, removed)")
  .option("--open-only", "only time opening the store in --dir and one read (fresh process)")
  .parse();
const opts = program.opts<{ keys: string; durability: string; dir?: string; openOnly?: boolean }>();
const N = Number(opts.keys);
const durability: LmdbBackendOptions["durability"] = opts.durability === "lazy" ? "lazy" : "sync";

const te = new TextEncoder();
const keyOf = (i: number): Uint8Array => te.encode(`/registry/k/${String(i).padStart(10, "0")}`);
const value = new Uint8Array(256).fill(0x61);
const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(0)} MiB`;

function rate(label: string, ops: number, ms: number): void {
  console.log(
    `${label}: ${Math.round((ops / ms) * 1000).toLocaleString("en")} ops/s (${ops} ops in ${ms.toFixed(0)} ms)`,
  );
}

/** Deterministic pseudo-random key indexes. */
function* indexes(count: number, max: number): Generator<number> {
  let x = 12345;
  for (let i = 0; i < count; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    yield x % max;
  }
}

async function timeOpen(dir: string): Promise<void> {
  const t = performance.now();
  const backend = openLmdbBackend(dir, { durability });
  const store = MvccStore.open(backend);
  const rev = store.currentRevision();
  const kv = store.range({ key: keyOf(N - 1) }).kvs[0];
  const ms = performance.now() - t;
  console.log(`open + first read: ${ms.toFixed(1)} ms (revision ${rev}, key found: ${kv !== undefined})`);
  await backend.close();
}

async function main(): Promise<void> {
  if (opts.openOnly === true) {
    if (opts.dir === undefined) throw new Error("--open-only needs --dir");
    await timeOpen(opts.dir);
    return;
  }
  const dir = opts.dir ?? (await fs.mkdtemp(path.join(os.tmpdir(), "kvorum-bench-mvcc-")));
  console.log(
    `node ${process.version}, ${N.toLocaleString("en")} keys, durability ${durability}, dir ${dir}`,
  );
  const backend = openLmdbBackend(dir, { durability });
  const store = MvccStore.open(backend);
  let raftIndex = store.appliedIndex();
  const rss0 = process.memoryUsage().rss;

  // Load: 1000 requests per backend transaction, as an apply loop batching committed entries.
  let t = performance.now();
  const BATCH = 1000;
  for (let i = store.range({ key: keyOf(0), rangeEnd: new Uint8Array([0]), countOnly: true }).count; i < N;) {
    backend.writeTxn(() => {
      for (let j = 0; j < BATCH && i < N; j++, i++) store.put({ key: keyOf(i), value }, ++raftIndex);
    });
  }
  rate("load (1000 puts per write txn)", N, performance.now() - t);
  const loaded = process.memoryUsage();
  console.log(
    `after load: rss ${mb(loaded.rss)} (+${mb(loaded.rss - rss0)}), heapUsed ${mb(loaded.heapUsed)}, db ${mb(backend.sizeBytes())}`,
  );

  // Applied puts, one request per write transaction (each its own commit).
  const single = durability === "sync" ? 300 : 20000;
  t = performance.now();
  for (const i of indexes(single, N)) store.put({ key: keyOf(i), value }, ++raftIndex);
  rate("applied puts, 1 per write txn", single, performance.now() - t);
  // Applied puts, 100 per write transaction.
  const batched = 50000;
  t = performance.now();
  const it = indexes(batched, N);
  for (let b = 0; b < batched / 100; b++) {
    backend.writeTxn(() => {
      for (let j = 0; j < 100; j++) store.put({ key: keyOf(it.next().value as number), value }, ++raftIndex);
    });
  }
  rate("applied puts, 100 per write txn", batched, performance.now() - t);

  // Point reads (linearizable-read path: the latest table).
  const reads = 200000;
  t = performance.now();
  let found = 0;
  for (const i of indexes(reads, N)) found += store.range({ key: keyOf(i) }).kvs.length;
  rate("point reads", reads, performance.now() - t);
  if (found !== reads) throw new Error(`point reads found ${found} of ${reads}`);

  // 1000-key range reads: [k_i, k_{i+1000}).
  const ranges = 500;
  t = performance.now();
  for (const i of indexes(ranges, N - 1000)) {
    const r = store.range({ key: keyOf(i), rangeEnd: keyOf(i + 1000) });
    if (r.kvs.length !== 1000) throw new Error(`range returned ${r.kvs.length}`);
  }
  rate("1000-key range reads", ranges, performance.now() - t);
  // Kubernetes-style page: limit 1000 from a key to the end of the prefix (count scans all).
  const pages = 20;
  t = performance.now();
  for (const i of indexes(pages, N - 1000))
    store.range({ key: keyOf(i), rangeEnd: te.encode("/registry/l"), limit: 1000 });
  rate("limit-1000 page reads with full count", pages, performance.now() - t);
  const after = process.memoryUsage();
  console.log(`after reads: rss ${mb(after.rss)}, heapUsed ${mb(after.heapUsed)}`);

  // Open time: close and reopen, then one read.
  await backend.close();
  await timeOpen(dir);
  if (opts.dir === undefined) await fs.rm(dir, { recursive: true, force: true });
}

await main();
