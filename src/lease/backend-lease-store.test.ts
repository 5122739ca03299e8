// BackendLeaseStore on both MVCC backends: records round-trip in id order, survive reopening the
// backend, and lease writes join (and roll back with) an outer write transaction.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BackendLeaseStore } from "./backend-lease-store.js";
import { BACKENDS } from "./test-helpers.js";

for (const kind of BACKENDS) {
  describe(`BackendLeaseStore on ${kind.name}`, () => {
    test("put/delete/loadAll round-trip in id order and survive a reopen", async () => {
      const t = await kind.create();
      try {
        const store = new BackendLeaseStore(t.backend);
        store.put({ id: 300n, ttl: 30 });
        store.put({ id: 2n, ttl: 5 });
        store.put({ id: 7n, ttl: 9_000_000_000 });
        store.put({ id: -4n, ttl: 8 });
        store.put({ id: 2n, ttl: 6 });
        store.delete(300n);
        store.delete(12345n);
        const want = [
          { id: -4n, ttl: 8 },
          { id: 2n, ttl: 6 },
          { id: 7n, ttl: 9_000_000_000 },
        ];
        assert.deepEqual(store.loadAll(), want);
        assert.deepEqual(new BackendLeaseStore(await t.reopen()).loadAll(), want);
      } finally {
        await t.cleanup();
      }
    });

    test("writes join an outer transaction and roll back with it", async () => {
      const t = await kind.create();
      try {
        const store = new BackendLeaseStore(t.backend);
        store.put({ id: 1n, ttl: 10 });
        assert.throws(() =>
          t.backend.writeTxn(() => {
            store.put({ id: 2n, ttl: 10 });
            store.delete(1n);
            throw new Error("apply failed");
          }),
        );
        assert.deepEqual(store.loadAll(), [{ id: 1n, ttl: 10 }]);
      } finally {
        await t.cleanup();
      }
    });
  });
}
