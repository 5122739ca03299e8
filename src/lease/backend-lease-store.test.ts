// BackendLeaseStore on a transactional fake backend: records survive a new store over the same
// backend, deletes are durable, and lease writes join (and roll back with) an outer transaction.

import assert from "node:assert/strict";
import { test } from "node:test";
import { BackendLeaseStore, LEASE_TABLE } from "./backend-lease-store.js";
import { FakeBackend } from "./fake-backend.js";

test("put/delete/loadAll round-trip through the lease table, in id order", () => {
  const backend = new FakeBackend();
  const store = new BackendLeaseStore(backend);
  store.put({ id: 300n, ttl: 30 });
  store.put({ id: 2n, ttl: 5 });
  store.put({ id: 7n, ttl: 9_000_000_000 });
  store.put({ id: 2n, ttl: 6 });
  store.delete(300n);
  store.delete(12345n);
  assert.deepEqual(new BackendLeaseStore(backend).loadAll(), [
    { id: 2n, ttl: 6 },
    { id: 7n, ttl: 9_000_000_000 },
  ]);
  assert.equal(backend.table(LEASE_TABLE).rows.size, 2);
});

test("writes join an outer transaction and roll back with it", () => {
  const backend = new FakeBackend();
  const store = new BackendLeaseStore(backend);
  store.put({ id: 1n, ttl: 10 });
  assert.throws(() =>
    backend.writeTxn(() => {
      store.put({ id: 2n, ttl: 10 });
      store.delete(1n);
      throw new Error("apply failed");
    }),
  );
  assert.deepEqual(store.loadAll(), [{ id: 1n, ttl: 10 }]);
});
