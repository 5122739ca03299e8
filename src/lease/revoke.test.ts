// revokeLease against a recording fake store: one Txn, one DeleteRange per key in byte order, no
// compares; nothing proposed for a lease without keys; unknown lease changes nothing; and a failing
// delete leaves the lease and its record in place (one transaction).

import assert from "node:assert/strict";
import { test } from "node:test";
import { EtcdError } from "../mvcc/errors.js";
import type { TxnRequest, TxnResponse } from "../mvcc/types.js";
import { BackendLeaseStore } from "./backend-lease-store.js";
import { FakeBackend } from "./fake-backend.js";
import { revokeLease, type RevocableStore } from "./revoke.js";
import { k, manualLessor, str } from "./test-helpers.js";

class RecordingStore implements RevocableStore {
  calls: { req: TxnRequest; raftIndex: number | undefined }[] = [];
  revision = 10;
  fail = false;
  onFail: () => void = () => {};

  txn(req: TxnRequest, raftIndex?: number): TxnResponse {
    if (this.fail) {
      this.onFail();
      throw new Error("disk full");
    }
    this.calls.push({ req, raftIndex });
    this.revision++;
    return { header: { revision: this.revision }, succeeded: true, responses: [] };
  }
}

function setup() {
  const backend = new FakeBackend();
  const { lessor } = manualLessor({ store: new BackendLeaseStore(backend) });
  return { backend, lessor, store: new RecordingStore() };
}

test("deletes every attached key in one txn, in byte order, then forgets the lease", () => {
  const { backend, lessor, store } = setup();
  lessor.grant(1n, 10);
  for (const key of ["m", "a", "z", "b"]) lessor.attach(1n, k(key));
  const out = revokeLease(backend, store, lessor, 1n, 42);
  assert.equal(store.calls.length, 1);
  const { req, raftIndex } = store.calls[0]!;
  assert.equal(raftIndex, 42);
  assert.deepEqual(req.compare, []);
  assert.deepEqual(req.failure, []);
  assert.deepEqual(
    req.success.map((op) => ("requestDeleteRange" in op ? str(op.requestDeleteRange.key) : "?")),
    ["a", "b", "m", "z"],
  );
  assert.ok(
    req.success.every((op) => "requestDeleteRange" in op && op.requestDeleteRange.rangeEnd === undefined),
  );
  assert.deepEqual(
    { ...out, deleted: out.deleted.map(str) },
    { deleted: ["a", "b", "m", "z"], revision: 11 },
  );
  assert.equal(lessor.exists(1n), false);
  assert.deepEqual(new BackendLeaseStore(backend).loadAll(), []);
});

test("a lease without keys: no txn, no revision", () => {
  const { backend, lessor, store } = setup();
  lessor.grant(1n, 10);
  assert.deepEqual(revokeLease(backend, store, lessor, 1n, 5), { deleted: [], revision: undefined });
  assert.equal(store.calls.length, 0);
  assert.equal(lessor.exists(1n), false);
});

test("unknown lease: etcd's not-found error and no change", () => {
  const { backend, lessor, store } = setup();
  assert.throws(
    () => revokeLease(backend, store, lessor, 9n, 1),
    (e: unknown) => e instanceof EtcdError && e.message === "etcdserver: requested lease not found",
  );
  assert.equal(store.calls.length, 0);
});

test("a failing delete leaves the lease, its keys and its record in place", () => {
  const { backend, lessor, store } = setup();
  lessor.grant(1n, 10);
  lessor.attach(1n, k("a"));
  lessor.attach(1n, k("b"));
  store.fail = true;
  store.onFail = () => lessor.detach(1n, k("a")); // a store that detached one key, then failed
  assert.throws(() => revokeLease(backend, store, lessor, 1n, 3), /disk full/);
  assert.deepEqual(lessor.keys(1n).map(str), ["a", "b"]);
  assert.deepEqual(new BackendLeaseStore(backend).loadAll(), [{ id: 1n, ttl: 10 }]);
});
