// Unit tests of MvccStore: every Range option, every Put/DeleteRange/Txn rule and error, compaction,
// hashes, event reads, leases, applied index and restart — on both backends.

import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import { Errors } from "./errors.js";
import { MvccStore, type LeaseRegistry, type MvccStoreOptions } from "./store.js";
import { MemoryBackend } from "./memory-backend.js";
import { TABLES } from "./schema.js";
import { BACKEND_KINDS, dec, enc, type TestBackend } from "./test-backends.js";
import {
  CompareResult as R,
  CompareTarget as T,
  EventType,
  SortOrder,
  SortTarget,
  type Compare,
  type KeyValue,
  type MvccEvent,
  type RequestOp,
} from "./types.js";

const ZERO = new Uint8Array([0]);
const keysOf = (kvs: KeyValue[]): string[] => kvs.map((kv) => dec(kv.key));
const err = (make: () => Error) => (e: unknown) => e instanceof Error && e.message === make().message;
const put = (k: string, v = "v", extra: object = {}): RequestOp => ({
  requestPut: { key: enc(k), value: enc(v), ...extra },
});
const del = (k: string, end?: Uint8Array | string): RequestOp => ({
  requestDeleteRange: {
    key: enc(k),
    ...(end !== undefined ? { rangeEnd: typeof end === "string" ? enc(end) : end } : {}),
  },
});
const get = (k: string): RequestOp => ({ requestRange: { key: enc(k) } });
const txn = (success: RequestOp[], failure: RequestOp[] = [], compare: Compare[] = []): RequestOp => ({
  requestTxn: { compare, success, failure },
});

class FakeLeases implements LeaseRegistry {
  readonly log: string[] = [];
  constructor(readonly ids: Set<bigint>) {}
  exists(id: bigint): boolean {
    return this.ids.has(id);
  }
  attach(id: bigint, key: Uint8Array): void {
    this.log.push(`attach ${id} ${dec(key)}`);
  }
  detach(id: bigint, key: Uint8Array): void {
    this.log.push(`detach ${id} ${dec(key)}`);
  }
}

for (const kind of BACKEND_KINDS) {
  describe(`MvccStore on ${kind.name}`, () => {
    let t: TestBackend;
    let s: MvccStore;
    const open = (opts: MvccStoreOptions = {}): MvccStore => (s = MvccStore.open(t.backend, opts));
    beforeEach(async () => {
      t = await kind.create();
      open();
    });
    afterEach(() => t.cleanup());

    /** a@2 b@3 c@4, then a@5 (a: create 2, version 2), ab@6, d@7 deleted@8 */
    function seed(): void {
      for (const [k, v] of [
        ["a", "1"],
        ["b", "2"],
        ["c", "3"],
        ["a", "4"],
        ["ab", "5"],
        ["d", "6"],
      ] as const) {
        s.put({ key: enc(k), value: enc(v) });
      }
      s.deleteRange({ key: enc("d") });
    }

    describe("revisions", () => {
      test("a new store is at revision 1; each write raises it by one; reads and no-op deletes do not", () => {
        assert.equal(s.currentRevision(), 1);
        assert.equal(s.put({ key: enc("a"), value: enc("1") }).header.revision, 2);
        assert.equal(s.range({ key: enc("a") }).header.revision, 2);
        assert.equal(s.deleteRange({ key: enc("zz") }).header.revision, 2);
        assert.equal(s.txn({ compare: [], success: [get("a")], failure: [] }).header.revision, 2);
        assert.equal(
          s.txn({ compare: [], success: [put("x"), put("y"), del("a")], failure: [] }).header.revision,
          3,
        );
        assert.equal(s.currentRevision(), 3);
      });

      test("create revision, mod revision and version per key; a deleted key restarts at version 1", () => {
        seed();
        const a = s.range({ key: enc("a") }).kvs[0]!;
        assert.deepEqual([a.createRevision, a.modRevision, a.version, dec(a.value)], [2, 5, 2, "4"]);
        s.deleteRange({ key: enc("a") });
        s.put({ key: enc("a"), value: enc("new") });
        const again = s.range({ key: enc("a") }).kvs[0]!;
        assert.deepEqual([again.createRevision, again.modRevision, again.version], [10, 10, 1]);
      });
    });

    describe("Range", () => {
      beforeEach(seed);

      test("range_end forms: one key, prefix, all from key, everything, empty interval", () => {
        assert.deepEqual(keysOf(s.range({ key: enc("a") }).kvs), ["a"]);
        assert.deepEqual(keysOf(s.range({ key: enc("a"), rangeEnd: enc("b") }).kvs), ["a", "ab"]);
        assert.deepEqual(keysOf(s.range({ key: enc("ab"), rangeEnd: ZERO }).kvs), ["ab", "b", "c"]);
        assert.deepEqual(keysOf(s.range({ key: ZERO, rangeEnd: ZERO }).kvs), ["a", "ab", "b", "c"]);
        assert.deepEqual(s.range({ key: enc("c"), rangeEnd: enc("a") }), {
          header: { revision: 8 },
          kvs: [],
          more: false,
          count: 0,
        });
        assert.deepEqual(s.range({ key: enc("d") }).kvs, []);
      });

      test("limit cuts and sets more; count is every key in range", () => {
        const r = s.range({ key: enc("a"), rangeEnd: ZERO, limit: 2 });
        assert.deepEqual([keysOf(r.kvs), r.more, r.count], [["a", "ab"], true, 4]);
        const all = s.range({ key: enc("a"), rangeEnd: ZERO, limit: 4 });
        assert.deepEqual([all.kvs.length, all.more, all.count], [4, false, 4]);
      });

      test("revision reads the past; header keeps the current revision", () => {
        const r = s.range({ key: enc("a"), rangeEnd: ZERO, revision: 4 });
        assert.deepEqual(keysOf(r.kvs), ["a", "b", "c"]);
        assert.equal(dec(r.kvs[0]!.value), "1");
        assert.equal(r.header.revision, 8);
        assert.deepEqual(keysOf(s.range({ key: enc("d"), revision: 7 }).kvs), ["d"]);
        assert.deepEqual(keysOf(s.range({ key: enc("d"), revision: 8 }).kvs), []);
        assert.deepEqual(s.range({ key: enc("a"), revision: 1 }).kvs, []);
        assert.equal(s.range({ key: enc("a"), rangeEnd: ZERO, revision: 3, countOnly: true }).count, 2);
      });

      test("future and compacted revisions fail; the compaction revision itself is readable", () => {
        assert.throws(() => s.range({ key: enc("a"), revision: 9 }), err(Errors.futureRevision));
        s.compact(5);
        assert.throws(() => s.range({ key: enc("a"), revision: 4 }), err(Errors.compacted));
        assert.equal(dec(s.range({ key: enc("a"), revision: 5 }).kvs[0]!.value), "4");
        assert.deepEqual(keysOf(s.range({ key: enc("a"), rangeEnd: ZERO, revision: 5 }).kvs), [
          "a",
          "b",
          "c",
        ]);
      });

      test("sort targets and orders; a non-key target with order NONE sorts ascending", () => {
        const sorted = (sortTarget: SortTarget, sortOrder: SortOrder) =>
          keysOf(s.range({ key: enc("a"), rangeEnd: ZERO, sortTarget, sortOrder }).kvs);
        assert.deepEqual(sorted(SortTarget.KEY, SortOrder.DESCEND), ["c", "b", "ab", "a"]);
        assert.deepEqual(sorted(SortTarget.KEY, SortOrder.NONE), ["a", "ab", "b", "c"]);
        assert.deepEqual(sorted(SortTarget.MOD, SortOrder.NONE), ["b", "c", "a", "ab"]);
        assert.deepEqual(sorted(SortTarget.MOD, SortOrder.DESCEND), ["ab", "a", "c", "b"]);
        assert.deepEqual(sorted(SortTarget.CREATE, SortOrder.ASCEND), ["a", "b", "c", "ab"]);
        assert.deepEqual(sorted(SortTarget.VERSION, SortOrder.DESCEND), ["a", "ab", "b", "c"]);
        assert.deepEqual(sorted(SortTarget.VALUE, SortOrder.DESCEND), ["ab", "a", "c", "b"]);
        const top = s.range({
          key: enc("a"),
          rangeEnd: ZERO,
          sortTarget: SortTarget.MOD,
          sortOrder: SortOrder.DESCEND,
          limit: 1,
        });
        assert.deepEqual([keysOf(top.kvs), top.more, top.count], [["ab"], true, 4]);
      });

      test("like etcd 3.4: a non-key target with order NONE sorts only the limit + 1 keys fetched", () => {
        // key order: a(mod 5) ab(6) b(3) c(4); limit 1 fetches a, ab and sorts those by mod
        const r = s.range({ key: enc("a"), rangeEnd: ZERO, sortTarget: SortTarget.MOD, limit: 1 });
        assert.deepEqual([keysOf(r.kvs), r.more], [["a"], true]);
        const asc = s.range({
          key: enc("a"),
          rangeEnd: ZERO,
          sortTarget: SortTarget.MOD,
          sortOrder: SortOrder.ASCEND,
          limit: 1,
        });
        assert.deepEqual(keysOf(asc.kvs), ["b"]);
      });

      test("keys_only with sort by value sorts on the values, then drops them", () => {
        const r = s.range({
          key: enc("a"),
          rangeEnd: ZERO,
          keysOnly: true,
          sortTarget: SortTarget.VALUE,
          sortOrder: SortOrder.DESCEND,
        });
        assert.deepEqual(keysOf(r.kvs), ["ab", "a", "c", "b"]);
        assert.ok(r.kvs.every((kv) => kv.value.length === 0));
      });

      test("keys_only drops values; count_only returns only the count", () => {
        const k = s.range({ key: enc("a"), rangeEnd: ZERO, keysOnly: true });
        assert.deepEqual(keysOf(k.kvs), ["a", "ab", "b", "c"]);
        assert.ok(k.kvs.every((kv) => kv.value.length === 0 && kv.version > 0));
        assert.deepEqual(s.range({ key: enc("a"), rangeEnd: ZERO, countOnly: true, limit: 1 }), {
          header: { revision: 8 },
          kvs: [],
          more: false,
          count: 4,
        });
      });

      test("min/max mod and create revision filters; count ignores them", () => {
        const r = (o: object) => s.range({ key: enc("a"), rangeEnd: ZERO, ...o });
        assert.deepEqual(keysOf(r({ minModRevision: 5 }).kvs), ["a", "ab"]);
        assert.deepEqual(keysOf(r({ maxModRevision: 4 }).kvs), ["b", "c"]);
        assert.deepEqual(keysOf(r({ minCreateRevision: 3, maxCreateRevision: 4 }).kvs), ["b", "c"]);
        const lim = r({ maxCreateRevision: 4, limit: 2 });
        assert.deepEqual([keysOf(lim.kvs), lim.more, lim.count], [["a", "b"], true, 4]);
      });

      test("an empty key is rejected", () => {
        assert.throws(() => s.range({ key: new Uint8Array() }), err(Errors.emptyKey));
      });
    });

    describe("Put and DeleteRange", () => {
      test("prev_kv returns the previous pair only when asked and present", () => {
        assert.equal(s.put({ key: enc("k"), value: enc("1"), prevKv: true }).prevKv, undefined);
        const r = s.put({ key: enc("k"), value: enc("2"), prevKv: true });
        assert.equal(dec(r.prevKv!.value), "1");
        assert.equal(s.put({ key: enc("k"), value: enc("3") }).prevKv, undefined);
      });

      test("ignore_value and ignore_lease keep the old value and lease; their errors", () => {
        const leases = new FakeLeases(new Set([7n]));
        open({ leases });
        s.put({ key: enc("k"), value: enc("v1"), lease: 7n });
        s.put({ key: enc("k"), value: new Uint8Array(), ignoreValue: true });
        let kv = s.range({ key: enc("k") }).kvs[0]!;
        assert.deepEqual([dec(kv.value), kv.lease, kv.version], ["v1", 0n, 2]);
        s.put({ key: enc("k"), value: enc("v2"), lease: 7n });
        s.put({ key: enc("k"), value: enc("v3"), ignoreLease: true });
        kv = s.range({ key: enc("k") }).kvs[0]!;
        assert.deepEqual([dec(kv.value), kv.lease], ["v3", 7n]);
        assert.throws(
          () => s.put({ key: enc("k"), value: enc("x"), ignoreValue: true }),
          err(Errors.valueProvided),
        );
        assert.throws(
          () => s.put({ key: enc("k"), value: enc("x"), ignoreLease: true, lease: 7n }),
          err(Errors.leaseProvided),
        );
        assert.throws(
          () => s.put({ key: enc("nope"), value: new Uint8Array(), ignoreValue: true }),
          err(Errors.keyNotFound),
        );
        assert.throws(
          () => s.put({ key: enc("nope"), value: enc("x"), ignoreLease: true }),
          err(Errors.keyNotFound),
        );
        assert.throws(() => s.put({ key: new Uint8Array(), value: enc("x") }), err(Errors.emptyKey));
        s.put({ key: new Uint8Array(1968).fill(0x61), value: enc("x") });
        assert.throws(
          () => s.put({ key: new Uint8Array(1969).fill(0x61), value: enc("x") }),
          err(Errors.requestTooLarge),
        );
        assert.throws(
          () => s.put({ key: new Uint8Array(1000), value: enc("x") }),
          err(Errors.requestTooLarge),
        );
      });

      test("unknown leases are rejected (always, without a registry) and leave no trace", () => {
        assert.throws(() => s.put({ key: enc("k"), value: enc("v"), lease: 1n }), err(Errors.leaseNotFound));
        open({ leases: new FakeLeases(new Set([1n])) });
        assert.throws(() => s.put({ key: enc("k"), value: enc("v"), lease: 2n }), err(Errors.leaseNotFound));
        assert.equal(s.currentRevision(), 1);
        assert.deepEqual(s.range({ key: enc("k") }).kvs, []);
      });

      test("DeleteRange counts deleted keys, returns prev_kvs when asked, and deletes a range", () => {
        seed();
        const r = s.deleteRange({ key: enc("a"), rangeEnd: enc("b"), prevKv: true });
        assert.deepEqual([r.deleted, keysOf(r.prevKvs), r.header.revision], [2, ["a", "ab"], 9]);
        const r2 = s.deleteRange({ key: enc("b"), rangeEnd: ZERO });
        assert.deepEqual([r2.deleted, r2.prevKvs, r2.header.revision], [2, [], 10]);
        assert.equal(s.range({ key: ZERO, rangeEnd: ZERO }).count, 0);
        assert.throws(() => s.deleteRange({ key: new Uint8Array() }), err(Errors.emptyKey));
      });
    });

    describe("Txn", () => {
      beforeEach(seed);
      const c = (
        key: string,
        target: T,
        result: R,
        field: Partial<Compare>,
        rangeEnd?: Uint8Array,
      ): Compare => ({
        key: enc(key),
        target,
        result,
        ...field,
        ...(rangeEnd !== undefined ? { rangeEnd } : {}),
      });
      const holds = (...compare: Compare[]): boolean =>
        s.txn({ compare, success: [], failure: [] }).succeeded;

      test("every compare target and result", () => {
        assert.ok(holds(c("a", T.VERSION, R.EQUAL, { version: 2 })));
        assert.ok(holds(c("a", T.VERSION, R.GREATER, { version: 1 })));
        assert.ok(holds(c("a", T.CREATE, R.LESS, { createRevision: 3 })));
        assert.ok(holds(c("a", T.MOD, R.NOT_EQUAL, { modRevision: 2 })));
        assert.ok(holds(c("a", T.VALUE, R.EQUAL, { value: enc("4") })));
        assert.ok(holds(c("a", T.VALUE, R.GREATER, { value: enc("3") })));
        assert.ok(holds(c("a", T.LEASE, R.EQUAL, { lease: 0n })));
        assert.ok(!holds(c("a", T.MOD, R.EQUAL, { modRevision: 4 })));
        assert.ok(
          !holds(c("a", T.VERSION, R.EQUAL, { version: 2 }), c("b", T.VERSION, R.EQUAL, { version: 2 })),
        );
      });

      test("a missing key compares as zero, except VALUE which is false", () => {
        assert.ok(holds(c("zz", T.CREATE, R.EQUAL, { createRevision: 0 })));
        assert.ok(holds(c("zz", T.VERSION, R.EQUAL, { version: 0 })));
        assert.ok(holds(c("d", T.MOD, R.EQUAL, { modRevision: 0 })));
        assert.ok(!holds(c("zz", T.VALUE, R.EQUAL, { value: new Uint8Array() })));
        assert.ok(!holds(c("zz", T.VALUE, R.NOT_EQUAL, { value: enc("x") })));
      });

      test("range compares require every key in range to match", () => {
        assert.ok(holds(c("a", T.CREATE, R.LESS, { createRevision: 7 }, enc("c"))));
        assert.ok(!holds(c("a", T.CREATE, R.LESS, { createRevision: 3 }, enc("c"))));
        assert.ok(holds(c("a", T.MOD, R.GREATER, { modRevision: 1 }, ZERO)));
        assert.ok(holds(c("x", T.VERSION, R.EQUAL, { version: 0 }, enc("z"))));
      });

      test("ops run in order in one revision; reads see earlier writes; headers", () => {
        const r = s.txn({
          compare: [c("a", T.VERSION, R.EQUAL, { version: 2 })],
          success: [get("n"), put("n", "x"), get("n"), del("b")],
          failure: [],
        });
        assert.ok(r.succeeded);
        assert.equal(r.header.revision, 9);
        const [r0, r1, r2, r3] = r.responses as [
          { responseRange: { kvs: KeyValue[]; header: { revision: number } } },
          { responsePut: { header: { revision: number } } },
          { responseRange: { kvs: KeyValue[]; header: { revision: number } } },
          { responseDeleteRange: { deleted: number } },
        ];
        assert.deepEqual([r0.responseRange.kvs.length, r0.responseRange.header.revision], [0, 8]);
        assert.equal(r1.responsePut.header.revision, 9);
        assert.deepEqual([keysOf(r2.responseRange.kvs), r2.responseRange.header.revision], [["n"], 9]);
        assert.equal(r3.responseDeleteRange.deleted, 1);
        const n = s.range({ key: enc("n") }).kvs[0]!;
        assert.equal(n.modRevision, 9);
      });

      test("failure branch and nested txns (nested compares see the state before the txn)", () => {
        const r = s.txn({
          compare: [c("a", T.VERSION, R.EQUAL, { version: 99 })],
          success: [put("never")],
          failure: [
            put("zz", "1"),
            txn([put("inner-then")], [put("inner-else")], [c("zz", T.VERSION, R.EQUAL, { version: 0 })]),
          ],
        });
        assert.ok(!r.succeeded);
        const nested = (r.responses[1] as { responseTxn: { succeeded: boolean } }).responseTxn;
        assert.ok(nested.succeeded);
        assert.deepEqual(keysOf(s.range({ key: enc("i"), rangeEnd: enc("j") }).kvs), ["inner-then"]);
        assert.deepEqual(s.range({ key: enc("never") }).kvs, []);
      });

      test("duplicate key rules", () => {
        const dup = (success: RequestOp[]) =>
          assert.throws(() => s.txn({ compare: [], success, failure: [] }), err(Errors.duplicateKey));
        const ok = (success: RequestOp[]) =>
          assert.ok(s.txn({ compare: [], success, failure: [] }).succeeded);
        dup([put("k"), put("k")]);
        dup([put("k"), del("k")]);
        dup([del("a", "z"), put("k")]);
        dup([put("k"), txn([put("k")])]);
        dup([txn([put("k")]), txn([], [put("k")])]);
        dup([del("k"), txn([put("k")])]);
        dup([txn([del("j", "l")]), put("k")]);
        assert.throws(
          () => s.txn({ compare: [], success: [], failure: [put("k"), put("k")] }),
          err(Errors.duplicateKey),
        );
        ok([txn([put("k")], [put("k")])]); // one of the two branches runs
        ok([del("k"), del("k"), get("k"), put("j")]);
        ok([put("k"), del("k", ZERO)]); // etcd 3.4 takes range_end "\0" literally in this check
        assert.deepEqual(s.range({ key: enc("k") }).kvs, []);
        ok([put("a"), put("b")]);
        assert.ok(s.txn({ compare: [], success: [put("x")], failure: [put("x")] }).succeeded);
      });

      test("op count limit, nested budget, and per-op checks", () => {
        open({ maxTxnOps: 3 });
        const many = (n: number) => Array.from({ length: n }, (_, i) => put(`m${i}`));
        assert.throws(() => s.txn({ compare: [], success: many(4), failure: [] }), err(Errors.tooManyTxnOps));
        assert.throws(() => s.txn({ compare: [], success: [], failure: many(4) }), err(Errors.tooManyTxnOps));
        const cmp = c("a", T.VERSION, R.EQUAL, { version: 2 });
        assert.throws(
          () => s.txn({ compare: [cmp, cmp, cmp, cmp], success: [], failure: [] }),
          err(Errors.tooManyTxnOps),
        );
        assert.ok(s.txn({ compare: [], success: many(3), failure: [] }).succeeded);
        // the nested txn gets maxTxnOps - 2 = 1
        assert.throws(
          () => s.txn({ compare: [], success: [put("p"), txn(many(2))], failure: [] }),
          err(Errors.tooManyTxnOps),
        );
        assert.ok(s.txn({ compare: [], success: [put("p"), txn([put("q")])], failure: [] }).succeeded);
        assert.throws(
          () => s.txn({ compare: [{ ...cmp, key: new Uint8Array() }], success: [], failure: [] }),
          err(Errors.emptyKey),
        );
        assert.throws(() => s.txn({ compare: [], success: [get("")], failure: [] }), err(Errors.emptyKey));
        assert.throws(
          () => s.txn({ compare: [], success: [put("x", "v", { ignoreValue: true })], failure: [] }),
          err(Errors.valueProvided),
        );
      });

      test("checks on the chosen branch: revisions, leases, missing keys; no partial effects", () => {
        const rev = s.currentRevision();
        const bad = (success: RequestOp[], e: () => Error) =>
          assert.throws(
            () => s.txn({ compare: [], success: [put("first"), ...success], failure: [] }),
            err(e),
          );
        bad([{ requestRange: { key: enc("a"), revision: 99 } }], Errors.futureRevision);
        bad([put("x", "v", { lease: 5n })], Errors.leaseNotFound);
        bad([put("x", "", { ignoreValue: true })], Errors.keyNotFound);
        bad([txn([put("x", "", { ignoreLease: true })])], Errors.keyNotFound);
        s.compact(4);
        bad([{ requestRange: { key: enc("a"), revision: 3 } }], Errors.compacted);
        // the failing op is in the branch that does not run: fine
        assert.ok(
          !s.txn({
            compare: [c("a", T.VERSION, R.EQUAL, { version: 9 })],
            success: [put("x", "v", { lease: 5n })],
            failure: [],
          }).succeeded,
        );
        assert.equal(s.currentRevision(), rev);
        assert.deepEqual(s.range({ key: enc("first") }).kvs, []);
      });
    });

    describe("compaction and hashes", () => {
      beforeEach(seed);

      test("compact errors: at or below the compaction point, and future", () => {
        assert.throws(() => s.compact(9), err(Errors.futureRevision));
        assert.equal(s.compact(5).header.revision, 8);
        assert.equal(s.compactRevision(), 5);
        assert.throws(() => s.compact(5), err(Errors.compacted));
        assert.throws(() => s.compact(4), err(Errors.compacted));
        assert.equal(s.currentRevision(), 8);
      });

      test("compaction removes superseded changes and tombstones, keeps what later reads need", () => {
        const rows = () => Array.from(t.backend.table(TABLES.revisions).range(undefined, undefined)).length;
        assert.equal(rows(), 7);
        s.compact(8); // will drop a@2 (superseded by a@5), d@7 and its tombstone d@8
        assert.ok(s.compactionPending());
        assert.equal(rows(), 7, "physical compaction waits for compactionStep");
        assert.deepEqual(keysOf(s.range({ key: ZERO, rangeEnd: ZERO, revision: 8 }).kvs), [
          "a",
          "ab",
          "b",
          "c",
        ]);
        let steps = 0;
        while (s.compactionStep(2)) steps++;
        assert.equal(steps, 3); // 7 changes, 2 per step: 4 steps, the last reports done
        assert.ok(!s.compactionPending());
        assert.equal(rows(), 4);
        assert.deepEqual(keysOf(s.range({ key: ZERO, rangeEnd: ZERO, revision: 8 }).kvs), [
          "a",
          "ab",
          "b",
          "c",
        ]);
        s.put({ key: enc("b"), value: enc("new") });
        s.compact(9); // drops b@3
        s.finishCompaction();
        assert.equal(rows(), 4);
        assert.equal(Array.from(t.backend.table(TABLES.history).range(undefined, undefined)).length, 4);
      });

      test("a pending compaction survives a restart, is finished by the next compact, and by hashing", async () => {
        const full = MvccStore.open(new MemoryBackend());
        for (const [k, v] of [
          ["a", "1"],
          ["b", "2"],
          ["c", "3"],
          ["a", "4"],
          ["ab", "5"],
          ["d", "6"],
        ] as const) {
          full.put({ key: enc(k), value: enc(v) });
        }
        full.deleteRange({ key: enc("d") });
        full.compact(8);
        s.compact(8);
        assert.ok(s.compactionStep(3));
        await t.reopen();
        open();
        assert.ok(s.compactionPending());
        assert.deepEqual(s.hash(), full.hash()); // hash finishes the job first
        assert.ok(!s.compactionPending());
        s.put({ key: enc("x"), value: enc("1") });
        s.compact(9);
        assert.ok(s.compactionPending());
        s.put({ key: enc("x"), value: enc("2") });
        s.compact(10); // finishes the job for 9 first
        await s.compactInBackground(1);
        full.put({ key: enc("x"), value: enc("1") });
        full.compact(9);
        full.put({ key: enc("x"), value: enc("2") });
        full.compact(10);
        assert.deepEqual(s.hashKV(0), full.hashKV(0));
      });

      test("HashKV(rev) ignores later writes, fails for compacted and future revisions; Hash changes with data", () => {
        const h5 = s.hashKV(5);
        assert.deepEqual([h5.compactRevision, h5.revision], [-1, 8]);
        const full = s.hash();
        s.put({ key: enc("later"), value: enc("x") });
        assert.equal(s.hashKV(5).hash, h5.hash);
        assert.notEqual(s.hashKV(0).hash, h5.hash);
        assert.notEqual(s.hash().hash, full.hash);
        assert.throws(() => s.hashKV(10), err(Errors.futureRevision));
        s.compact(4);
        assert.throws(() => s.hashKV(4), err(Errors.compacted));
        assert.equal(s.hashKV(0).compactRevision, 4);
      });
    });

    describe("events, leases, applied index, restart", () => {
      test("listeners get each committed revision's events in op order, with prev_kv", () => {
        const seen: Array<[number, MvccEvent[]]> = [];
        const off = s.subscribe((rev, events) => seen.push([rev, events]));
        s.put({ key: enc("a"), value: enc("1") });
        s.txn({ compare: [], success: [put("b"), put("a", "2"), del("c")], failure: [] });
        s.range({ key: enc("a") });
        assert.throws(() => s.put({ key: enc(""), value: enc("") }));
        s.deleteRange({ key: enc("a"), rangeEnd: enc("c") });
        off();
        s.put({ key: enc("z"), value: enc("1") });
        assert.deepEqual(
          seen.map(([rev, evs]) => [
            rev,
            evs.map((e) => `${e.type === EventType.PUT ? "put" : "del"} ${dec(e.kv.key)}`),
          ]),
          [
            [2, ["put a"]],
            [3, ["put b", "put a"]],
            [4, ["del a", "del b"]],
          ],
        );
        assert.equal(dec(seen[1]![1][1]!.prevKv!.value), "1");
        assert.equal(seen[2]![1][0]!.kv.modRevision, 4);
      });

      test("readEvents returns whole revisions up to maxEvents, fails below compaction, keeps its puts at it", () => {
        seed(); // events at 2..8, one each
        s.txn({ compare: [], success: [put("x"), put("y"), put("z")], failure: [] }); // rev 9: 3 events
        let r = s.readEvents(2, 100, 3);
        assert.deepEqual([r.events.map((e) => e.revision), r.lastRevision], [[2, 3, 4], 4]);
        r = s.readEvents(8, 100, 2);
        assert.deepEqual([r.events.map((e) => e.revision), r.lastRevision], [[8, 9, 9, 9], 9]);
        r = s.readEvents(9, 100, 1);
        assert.deepEqual([r.events.length, r.lastRevision], [3, 9]);
        r = s.readEvents(3, 5, 100);
        assert.deepEqual([r.events.map((e) => e.revision), r.lastRevision], [[3, 4, 5], 5]);
        assert.deepEqual(s.readEvents(10, 20, 5), { events: [], lastRevision: 9 });
        const d = s.readEvents(8, 8, 1).events[0]!.event;
        assert.deepEqual(
          [d.type, dec(d.kv.key), d.kv.modRevision, d.kv.version],
          [EventType.DELETE, "d", 8, 0],
        );
        s.compact(4);
        assert.throws(() => s.readEvents(3, 10, 10), err(Errors.compacted));
        assert.equal(s.readEvents(5, 10, 10).events[0]!.revision, 5);
        // The compaction revision itself: what compaction keeps of it (a put, not a delete).
        const kept = s.readEvents(4, 4, 10);
        assert.deepEqual([kept.events.map((e) => dec(e.event.kv.key)), kept.lastRevision], [["c"], 4]);
        s.compact(8);
        assert.deepEqual(s.readEvents(8, 8, 10), { events: [], lastRevision: 8 });
      });

      test("valueBefore gives the pair just before a revision", () => {
        seed();
        assert.equal(dec(s.valueBefore(enc("a"), 5)!.value), "1");
        assert.equal(dec(s.valueBefore(enc("a"), 6)!.value), "4");
        assert.equal(s.valueBefore(enc("a"), 2), undefined);
        assert.equal(dec(s.valueBefore(enc("d"), 8)!.value), "6");
        assert.equal(s.valueBefore(enc("d"), 9), undefined);
      });

      test("lease index follows puts, moves and deletes; the registry hears after commit", () => {
        const leases = new FakeLeases(new Set([1n, 2n]));
        open({ leases });
        s.put({ key: enc("a"), value: enc("1"), lease: 1n });
        s.put({ key: enc("b"), value: enc("1"), lease: 1n });
        s.put({ key: enc("c"), value: enc("1"), lease: 2n });
        s.put({ key: enc("a"), value: enc("2"), lease: 2n });
        s.deleteRange({ key: enc("b") });
        s.put({ key: enc("c"), value: enc("2") });
        assert.deepEqual(
          [...s.leasedKeys()].map(([l, k]) => `${l} ${dec(k)}`),
          ["2 a"],
        );
        assert.deepEqual([...s.keysOfLease(2n)].map(dec), ["a"]);
        assert.deepEqual([...s.keysOfLease(1n)], []);
        assert.deepEqual(leases.log, [
          "attach 1 a",
          "attach 1 b",
          "attach 2 c",
          "detach 1 a",
          "attach 2 a",
          "detach 1 b",
          "detach 2 c",
        ]);
      });

      test("applied index: stored with writes, replays skipped, failed requests still advance it", () => {
        s.put({ key: enc("a"), value: enc("1") }, 5);
        assert.equal(s.appliedIndex(), 5);
        assert.equal(s.put({ key: enc("a"), value: enc("2") }, 5).header.revision, 2);
        assert.equal(dec(s.range({ key: enc("a") }).kvs[0]!.value), "1");
        assert.throws(() => s.put({ key: enc(""), value: enc("") }, 6), err(Errors.emptyKey));
        assert.equal(s.appliedIndex(), 6);
        s.setAppliedIndex(9);
        s.setAppliedIndex(7);
        assert.equal(s.appliedIndex(), 9);
        assert.equal(s.currentRevision(), 2);
      });

      test("everything survives a restart", async () => {
        seed();
        s.compact(4);
        s.setAppliedIndex(42);
        const hash = s.hash();
        await t.reopen();
        open();
        assert.deepEqual([s.currentRevision(), s.compactRevision(), s.appliedIndex()], [8, 4, 42]);
        assert.deepEqual(s.hash(), hash);
        assert.equal(s.put({ key: enc("n"), value: enc("v") }).header.revision, 9);
      });
    });
  });
}
