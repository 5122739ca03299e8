import { test } from "node:test";
import assert from "node:assert/strict";
import { AlarmType } from "../member-api.js";
import type { TxnRequest } from "../../mvcc/types.js";
import { DEFAULT_QUOTA_BYTES, QuotaChecker, requestCost, type QuotaRequest } from "./quota.js";

// Checked against etcd 3.4.23 with --quota-backend-bytes 200000: once the file passed the quota,
// put, lease grant and a txn with a put failed with "etcdserver: mvcc: database space exceeded"
// (ResourceExhausted) and the failing put was not stored; a read-only txn, delete, lease revoke
// and compact succeeded; `alarm list` and Status.errors showed "memberID:<decimal> alarm:NOSPACE ".
const b = (s: string) => new TextEncoder().encode(s);
const put = (k: string, v: string) => ({ requestPut: { key: b(k), value: b(v) } });

test("request cost follows etcd's estimates", () => {
  assert.equal(requestCost({ kind: "put", req: { key: b("ab"), value: b("xyz") } }), 256 + 5);
  assert.equal(requestCost({ kind: "leaseGrant" }), 64);
  assert.equal(requestCost({ kind: "deleteRange" }), 0);
  const txn: TxnRequest = {
    compare: [],
    success: [put("a", "1"), put("b", "2")],
    failure: [put("c", "123456789"), { requestTxn: { compare: [], success: [put("n", "v")], failure: [] } }],
  };
  // Larger branch wins; a nested txn costs nothing (etcd only counts top-level puts).
  assert.equal(requestCost({ kind: "txn", req: txn }), Math.max(2 * 258, 256 + 10));
  assert.equal(
    requestCost({
      kind: "txn",
      req: { compare: [], success: [{ requestRange: { key: b("a") } }], failure: [] },
    }),
    0,
  );
});

test("quota: 0 means 2 GiB, negative disables, strict less-than", () => {
  assert.equal(
    new QuotaChecker({ quotaBackendBytes: 0, backendSize: () => 0, alarmActive: () => false }).quotaBytes,
    DEFAULT_QUOTA_BYTES,
  );
  const off = new QuotaChecker({ quotaBackendBytes: -1, backendSize: () => 1e15, alarmActive: () => false });
  assert.equal(off.admit({ kind: "leaseGrant" }), "ok");
  let size = 1000 - 64;
  const q = new QuotaChecker({ quotaBackendBytes: 1000, backendSize: () => size, alarmActive: () => false });
  assert.equal(q.admit({ kind: "leaseGrant" }), "exceeded"); // 936 + 64 = 1000, not < 1000
  size -= 1;
  assert.equal(q.admit({ kind: "leaseGrant" }), "ok");
  size = 10_000;
  assert.equal(q.admit({ kind: "deleteRange" }), "ok");
  assert.equal(q.admit({ kind: "compaction" }), "ok");
  assert.equal(q.admit({ kind: "put", req: { key: b("k"), value: b("") } }), "exceeded");
  assert.equal(q.remaining(), -9000);
  assert.equal(QuotaChecker.noSpaceError().message, "etcdserver: mvcc: database space exceeded");
});

test("apply verdicts: over quota applies but answers no space; NOSPACE blocks growth; CORRUPT blocks writes", () => {
  const active = new Set<AlarmType>();
  let size = 0;
  const q = new QuotaChecker({
    quotaBackendBytes: 1000,
    backendSize: () => size,
    alarmActive: (a) => active.has(a),
  });
  const p = { kind: "put", req: { key: b("k"), value: b("v") } } satisfies QuotaRequest;
  assert.deepEqual(q.applyVerdict(p), { overQuota: false });
  size = 900;
  assert.deepEqual(q.applyVerdict(p), { overQuota: true });
  assert.deepEqual(q.applyVerdict({ kind: "deleteRange" }), { overQuota: false });

  active.add(AlarmType.NOSPACE);
  size = 0;
  const growing: QuotaRequest[] = [
    p,
    { kind: "leaseGrant" },
    { kind: "txn", req: { compare: [], success: [], failure: [put("a", "b")] } },
  ];
  for (const r of growing) {
    const v = q.applyVerdict(r);
    assert.equal(v.reject?.message, "etcdserver: mvcc: database space exceeded");
    assert.equal(v.reject?.code, "RESOURCE_EXHAUSTED");
  }
  const shrinking: QuotaRequest[] = [
    { kind: "deleteRange" },
    { kind: "leaseRevoke" },
    { kind: "compaction" },
    { kind: "txn", req: { compare: [], success: [], failure: [] } },
  ];
  for (const r of shrinking) assert.deepEqual(q.applyVerdict(r), { overQuota: false });

  active.add(AlarmType.CORRUPT);
  assert.equal(q.applyVerdict({ kind: "deleteRange" }).reject?.message, "etcdserver: corrupt cluster");
  assert.equal(q.applyVerdict({ kind: "compaction" }).reject?.code, "DATA_LOSS");
});
