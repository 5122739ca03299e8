// WAL benchmark: durable appends per second and MB/s with 1, 16 and 256 concurrent writers of
// 256-byte entries, beside this disk's raw limit measured in the same run (a loop of 4 KiB write +
// fdatasync into a preallocated file).
// Run: npm run build && node dist/bench/storage-wal.js [--seconds 3] [--writers 1,16,256]
//  or: node --import tsx bench/storage-wal.ts

import { mkdir, mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { zeroFill } from "../src/storage/fs-util.js";
import { DurableLogStore, storagePaths } from "../src/storage/raft-log-store.js";
import { Wal } from "../src/storage/wal.js";
import { RecordType, recordSize, type WalRecord } from "../src/storage/wal-record.js";
import { EntryType } from "../src/raft/types.js";

const opts = new Command()
  .option("--seconds <n>", "duration of each measurement", Number, 3)
  .option("--writers <list>", "comma-separated writer counts", "1,16,256")
  .option("--entry-bytes <n>", "entry payload size", Number, 256)
  .option("--dir <dir>", "directory on the disk to measure (default: the OS temp dir)")
  .option(
    "--recovery-entries <n>",
    "entries to write for the recovery measurement (0: skip)",
    Number,
    200_000,
  )
  .parse(process.argv)
  .opts<{ seconds: number; writers: string; entryBytes: number; dir?: string; recoveryEntries: number }>();

const base = await mkdtemp(join(opts.dir ?? tmpdir(), "kvorum-bench-wal-"));

async function rawFdatasyncRate(seconds: number): Promise<number> {
  const fh = await open(join(base, "raw.dat"), "w+");
  const size = 64 * 1024 * 1024;
  await zeroFill(fh, size);
  const block = Buffer.alloc(4096, 0xab);
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    await fh.write(block, 0, block.length, (n * 4096) % size);
    await fh.datasync();
    n++;
  }
  const rate = n / ((performance.now() - start) / 1000);
  await fh.close();
  return rate;
}

interface WalResult {
  writers: number;
  entriesPerSec: number;
  mbPerSec: number;
  p50ms: number;
  p99ms: number;
}

async function walRate(writers: number, seconds: number): Promise<WalResult> {
  const dir = join(base, `wal-${writers}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const wal = await Wal.create(dir, { voters: ["n1"], learners: [] });
  const data = new Uint8Array(opts.entryBytes).fill(0x5a);
  let next = 1;
  let bytes = 0;
  const latencies: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  const writer = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const rec: WalRecord = {
        type: RecordType.Entry,
        entry: { index: next++, term: 1, type: EntryType.Normal, data },
      };
      const t0 = performance.now();
      await wal.append([rec]);
      latencies.push(performance.now() - t0);
      bytes += recordSize(rec);
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: writers }, writer));
  const elapsed = (performance.now() - start) / 1000;
  await wal.close();
  await rm(dir, { recursive: true, force: true });
  latencies.sort((a, b) => a - b);
  const pct = (p: number): number =>
    latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]!;
  return {
    writers,
    entriesPerSec: latencies.length / elapsed,
    mbPerSec: bytes / elapsed / 1e6,
    p50ms: pct(0.5),
    p99ms: pct(0.99),
  };
}

/** Time DurableLogStore.open (scan, checksum, replay) over a WAL of `count` entries. */
async function recoveryRate(count: number): Promise<{ seconds: number; mb: number }> {
  const dataDir = join(base, "recovery");
  const { walDir } = storagePaths(dataDir);
  await mkdir(walDir, { recursive: true });
  const wal = await Wal.create(walDir, { voters: ["n1"], learners: [] });
  const data = new Uint8Array(opts.entryBytes).fill(0x5a);
  let mb = 0;
  for (let i = 1; i <= count; i += 1000) {
    const batch: WalRecord[] = [];
    for (let j = i; j < Math.min(i + 1000, count + 1); j++) {
      batch.push({ type: RecordType.Entry, entry: { index: j, term: 1, type: EntryType.Normal, data } });
    }
    for (const r of batch) mb += recordSize(r) / 1e6;
    await wal.append(batch);
  }
  await wal.close();
  const start = performance.now();
  const store = await DurableLogStore.open(dataDir);
  const seconds = (performance.now() - start) / 1000;
  if (store.lastIndex() !== count) throw new Error(`recovered ${store.lastIndex()} of ${count} entries`);
  await store.close();
  return { seconds, mb };
}

try {
  console.log(`storage-wal bench: ${opts.entryBytes}-byte entries, ${opts.seconds}s per run, dir ${base}`);
  const raw = await rawFdatasyncRate(opts.seconds);
  console.log(`raw disk: ${raw.toFixed(0)} x (4 KiB write + fdatasync) per second`);
  console.log("writers  entries/s   MB/s   x raw   p50 ms   p99 ms");
  for (const w of opts.writers.split(",").map(Number)) {
    const r = await walRate(w, opts.seconds);
    console.log(
      `${String(w).padStart(7)}  ${r.entriesPerSec.toFixed(0).padStart(9)}  ${r.mbPerSec.toFixed(2).padStart(5)}` +
        `  ${(r.entriesPerSec / raw).toFixed(1).padStart(6)}  ${r.p50ms.toFixed(2).padStart(7)}  ${r.p99ms.toFixed(2).padStart(7)}`,
    );
  }
  if (opts.recoveryEntries > 0) {
    const r = await recoveryRate(opts.recoveryEntries);
    console.log(
      `recovery: ${opts.recoveryEntries} entries (${r.mb.toFixed(1)} MB) in ${r.seconds.toFixed(2)} s` +
        ` = ${(opts.recoveryEntries / r.seconds).toFixed(0)} entries/s`,
    );
  }
} finally {
  await rm(base, { recursive: true, force: true });
}
