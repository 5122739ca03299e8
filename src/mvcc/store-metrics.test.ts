// The store counts operations for etcd's mvcc metrics as etcd's metricsTxnWrite does: every
// range (compares and a put's or delete's read of the previous value included), put and delete,
// once per applied operation, and a txn when one store transaction holds more than one operation.
import assert from "node:assert/strict";
import { test } from "node:test";
import { counts } from "../common/etcd-counts.js";
import { MemoryBackend } from "./memory-backend.js";
import { MvccStore } from "./store.js";
import { CompareResult, CompareTarget } from "./types.js";

const enc = (s: string) => new TextEncoder().encode(s);

/** What `fn` adds to the mvcc counts. */
function delta(fn: () => void): {
  ranges: number;
  puts: number;
  deletes: number;
  txns: number;
  bytes: number;
} {
  const before = { ...counts };
  fn();
  return {
    ranges: counts.mvccRange - before.mvccRange,
    puts: counts.mvccPut - before.mvccPut,
    deletes: counts.mvccDelete - before.mvccDelete,
    txns: counts.mvccTxn - before.mvccTxn,
    bytes: counts.mvccPutBytes - before.mvccPutBytes,
  };
}

test("single requests count one operation and no txn", () => {
  const s = MvccStore.open(new MemoryBackend());
  assert.deepEqual(
    delta(() => s.put({ key: enc("a"), value: enc("12") })),
    {
      ranges: 0,
      puts: 1,
      deletes: 0,
      txns: 0,
      bytes: 3,
    },
  );
  assert.deepEqual(
    delta(() => s.range({ key: enc("a") })),
    { ranges: 1, puts: 0, deletes: 0, txns: 0, bytes: 0 },
  );
  assert.deepEqual(
    delta(() => s.deleteRange({ key: enc("nothing") })),
    {
      ranges: 0,
      puts: 0,
      deletes: 1,
      txns: 0,
      bytes: 0,
    },
  );
});

test("a put or delete that returns the previous value also reads it, and then counts as a txn", () => {
  const s = MvccStore.open(new MemoryBackend());
  s.put({ key: enc("a"), value: enc("1") });
  assert.deepEqual(
    delta(() => s.put({ key: enc("a"), value: enc("2"), prevKv: true })),
    {
      ranges: 1,
      puts: 1,
      deletes: 0,
      txns: 1,
      bytes: 2,
    },
  );
  assert.deepEqual(
    delta(() => s.deleteRange({ key: enc("a"), prevKv: true })),
    {
      ranges: 1,
      puts: 0,
      deletes: 1,
      txns: 1,
      bytes: 0,
    },
  );
});

test("a txn counts its compares and the operations of the branch taken, once", () => {
  const s = MvccStore.open(new MemoryBackend());
  s.put({ key: enc("a"), value: enc("1") });
  const d = delta(() =>
    s.txn({
      compare: [{ key: enc("a"), target: CompareTarget.VALUE, result: CompareResult.EQUAL, value: enc("1") }],
      success: [
        { requestPut: { key: enc("a"), value: enc("t") } },
        { requestPut: { key: enc("b"), value: enc("u") } },
        { requestRange: { key: enc("a") } },
      ],
      failure: [{ requestDeleteRange: { key: enc("a") } }],
    }),
  );
  assert.deepEqual(d, { ranges: 2, puts: 2, deletes: 0, txns: 1, bytes: 4 });
});

test("a refused write counts no put", () => {
  const s = MvccStore.open(new MemoryBackend());
  const d = delta(() => assert.throws(() => s.put({ key: enc("a"), value: enc("1"), lease: 5n })));
  assert.equal(d.puts, 0);
});
