// Leases survive a restart: after closing and reopening the backend (LMDB in a temp dir, and the
// in-memory twin), a fresh lessor restored from the lease table and the store's lease index has
// the same leases, TTLs and attached keys; expiry restarts at the full TTL once promoted; and a
// revocation after the restart deletes the keys.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MvccStore } from "../mvcc/index.js";
import { BackendLeaseStore } from "./backend-lease-store.js";
import { ManualClock } from "./clock.js";
import { grantLease } from "./grant.js";
import { Lessor } from "./lessor.js";
import { revokeLease } from "./revoke.js";
import { BACKENDS, k, str } from "./test-helpers.js";
import type { Backend } from "../mvcc/backend.js";

function boot(backend: Backend, clock: ManualClock): { lessor: Lessor; store: MvccStore } {
  const lessor = new Lessor({ store: new BackendLeaseStore(backend), clock });
  const store = MvccStore.open(backend, { leases: lessor, maxTxnOps: 1_000_000 });
  lessor.restore(new BackendLeaseStore(backend), store.leasedKeys());
  return { lessor, store };
}

for (const kind of BACKENDS) {
  describe(`restart on ${kind.name}`, () => {
    test("leases, TTLs and attached keys come back; expiry restarts at full TTL", async () => {
      const t = await kind.create();
      try {
        const clock = new ManualClock(0);
        {
          const { lessor, store } = boot(t.backend, clock);
          lessor.promote(0);
          grantLease(t.backend, store, lessor, 10n, 30, 1);
          grantLease(t.backend, store, lessor, 20n, 1, 2);
          grantLease(t.backend, store, lessor, 30n, 60, 3);
          store.put({ key: k("a"), value: k("1"), lease: 10n }, 4);
          store.put({ key: k("b"), value: k("2"), lease: 10n }, 5);
          store.put({ key: k("c"), value: k("3"), lease: 20n }, 6);
          store.put({ key: k("d"), value: k("4") }, 7);
          revokeLease(t.backend, store, lessor, 30n, 8);
          clock.advance(25_000); // 5 s left on lease 10 before the "crash"
        }

        const backend = await t.reopen();
        const { lessor, store } = boot(backend, clock);
        assert.equal(store.appliedIndex(), 8);
        assert.deepEqual(lessor.leases(), [
          { id: 10n, ttl: 30 },
          { id: 20n, ttl: 2 },
        ]);
        assert.deepEqual(lessor.keys(10n).map(str), ["a", "b"]);
        assert.deepEqual(lessor.keys(20n).map(str), ["c"]);
        assert.equal(lessor.exists(30n), false);

        // A follower does not expire; once promoted, every lease gets its full TTL again.
        clock.advance(60_000);
        assert.deepEqual(lessor.expired(), []);
        lessor.promote(1_000);
        assert.equal(lessor.timeToLive(10n).ttl, 31);
        clock.advance(3_000);
        assert.deepEqual(lessor.expired(), [20n]);
        revokeLease(backend, store, lessor, 20n, 9);
        assert.deepEqual(
          store.range({ key: k("\0"), rangeEnd: k("\0") }).kvs.map((kv) => str(kv.key)),
          ["a", "b", "d"],
        );
      } finally {
        await t.cleanup();
      }
    });

    test("a revocation committed before the restart stays revoked, keys and all", async () => {
      const t = await kind.create();
      try {
        const clock = new ManualClock(0);
        {
          const { lessor, store } = boot(t.backend, clock);
          grantLease(t.backend, store, lessor, 1n, 10, 1);
          store.put({ key: k("x"), value: k("v"), lease: 1n }, 2);
          revokeLease(t.backend, store, lessor, 1n, 3);
        }
        const { lessor, store } = boot(await t.reopen(), clock);
        assert.equal(lessor.size, 0);
        assert.deepEqual([...store.leasedKeys()], []);
        assert.equal(store.range({ key: k("x") }).count, 0);
        // Replaying the same raft entries after the restart changes nothing.
        assert.equal(revokeLease(t.backend, store, lessor, 1n, 3).skipped, true);
        assert.equal(grantLease(t.backend, store, lessor, 1n, 10, 1), undefined);
        assert.equal(lessor.size, 0);
      } finally {
        await t.cleanup();
      }
    });
  });
}
