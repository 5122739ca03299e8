// The envelope codec: every domain request survives encode → decode exactly (optional fields stay
// absent, false stays false, bigints keep all 64 bits), and damaged input is refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  decodeEnvelope,
  encodeEnvelope,
  EnvelopeError,
  RequestKind,
  type InternalRequest,
} from "./envelope.js";
import type {
  Compare,
  DeleteRangeRequest,
  PutRequest,
  RangeRequest,
  RequestOp,
  TxnRequest,
} from "../mvcc/types.js";

const seed = Number(process.env.KVORUM_SEED ?? Date.now() % 1_000_000);

const bytes = fc.uint8Array({ maxLength: 12 });
const int = fc.oneof(
  fc.integer({ min: -1000, max: 1000 }),
  fc.maxSafeInteger(),
  fc.constant(Number.MIN_SAFE_INTEGER),
);
const lease = fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n });
const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });

/** Drops keys whose value is undefined (so deepEqual compares presence) and gives a plain prototype. */
function clean<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

const put: fc.Arbitrary<PutRequest> = fc
  .record({
    key: bytes,
    value: bytes,
    lease: opt(lease),
    prevKv: opt(fc.boolean()),
    ignoreValue: opt(fc.boolean()),
    ignoreLease: opt(fc.boolean()),
  })
  .map(clean);
const del: fc.Arbitrary<DeleteRangeRequest> = fc
  .record({ key: bytes, rangeEnd: opt(bytes), prevKv: opt(fc.boolean()) })
  .map(clean);
const range: fc.Arbitrary<RangeRequest> = fc
  .record({
    key: bytes,
    rangeEnd: opt(bytes),
    limit: opt(int),
    revision: opt(int),
    sortOrder: opt(fc.integer({ min: 0, max: 2 })),
    sortTarget: opt(fc.integer({ min: 0, max: 4 })),
    serializable: opt(fc.boolean()),
    keysOnly: opt(fc.boolean()),
    countOnly: opt(fc.boolean()),
    minModRevision: opt(int),
    maxModRevision: opt(int),
    minCreateRevision: opt(int),
    maxCreateRevision: opt(int),
  })
  .map(clean);
const compare: fc.Arbitrary<Compare> = fc
  .record({
    result: fc.integer({ min: 0, max: 3 }),
    target: fc.integer({ min: 0, max: 4 }),
    key: bytes,
    rangeEnd: opt(bytes),
    version: opt(int),
    createRevision: opt(int),
    modRevision: opt(int),
    value: opt(bytes),
    lease: opt(lease),
  })
  .map(clean);
const { txn } = fc.letrec<{ txn: TxnRequest; op: RequestOp }>((tie) => ({
  op: fc.oneof(
    { depthSize: "small" },
    range.map((r) => ({ requestRange: r })),
    put.map((r) => ({ requestPut: r })),
    del.map((r) => ({ requestDeleteRange: r })),
    tie("txn").map((r) => ({ requestTxn: r as TxnRequest })),
  ),
  txn: fc
    .record({
      compare: fc.array(compare, { maxLength: 3 }),
      success: fc.array(tie("op") as fc.Arbitrary<RequestOp>, { maxLength: 3 }),
      failure: fc.array(tie("op") as fc.Arbitrary<RequestOp>, { maxLength: 3 }),
    })
    .map(clean),
}));
const request: fc.Arbitrary<InternalRequest> = fc.oneof(
  put.map((req) => ({ kind: RequestKind.Put as const, req })),
  del.map((req) => ({ kind: RequestKind.DeleteRange as const, req })),
  txn.map((req) => ({ kind: RequestKind.Txn as const, req })),
  fc
    .record({ revision: int, physical: fc.boolean() })
    .map(clean)
    .map((req) => ({ kind: RequestKind.Compact as const, req })),
  fc
    .record({ id: lease, ttl: int })
    .map(clean)
    .map((req) => ({ kind: RequestKind.LeaseGrant as const, req })),
  fc
    .record({ id: lease })
    .map(clean)
    .map((req) => ({ kind: RequestKind.LeaseRevoke as const, req })),
  fc
    .record({
      action: fc.integer({ min: 0, max: 2 }),
      memberId: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      alarm: fc.integer({ min: 0, max: 2 }),
    })
    .map(clean)
    .map((req) => ({ kind: RequestKind.Alarm as const, req })),
  fc
    .record({
      memberId: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      name: fc.string({ unit: "grapheme" }),
      clientUrls: fc.array(fc.webUrl(), { maxLength: 3 }),
    })
    .map(clean)
    .map((req) => ({ kind: RequestKind.Publish as const, req })),
  fc
    .record({
      checkpoints: fc.array(
        fc.record({ id: lease, remainingTtl: fc.integer({ min: 0, max: 9_000_000_000 }) }).map(clean),
        {
          maxLength: 4,
        },
      ),
    })
    .map(clean)
    .map((req) => ({ kind: RequestKind.LeaseCheckpoint as const, req })),
);

test(`envelope round trip keeps every request exactly (seed ${seed})`, () => {
  fc.assert(
    fc.property(fc.double({ noNaN: true }), fc.nat(), request, (epoch, seq, req) => {
      const decoded = decodeEnvelope(encodeEnvelope(epoch, seq, req));
      assert.equal(decoded.seq, seq);
      assert.ok(Object.is(decoded.epoch, epoch));
      assert.deepEqual(decoded.request, req);
    }),
    { seed, numRuns: 500 },
  );
});

test("truncated, extended or unknown envelopes are refused", () => {
  const data = encodeEnvelope(1, 2, {
    kind: RequestKind.Put,
    req: { key: new Uint8Array([1]), value: new Uint8Array([2]) },
  });
  for (let n = 0; n < data.length; n++)
    assert.throws(() => decodeEnvelope(data.subarray(0, n)), EnvelopeError);
  assert.throws(() => decodeEnvelope(new Uint8Array([...data, 0])), EnvelopeError);
  const bad = data.slice();
  bad[0] = 99;
  assert.throws(() => decodeEnvelope(bad), /unknown request kind 99/);
});
