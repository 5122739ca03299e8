// SpaceGuard on a MemoryBackend (its size: the stored bytes): the front-door check raises NOSPACE
// once for concurrent refusals and refuses; the apply verdicts follow etcd's appliers; alarm
// entries answer etcd's response and log etcd's lines.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MemoryBackend } from "../../mvcc/index.js";
import { RequestKind } from "../envelope.js";
import { AlarmAction, AlarmType } from "../member-api.js";
import { quotaRequestOf, SpaceGuard } from "./space-guard.js";

const enc = (s: string) => new TextEncoder().encode(s);

function setup(quota: number) {
  const backend = new MemoryBackend();
  const warnings: string[] = [];
  const guard: SpaceGuard = new SpaceGuard({
    backend,
    quotaBackendBytes: quota,
    memberId: 7n,
    logger: { warn: (_o, msg) => warnings.push(msg) },
    // Applied at once, as raft would after a round.
    proposeAlarm: (req) =>
      new Promise((resolve) => setTimeout(() => resolve(backend.writeTxn(() => guard.applyAlarm(req))), 5)),
    sizeMaxAgeMs: 0,
  });
  const fill = (bytes: number) =>
    backend.writeTxn(() => backend.table("kv").put(enc("k"), new Uint8Array(bytes)));
  return { backend, guard, warnings, fill };
}

const put = (bytes: number) => ({
  kind: "put" as const,
  req: { key: enc("p"), value: new Uint8Array(bytes) },
});

test("admit: fits → nothing; does not fit → one NOSPACE proposal for concurrent refusals, then refused", async () => {
  const { guard, warnings, fill } = setup(1000);
  await guard.admit(put(100));
  await guard.admit({ kind: "deleteRange" });
  fill(950);
  const refusals = await Promise.allSettled([guard.admit(put(100)), guard.admit({ kind: "leaseGrant" })]);
  for (const r of refusals) {
    assert.equal(r.status, "rejected");
    assert.equal((r as PromiseRejectedResult).reason.message, "etcdserver: mvcc: database space exceeded");
  }
  assert.deepEqual(guard.list(), [{ memberId: 7n, alarm: AlarmType.NOSPACE }]);
  assert.deepEqual(
    warnings.filter((w) => w.includes("raising NOSPACE")),
    ["database space exceeded; raising NOSPACE alarm"],
    "one proposal for both",
  );
  assert.ok(warnings.includes("alarm raised"));
  // Raised already: refused without proposing again.
  await assert.rejects(guard.admit(put(100)), /database space exceeded/);
  assert.equal(warnings.filter((w) => w.includes("raising NOSPACE")).length, 1);
  // Requests that write nothing are never refused at the front door.
  await guard.admit({ kind: "txn", req: { compare: [], success: [], failure: [] } });
});

test("verdict: capped while NOSPACE is active, over quota without it, everything refused while CORRUPT", () => {
  const { backend, guard, fill } = setup(1000);
  assert.deepEqual(guard.verdict(put(100)), { overQuota: false });
  fill(950);
  assert.deepEqual(guard.verdict(put(100)), { overQuota: true }, "applied, answered NOSPACE");
  assert.deepEqual(guard.verdict({ kind: "deleteRange" }), { overQuota: false });
  backend.writeTxn(() =>
    guard.applyAlarm({ action: AlarmAction.ACTIVATE, memberId: 9n, alarm: AlarmType.NOSPACE }),
  );
  assert.match(String(guard.verdict(put(1)).reject?.message), /database space exceeded/);
  assert.match(String(guard.verdict({ kind: "leaseGrant" }).reject?.message), /database space exceeded/);
  const delOnly = { compare: [], success: [{ requestDeleteRange: { key: enc("a") } }], failure: [] };
  assert.deepEqual(guard.verdict({ kind: "txn", req: delOnly }), { overQuota: false });
  const withPut = { compare: [], success: [], failure: [{ requestPut: { key: enc("a"), value: enc("b") } }] };
  assert.ok(guard.verdict({ kind: "txn", req: withPut }).reject !== undefined);
  for (const kind of ["deleteRange", "compaction", "leaseRevoke"] as const) {
    assert.deepEqual(guard.verdict({ kind }), { overQuota: false }, kind);
  }
  assert.deepEqual(guard.verdict(undefined), { overQuota: false });
  backend.writeTxn(() =>
    guard.applyAlarm({ action: AlarmAction.ACTIVATE, memberId: 9n, alarm: AlarmType.CORRUPT }),
  );
  assert.match(String(guard.verdict({ kind: "deleteRange" }).reject?.message), /corrupt/);
});

test("applyAlarm answers etcd's alarms; alarms survive a new guard on the same backend", () => {
  const { backend, guard, warnings } = setup(1000);
  const on = backend.writeTxn(() =>
    guard.applyAlarm({ action: AlarmAction.ACTIVATE, memberId: 3n, alarm: AlarmType.NOSPACE }),
  );
  assert.deepEqual(on.alarms, [{ memberId: 3n, alarm: AlarmType.NOSPACE }]);
  const reloaded = new SpaceGuard({
    backend,
    quotaBackendBytes: 1000,
    memberId: 1n,
    logger: { warn() {} },
    proposeAlarm: () => Promise.resolve(),
  });
  assert.deepEqual(reloaded.list(), [{ memberId: 3n, alarm: AlarmType.NOSPACE }]);
  assert.deepEqual(reloaded.statusErrors(), ["memberID:3 alarm:NOSPACE "]);
  const off = backend.writeTxn(() =>
    guard.applyAlarm({ action: AlarmAction.DEACTIVATE, memberId: 3n, alarm: AlarmType.NOSPACE }),
  );
  assert.deepEqual(off.alarms, [{ memberId: 3n, alarm: AlarmType.NOSPACE }], "the cleared alarm");
  const none = backend.writeTxn(() =>
    guard.applyAlarm({ action: AlarmAction.DEACTIVATE, memberId: 3n, alarm: AlarmType.NOSPACE }),
  );
  assert.deepEqual(none.alarms, []);
  assert.deepEqual(warnings, ["alarm raised", "alarm disarmed"]);
});

test("quotaRequestOf maps replicated requests; alarms and publishes are outside the quota", () => {
  assert.equal(quotaRequestOf({ kind: RequestKind.LeaseGrant, req: { id: 1n, ttl: 5 } })?.kind, "leaseGrant");
  assert.equal(quotaRequestOf({ kind: RequestKind.Compact, req: { revision: 1 } })?.kind, "compaction");
  assert.equal(
    quotaRequestOf({ kind: RequestKind.Alarm, req: { action: 1, memberId: 1n, alarm: 1 } }),
    undefined,
  );
  assert.equal(
    quotaRequestOf({ kind: RequestKind.Publish, req: { memberId: 1n, name: "a", clientUrls: [] } }),
    undefined,
  );
});
