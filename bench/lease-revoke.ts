// Benchmark: applying lease revocations on the real MVCC store (one revision per lease, every
// attached key deleted), on LMDB in a temp dir or in memory, with each revocation in its own
// write transaction as the apply loop would run it.
// Run: node --import tsx bench/lease-revoke.ts [lmdb|lmdb-lazy|memory] [leases=2000] [keysPerLease=10]

import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { MemoryBackend, MvccStore, openLmdbBackend, type Backend } from "../src/mvcc/index.js";
import { BackendLeaseStore, grantLease, Lessor, ManualClock, revokeLease } from "../src/lease/index.js";

const kind = process.argv[2] ?? "lmdb";
const leaseCount = Number(process.argv[3] ?? 2_000);
const keysPerLease = Number(process.argv[4] ?? 10);

const dir = await fs.mkdtemp(path.join(os.tmpdir(), "kvorum-lease-bench-"));
const backend: Backend =
  kind === "memory"
    ? new MemoryBackend()
    : openLmdbBackend(dir, { durability: kind === "lmdb-lazy" ? "lazy" : "sync" });
try {
  const lessor = new Lessor({ store: new BackendLeaseStore(backend), clock: new ManualClock(0) });
  const store = MvccStore.open(backend, { leases: lessor, maxTxnOps: Number.MAX_SAFE_INTEGER });
  let index = 0;
  const value = new Uint8Array(64);
  for (let l = 1; l <= leaseCount; l++) {
    backend.writeTxn(() => {
      grantLease(backend, store, lessor, BigInt(l), 60, ++index);
      for (let i = 0; i < keysPerLease; i++) {
        store.put(
          { key: new TextEncoder().encode(`/lease/${l}/key/${i}`), value, lease: BigInt(l) },
          ++index,
        );
      }
    });
  }
  const before = store.currentRevision();
  const t = performance.now();
  for (let l = 1; l <= leaseCount; l++) revokeLease(backend, store, lessor, BigInt(l), ++index);
  const ms = performance.now() - t;
  if (store.currentRevision() !== before + leaseCount) throw new Error("expected one revision per lease");
  const perSec = Math.round((leaseCount / ms) * 1000).toLocaleString("en");
  console.log(
    `${kind}: ${leaseCount} revocations x ${keysPerLease} keys in ${ms.toFixed(0)} ms = ${perSec} revocations/s`,
  );
} finally {
  await backend.close();
  await fs.rm(dir, { recursive: true, force: true });
}
