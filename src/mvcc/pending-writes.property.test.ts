// Randomized model test of the batched LMDB backend's pending writes. Random write transactions
// (some of which throw), waits that let batches commit in the background, syncs and reopens run
// against the batched LMDB backend and the in-memory backend alike. After every step, every key's
// get, and ranges with random bounds, direction and limit, and counts must agree: whether a write
// is still pending, in a batch lmdb-js is committing, or committed.
// Replay a failure with KVORUM_SEED=<seed printed in the test name>.

import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import type { Backend } from "./backend.js";
import { openLmdbBackend, type LmdbBackendOptions } from "./lmdb-backend.js";
import { MemoryBackend } from "./memory-backend.js";

const seed = process.env.KVORUM_SEED !== undefined ? Number(process.env.KVORUM_SEED) : Date.now() ^ 0x9e3d;

// Short keys with shared prefixes, zero bytes and 0xff, so order and prefix cases come up often.
const KEYS = [
  [0x61],
  [0x61, 0x00],
  [0x61, 0x62],
  [0x61, 0xff],
  [0x62],
  [0x62, 0x00, 0x01],
  [0xff],
  [0x00],
].map((k) => Uint8Array.from(k));
const TABLES = ["t1", "t2"];

type Write = { table: number; key: number; value: number | null };
type Op =
  | { kind: "txn"; writes: Write[]; throws: boolean }
  | { kind: "wait"; ms: number }
  | { kind: "sync" }
  | { kind: "reopen" };

const write: fc.Arbitrary<Write> = fc.record({
  table: fc.integer({ min: 0, max: TABLES.length - 1 }),
  key: fc.integer({ min: 0, max: KEYS.length - 1 }),
  value: fc.option(fc.integer({ min: 0, max: 99 }), { freq: 3 }),
});
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant("txn" as const),
      writes: fc.array(write, { minLength: 1, maxLength: 5 }),
      throws: fc.integer({ min: 0, max: 9 }).map((n) => n < 2),
    }),
    weight: 8,
  },
  {
    arbitrary: fc.record({ kind: fc.constant("wait" as const), ms: fc.integer({ min: 0, max: 6 }) }),
    weight: 3,
  },
  { arbitrary: fc.record({ kind: fc.constant("sync" as const) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant("reopen" as const) }), weight: 1 },
);
const bound = fc.option(fc.integer({ min: 0, max: KEYS.length - 1 }), { freq: 3 });
const scan = fc.record({
  start: bound,
  end: bound,
  reverse: fc.boolean(),
  limit: fc.integer({ min: 0, max: 4 }),
});
type Scan = { start: number | null; end: number | null; reverse: boolean; limit: number };

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

function applyTxn(b: Backend, o: Extract<Op, { kind: "txn" }>): void {
  try {
    b.writeTxn(() => {
      for (const w of o.writes) {
        const t = b.table(TABLES[w.table] as string);
        const key = KEYS[w.key] as Uint8Array;
        if (w.value === null) t.del(key);
        else t.put(key, Uint8Array.of(w.value));
        // Reads inside the transaction see its own writes.
        const seen = t.get(key);
        assert.deepEqual(seen === undefined ? null : Array.from(seen), w.value === null ? null : [w.value]);
      }
      if (o.throws) throw new Error("rolled back");
    });
  } catch (e) {
    if (!(e instanceof Error) || e.message !== "rolled back") throw e;
  }
}

function agree(lmdb: Backend, model: Backend, scans: Scan[]): void {
  for (const name of TABLES) {
    const a = lmdb.table(name);
    const m = model.table(name);
    for (const key of KEYS) {
      const x = a.get(key);
      const y = m.get(key);
      assert.equal(x === undefined ? "-" : hex(x), y === undefined ? "-" : hex(y), `get ${name} ${hex(key)}`);
    }
    for (const s of scans) {
      const start = s.start === null ? undefined : KEYS[s.start];
      const end = s.end === null ? undefined : KEYS[s.end];
      const opts = { reverse: s.reverse, limit: s.limit };
      const rows = (b: typeof a) =>
        Array.from(b.range(start, end, opts), (r) => `${hex(r.key)}=${hex(r.value)}`);
      assert.deepEqual(rows(a), rows(m), `range ${name} ${JSON.stringify(s)}`);
      assert.equal(a.count(start, end), m.count(start, end), `count ${name} ${JSON.stringify(s)}`);
    }
  }
}

test(`the batched LMDB backend reads like the in-memory backend while batches commit (seed ${seed})`, async () => {
  const opts: LmdbBackendOptions = { durability: "lazy", batch: { intervalMs: 2, limit: 3 } };
  await fc.assert(
    fc.asyncProperty(
      fc.array(op, { minLength: 1, maxLength: 40 }),
      fc.array(scan, { minLength: 3, maxLength: 3 }),
      async (ops, scans) => {
        const dir = await fs.mkdtemp(path.join(os.tmpdir(), "kvorum-pending-"));
        let lmdb = openLmdbBackend(dir, opts);
        const model = new MemoryBackend();
        try {
          for (const o of ops) {
            if (o.kind === "txn") {
              applyTxn(lmdb, o);
              applyTxn(model, o);
            } else if (o.kind === "wait") {
              await new Promise((r) => setTimeout(r, o.ms));
            } else if (o.kind === "sync") {
              await lmdb.sync();
            } else {
              await lmdb.close();
              lmdb = openLmdbBackend(dir, opts);
            }
            try {
              agree(lmdb, model, scans);
            } catch (e) {
              // fast-check reports the counterexample; this says which step and what disagreed.
              throw new Error(`after step ${ops.indexOf(o)} (${o.kind}): ${(e as Error).message}`, {
                cause: e,
              });
            }
          }
        } finally {
          await lmdb.close();
          await fs.rm(dir, { recursive: true, force: true });
        }
      },
    ),
    { seed, numRuns: 60 },
  );
});
