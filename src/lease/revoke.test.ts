// Lease grant and revocation applied to the real MvccStore on both backends: revocation deletes
// every attached key in one revision with one DELETE event per key (seen by store.subscribe),
// forgets the lease and its record, and records the raft index; a lease without keys makes no
// revision; errors and already-applied entries change nothing but the applied index.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { EtcdError } from "../mvcc/errors.js";
import { MvccStore } from "../mvcc/index.js";
import { EventType, type MvccEvent } from "../mvcc/types.js";
import { BackendLeaseStore } from "./backend-lease-store.js";
import { grantLease } from "./grant.js";
import { Lessor } from "./lessor.js";
import { revokeLease } from "./revoke.js";
import { BACKENDS, k, str, type TestBackend } from "./test-helpers.js";
import { ManualClock } from "./clock.js";

const isEtcd = (message: string) => (e: unknown) => e instanceof EtcdError && e.message === message;
const NOT_FOUND = isEtcd("etcdserver: requested lease not found");

interface World {
  t: TestBackend;
  lessor: Lessor;
  store: MvccStore;
  commits: { revision: number; events: MvccEvent[] }[];
}

async function world(create: () => Promise<TestBackend>, maxTxnOps = 1_000_000): Promise<World> {
  const t = await create();
  const lessor = new Lessor({ store: new BackendLeaseStore(t.backend), clock: new ManualClock(0) });
  const store = MvccStore.open(t.backend, { leases: lessor, maxTxnOps });
  const commits: World["commits"] = [];
  store.subscribe((revision, events) => commits.push({ revision, events }));
  return { t, lessor, store, commits };
}

async function withWorld(
  create: () => Promise<TestBackend>,
  fn: (w: World) => void | Promise<void>,
  maxTxnOps?: number,
): Promise<void> {
  const w = await world(create, maxTxnOps);
  try {
    await fn(w);
  } finally {
    await w.t.cleanup();
  }
}

const keysOf = (w: World): string[] =>
  w.store.range({ key: k("\0"), rangeEnd: k("\0") }).kvs.map((kv) => str(kv.key));

for (const kind of BACKENDS) {
  describe(`lease apply on ${kind.name}`, () => {
    test("revoke deletes every attached key in one revision, with a DELETE event per key", () =>
      withWorld(kind.create, (w) => {
        grantLease(w.t.backend, w.store, w.lessor, 1n, 10, 1);
        grantLease(w.t.backend, w.store, w.lessor, 2n, 10, 2);
        for (const [i, key] of ["m", "a", "z"].entries())
          w.store.put({ key: k(key), value: k("v"), lease: 1n }, 3 + i);
        w.store.put({ key: k("other"), value: k("v"), lease: 2n }, 6);
        w.store.put({ key: k("plain"), value: k("v") }, 7);
        assert.deepEqual(w.lessor.keys(1n).map(str), ["a", "m", "z"]);
        const before = w.store.currentRevision();
        w.commits.length = 0;

        const out = revokeLease(w.t.backend, w.store, w.lessor, 1n, 8);

        assert.deepEqual(out.deleted.map(str), ["a", "m", "z"]);
        assert.equal(out.revision, before + 1);
        assert.equal(out.skipped, false);
        assert.equal(w.store.currentRevision(), before + 1);
        assert.equal(w.commits.length, 1, "one revision");
        assert.equal(w.commits[0]!.revision, before + 1);
        assert.deepEqual(
          w.commits[0]!.events.map((e) => [e.type, str(e.kv.key), e.kv.modRevision]),
          ["a", "m", "z"].map((key) => [EventType.DELETE, key, before + 1]),
        );
        assert.deepEqual(keysOf(w), ["other", "plain"]);
        assert.equal(w.lessor.exists(1n), false);
        assert.deepEqual(
          new BackendLeaseStore(w.t.backend).loadAll().map((r) => r.id),
          [2n],
        );
        assert.deepEqual([...w.store.keysOfLease(1n)], []);
        assert.equal(w.store.appliedIndex(), 8);
        assert.deepEqual(w.lessor.keys(2n).map(str), ["other"]);
      }));

    test("a lease without keys: no new revision, lease gone, raft index recorded", () =>
      withWorld(kind.create, (w) => {
        grantLease(w.t.backend, w.store, w.lessor, 1n, 10, 1);
        const before = w.store.currentRevision();
        assert.deepEqual(revokeLease(w.t.backend, w.store, w.lessor, 1n, 2), {
          deleted: [],
          revision: undefined,
          skipped: false,
        });
        assert.equal(w.store.currentRevision(), before);
        assert.equal(w.commits.length, 0);
        assert.equal(w.lessor.exists(1n), false);
        assert.equal(w.store.appliedIndex(), 2);
      }));

    test("unknown lease: not found, only the raft index moves", () =>
      withWorld(kind.create, (w) => {
        const before = w.store.currentRevision();
        assert.throws(() => revokeLease(w.t.backend, w.store, w.lessor, 9n, 5), NOT_FOUND);
        assert.equal(w.store.currentRevision(), before);
        assert.equal(w.store.appliedIndex(), 5);
      }));

    test("an already-applied raft index is skipped", () =>
      withWorld(kind.create, (w) => {
        grantLease(w.t.backend, w.store, w.lessor, 1n, 10, 1);
        w.store.put({ key: k("a"), value: k("v"), lease: 1n }, 2);
        assert.deepEqual(revokeLease(w.t.backend, w.store, w.lessor, 1n, 2), {
          deleted: [],
          revision: undefined,
          skipped: true,
        });
        assert.equal(grantLease(w.t.backend, w.store, w.lessor, 5n, 10, 1), undefined);
        assert.ok(w.lessor.exists(1n));
        assert.equal(w.lessor.exists(5n), false);
        assert.deepEqual(keysOf(w), ["a"]);
      }));

    test("a key moved to another lease or deleted is not revoked with the old lease", () =>
      withWorld(kind.create, (w) => {
        grantLease(w.t.backend, w.store, w.lessor, 1n, 10);
        grantLease(w.t.backend, w.store, w.lessor, 2n, 10);
        w.store.put({ key: k("moved"), value: k("v"), lease: 1n });
        w.store.put({ key: k("gone"), value: k("v"), lease: 1n });
        w.store.put({ key: k("moved"), value: k("v2"), lease: 2n });
        w.store.deleteRange({ key: k("gone") });
        assert.deepEqual(w.lessor.keys(1n), []);
        assert.equal(revokeLease(w.t.backend, w.store, w.lessor, 1n).revision, undefined);
        assert.deepEqual(keysOf(w), ["moved"]);
      }));

    test("batched apply: put with a lease, then revoke it, in one outer transaction", () =>
      withWorld(kind.create, (w) => {
        grantLease(w.t.backend, w.store, w.lessor, 1n, 10, 1);
        const out = w.t.backend.writeTxn(() => {
          w.store.put({ key: k("a"), value: k("v"), lease: 1n }, 2);
          return revokeLease(w.t.backend, w.store, w.lessor, 1n, 3);
        });
        assert.deepEqual(out.deleted.map(str), ["a"], "the on-disk index sees the batch's own put");
        assert.deepEqual(keysOf(w), []);
        assert.equal(w.lessor.exists(1n), false);
        assert.equal(w.store.appliedIndex(), 3);
      }));

    test("grant and put with the new lease in one outer transaction", () =>
      withWorld(kind.create, (w) => {
        w.t.backend.writeTxn(() => {
          grantLease(w.t.backend, w.store, w.lessor, 1n, 10, 1);
          w.store.put({ key: k("a"), value: k("v"), lease: 1n }, 2);
        });
        assert.deepEqual(w.lessor.keys(1n).map(str), ["a"]);
      }));

    test("grant errors are etcd's and record the raft index", () =>
      withWorld(kind.create, (w) => {
        grantLease(w.t.backend, w.store, w.lessor, 1n, 10, 1);
        assert.throws(
          () => grantLease(w.t.backend, w.store, w.lessor, 1n, 10, 2),
          isEtcd("etcdserver: lease already exists"),
        );
        assert.throws(
          () => grantLease(w.t.backend, w.store, w.lessor, 2n, 9_000_000_001, 3),
          isEtcd("etcdserver: too large lease TTL"),
        );
        assert.equal(w.store.appliedIndex(), 3);
        assert.deepEqual(
          new BackendLeaseStore(w.t.backend).loadAll().map((r) => r.id),
          [1n],
        );
      }));

    test("a lease with 300 keys is revoked in one revision (store opened without etcd's 128 cap)", () =>
      withWorld(kind.create, (w) => {
        grantLease(w.t.backend, w.store, w.lessor, 1n, 10);
        w.t.backend.writeTxn(() => {
          for (let i = 0; i < 300; i++) w.store.put({ key: k(`k${i}`), value: k("v"), lease: 1n });
        });
        const before = w.store.currentRevision();
        w.commits.length = 0;
        assert.equal(revokeLease(w.t.backend, w.store, w.lessor, 1n).deleted.length, 300);
        assert.equal(w.store.currentRevision(), before + 1);
        assert.equal(w.commits[0]!.events.length, 300);
        assert.deepEqual(keysOf(w), []);
      }));

    test("with etcd's 128-op cap in the store, a large lease fails whole and stays intact", () =>
      withWorld(
        kind.create,
        (w) => {
          grantLease(w.t.backend, w.store, w.lessor, 1n, 10);
          w.t.backend.writeTxn(() => {
            for (let i = 0; i < 129; i++) w.store.put({ key: k(`k${i}`), value: k("v"), lease: 1n });
          });
          assert.throws(
            () => revokeLease(w.t.backend, w.store, w.lessor, 1n, 500),
            isEtcd("etcdserver: too many operations in txn request"),
          );
          assert.ok(w.lessor.exists(1n));
          assert.equal(w.lessor.keys(1n).length, 129);
          assert.equal(keysOf(w).length, 129);
        },
        128,
      ));
  });
}
