// Round-trip and corruption tests of the lease table's record encoding.

import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeLeaseKey, decodeLeaseRecord, encodeLeaseKey, encodeLeaseValue } from "./lease-codec.js";

test("records round-trip, including extreme ids and TTLs", () => {
  for (const id of [1n, 0x7fffffffffffffffn, -1n, -(1n << 63n)]) {
    for (const ttl of [2, 9_000_000_000]) {
      assert.deepEqual(decodeLeaseRecord(encodeLeaseKey(id), encodeLeaseValue({ id, ttl })), { id, ttl });
    }
  }
});

test("keys are 8-byte big-endian, so positive ids sort numerically as bytes", () => {
  assert.deepEqual([...encodeLeaseKey(0x0102n)], [0, 0, 0, 0, 0, 0, 1, 2]);
  const a = encodeLeaseKey(255n);
  const b = encodeLeaseKey(256n);
  assert.ok(Buffer.compare(a, b) < 0);
});

test("decoding reads through the view's offset", () => {
  const padded = new Uint8Array(12);
  padded.set(encodeLeaseKey(77n), 4);
  assert.equal(decodeLeaseKey(padded.subarray(4)), 77n);
});

test("a key of the wrong size or an unknown value format is an error, not a guess", () => {
  assert.throws(() => decodeLeaseKey(new Uint8Array(7)), /8/);
  const value = encodeLeaseValue({ id: 1n, ttl: 5 });
  value[0] = 9;
  assert.throws(() => decodeLeaseRecord(encodeLeaseKey(1n), value), /unknown record format/);
  assert.throws(() => decodeLeaseRecord(encodeLeaseKey(1n), new Uint8Array(3)), /unknown record format/);
});

test("a checkpointed remaining TTL round-trips; without one the old 9-byte record is written", () => {
  const rec = { id: 5n, ttl: 60, remainingTtl: 42 };
  const value = encodeLeaseValue(rec);
  assert.equal(value.byteLength, 17);
  assert.deepEqual(decodeLeaseRecord(encodeLeaseKey(5n), value), rec);
  assert.equal(encodeLeaseValue({ id: 5n, ttl: 60 }).byteLength, 9);
  assert.equal(encodeLeaseValue({ id: 5n, ttl: 60, remainingTtl: 0 }).byteLength, 9);
});

test("records written before lease checkpoints (format 1) still decode, with no remaining TTL", () => {
  const old = new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0, 30]);
  assert.deepEqual(decodeLeaseRecord(encodeLeaseKey(9n), old), { id: 9n, ttl: 30 });
  const v2 = encodeLeaseValue({ id: 9n, ttl: 30, remainingTtl: 3 });
  assert.throws(() => decodeLeaseRecord(encodeLeaseKey(9n), v2.subarray(0, 9)), /unknown record format/);
});
