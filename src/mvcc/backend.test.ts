// Contract tests of the Backend port, run against LMDB and the in-memory twin alike.

import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import type { Backend } from "./backend.js";
import { openLmdbBackend } from "./lmdb-backend.js";
import { BACKEND_KINDS, dec, enc, type TestBackend } from "./test-backends.js";

for (const kind of BACKEND_KINDS) {
  describe(`Backend contract: ${kind.name}`, () => {
    let t: TestBackend;
    let b: Backend;
    before(async () => {
      t = await kind.create();
      b = t.backend;
      b.writeTxn(() => {
        const tbl = b.table("t");
        for (const k of ["a", "b", "ba", "c", "d\u0000", "d"]) tbl.put(enc(k), enc(`v-${k}`));
      });
    });
    after(() => t.cleanup());

    const keys = (rows: Iterable<{ key: Uint8Array }>): string[] => Array.from(rows, (r) => dec(r.key));

    test("get returns stored values and undefined for missing keys", () => {
      const tbl = b.table("t");
      assert.equal(dec(tbl.get(enc("ba"))!), "v-ba");
      assert.equal(tbl.get(enc("zz")), undefined);
      assert.equal(b.table("other").get(enc("a")), undefined);
    });

    test("range is [start, end) in bytewise order, forward and reverse, with limit", () => {
      const tbl = b.table("t");
      assert.deepEqual(keys(tbl.range(undefined, undefined)), ["a", "b", "ba", "c", "d", "d\u0000"]);
      assert.deepEqual(keys(tbl.range(enc("b"), enc("c"))), ["b", "ba"]);
      assert.deepEqual(keys(tbl.range(enc("b"), enc("c"), { reverse: true })), ["ba", "b"]);
      assert.deepEqual(keys(tbl.range(enc("b"), undefined, { reverse: true })), [
        "d\u0000",
        "d",
        "c",
        "ba",
        "b",
      ]);
      assert.deepEqual(keys(tbl.range(undefined, enc("b"), { reverse: true })), ["a"]);
      assert.deepEqual(keys(tbl.range(enc("a"), undefined, { limit: 2 })), ["a", "b"]);
      assert.deepEqual(keys(tbl.range(enc("a"), undefined, { reverse: true, limit: 2 })), ["d\u0000", "d"]);
      assert.deepEqual(keys(tbl.range(enc("c"), enc("b"))), []);
      assert.deepEqual(keys(tbl.range(enc("bb"), enc("bc"))), []);
    });

    test("a reverse range to the first key includes the key 0x00", () => {
      const tbl = b.table("zero");
      b.writeTxn(() => {
        tbl.put(Uint8Array.of(0), enc("zero"));
        tbl.put(Uint8Array.of(0, 0), enc("zero-zero"));
      });
      const hexKeys = (rows: Iterable<{ key: Uint8Array }>) =>
        Array.from(rows, (r) => Buffer.from(r.key).toString("hex"));
      assert.deepEqual(hexKeys(tbl.range(undefined, undefined, { reverse: true })), ["0000", "00"]);
      assert.deepEqual(hexKeys(tbl.range(undefined, Uint8Array.of(0, 0), { reverse: true })), ["00"]);
      assert.deepEqual(hexKeys(tbl.range(undefined, undefined)), ["00", "0000"]);
    });

    test("count matches range without reading values", () => {
      const tbl = b.table("t");
      assert.equal(tbl.count(undefined, undefined), 6);
      assert.equal(tbl.count(enc("b"), enc("c")), 2);
      assert.equal(tbl.count(enc("b"), undefined), 5);
      assert.equal(tbl.count(undefined, enc("b")), 1);
      assert.equal(tbl.count(enc("c"), enc("b")), 0);
      assert.equal(tbl.count(enc("bb"), enc("bc")), 0);
    });

    test("a throwing write transaction leaves no trace, nested calls included", () => {
      const tbl = b.table("t");
      assert.throws(
        () =>
          b.writeTxn(() => {
            tbl.put(enc("x"), enc("1"));
            tbl.put(enc("a"), enc("changed"));
            tbl.del(enc("b"));
            b.writeTxn(() => tbl.put(enc("y"), enc("2")));
            throw new Error("boom");
          }),
        /boom/,
      );
      assert.equal(tbl.get(enc("x")), undefined);
      assert.equal(tbl.get(enc("y")), undefined);
      assert.equal(dec(tbl.get(enc("a"))!), "v-a");
      assert.equal(dec(tbl.get(enc("b"))!), "v-b");
    });

    test("reads inside a transaction see its writes; afterCommit runs after the outer commit only", () => {
      const tbl = b.table("t2");
      const log: string[] = [];
      const result = b.writeTxn(() => {
        tbl.put(enc("k"), enc("v"));
        assert.equal(dec(tbl.get(enc("k"))!), "v");
        assert.deepEqual(keys(tbl.range(undefined, undefined)), ["k"]);
        b.writeTxn(() => b.afterCommit(() => log.push("inner")));
        b.afterCommit(() => log.push("outer"));
        assert.deepEqual(log, []);
        return 42;
      });
      assert.equal(result, 42);
      assert.deepEqual(log, ["inner", "outer"]);
      assert.throws(() =>
        b.writeTxn(() => {
          b.afterCommit(() => log.push("aborted"));
          throw new Error("no");
        }),
      );
      assert.deepEqual(log, ["inner", "outer"]);
      b.afterCommit(() => log.push("now"));
      assert.deepEqual(log, ["inner", "outer", "now"]);
    });

    test("writes during a forward scan do not break the scan", () => {
      const tbl = b.table("t3");
      b.writeTxn(() => {
        for (let i = 0; i < 10; i++) tbl.put(enc(`k${i}`), enc("v"));
      });
      const seen: string[] = [];
      b.writeTxn(() => {
        for (const row of [...tbl.range(undefined, undefined)]) {
          seen.push(dec(row.key));
          tbl.del(row.key);
        }
      });
      assert.equal(seen.length, 10);
      assert.deepEqual(keys(tbl.range(undefined, undefined)), []);
    });

    test("data survives close and reopen; sizeBytes grows with data", async () => {
      const before = b.sizeBytes();
      b.writeTxn(() => {
        const tbl = b.table("big");
        for (let i = 0; i < 200; i++) tbl.put(enc(`key-${i}`), new Uint8Array(1000));
      });
      await b.sync(); // a batched backend's size counts committed batches only
      assert.ok(b.sizeBytes() > before, `${b.sizeBytes()} > ${before}`);
      b = await t.reopen();
      assert.equal(dec(b.table("t").get(enc("c"))!), "v-c");
      assert.equal(Array.from(b.table("big").range(undefined, undefined)).length, 200);
    });
  });
}

/** Runs fn on a fresh batched LMDB backend that records each batch's commit time. */
async function withBatchedLmdb(
  batch: { intervalMs: number; limit: number },
  fn: (b: Backend, committed: number[]) => Promise<void>,
): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "kvorum-batch-"));
  const committed: number[] = [];
  const b = openLmdbBackend(dir, { batch: { ...batch, onCommitted: (s) => committed.push(s) } });
  try {
    await fn(b, committed);
  } finally {
    await b.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

test("the batched LMDB backend commits off the event loop and reports each batch's commit time", () =>
  withBatchedLmdb({ intervalMs: 1, limit: 1000 }, async (b, committed) => {
    b.writeTxn(() => b.table("t").put(enc("k"), enc("v")));
    // Visible before the commit, which happens later on lmdb-js's writer thread.
    assert.equal(dec(b.table("t").get(enc("k"))!), "v");
    assert.equal(committed.length, 0);
    await b.sync();
    assert.equal(committed.length, 1);
    assert.ok((committed[0] as number) >= 0 && (committed[0] as number) < 60);
  }));

test("the batched LMDB backend keeps one batch in flight: writes made meanwhile wait in the next", () =>
  // limit 1: every writeTxn asks for a commit.
  withBatchedLmdb({ intervalMs: 1000, limit: 1 }, async (b, committed) => {
    for (let i = 0; i < 100; i++) b.writeTxn(() => b.table("t").put(enc(`k${i}`), enc(`v${i}`)));
    // The first writeTxn's batch went at once; the other 99 wait for it to commit, as one batch.
    await b.sync();
    assert.equal(committed.length, 2);
    assert.equal(b.table("t").count(undefined, undefined), 100);
    assert.equal(dec(b.table("t").get(enc("k99"))!), "v99");
  }));
