// Unit tests of the lessor's rules: grant/revoke/renew/time-to-live/list, the etcd errors, key
// attachment, leader-only expiry with a manual clock, and restore from a lease store.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { EtcdError } from "../mvcc/errors.js";
import { LeaseExpiredError, LeaseNotPrimaryError } from "./errors.js";
import { MemoryLeaseStore } from "./lease-store.js";
import { k, manualLessor, str } from "./test-helpers.js";

const etcdError = (message: string) => (e: unknown) => e instanceof EtcdError && e.message === message;
const NOT_FOUND = etcdError("etcdserver: requested lease not found");

describe("grant", () => {
  test("grants with the requested TTL and persists the lease", () => {
    const { lessor, store } = manualLessor();
    assert.deepEqual(lessor.grant(7n, 30), { id: 7n, ttl: 30 });
    assert.deepEqual(store.loadAll(), [{ id: 7n, ttl: 30 }]);
    assert.ok(lessor.exists(7n));
  });

  test("raises a TTL below the minimum to the minimum (default 2 s)", () => {
    const { lessor, store } = manualLessor();
    assert.equal(lessor.grant(1n, 1).ttl, 2);
    assert.equal(lessor.grant(2n, 0).ttl, 2);
    assert.equal(lessor.grant(3n, -5).ttl, 2);
    assert.deepEqual(
      store.loadAll().map((r) => r.ttl),
      [2, 2, 2],
    );
    const custom = manualLessor({ minTtlSeconds: 5 }).lessor;
    assert.equal(custom.grant(1n, 3).ttl, 5);
    assert.equal(custom.grant(2n, 6).ttl, 6);
  });

  test("accepts TTL 9,000,000,000 and refuses one more with etcd's message", () => {
    const { lessor } = manualLessor();
    assert.equal(lessor.grant(1n, 9_000_000_000).ttl, 9_000_000_000);
    assert.throws(
      () => lessor.grant(2n, 9_000_000_001),
      (e: unknown) => {
        assert.ok(e instanceof EtcdError);
        assert.equal(e.message, "etcdserver: too large lease TTL");
        assert.equal(e.code, "OUT_OF_RANGE");
        return true;
      },
    );
    assert.equal(lessor.exists(2n), false);
  });

  test("refuses an existing id with etcd's message and keeps the original lease", () => {
    const { lessor } = manualLessor();
    lessor.grant(5n, 10);
    assert.throws(
      () => lessor.grant(5n, 99),
      (e: unknown) => {
        assert.ok(e instanceof EtcdError);
        assert.equal(e.message, "etcdserver: lease already exists");
        assert.equal(e.code, "FAILED_PRECONDITION");
        return true;
      },
    );
    assert.equal(lessor.timeToLive(5n).grantedTtl, 10);
  });

  test("refuses id 0 (the server must pick an id before proposing)", () => {
    const { lessor } = manualLessor();
    assert.throws(() => lessor.grant(0n, 10), NOT_FOUND);
    assert.equal(lessor.size, 0);
  });

  test("refuses a non-integer TTL", () => {
    assert.throws(() => manualLessor().lessor.grant(1n, 1.5), RangeError);
  });

  test("accepts large positive and negative int64 ids", () => {
    const { lessor, store } = manualLessor();
    lessor.grant((1n << 63n) - 1n, 10);
    lessor.grant(-(1n << 63n), 10);
    assert.deepEqual(
      store.loadAll().map((r) => r.id),
      [-(1n << 63n), (1n << 63n) - 1n],
    );
  });
});

describe("revoke", () => {
  test("forgets the lease, deletes its record, returns attached keys in byte order", () => {
    const { lessor, store } = manualLessor();
    lessor.grant(1n, 10);
    lessor.grant(2n, 10);
    for (const key of ["b", "a", "c\u00ff", "c"]) lessor.attach(1n, k(key));
    lessor.attach(2n, k("z"));
    assert.deepEqual(lessor.revoke(1n).map(str), ["a", "b", "c", "c\u00ff"]);
    assert.equal(lessor.exists(1n), false);
    assert.deepEqual(
      store.loadAll().map((r) => r.id),
      [2n],
    );
    assert.deepEqual(lessor.keys(2n).map(str), ["z"]);
  });

  test("unknown lease -> lease not found; twice -> not found", () => {
    const { lessor } = manualLessor();
    assert.throws(() => lessor.revoke(9n), NOT_FOUND);
    lessor.grant(9n, 10);
    lessor.revoke(9n);
    assert.throws(() => lessor.revoke(9n), NOT_FOUND);
  });
});

describe("attach / detach", () => {
  test("attach to or detach from an unknown lease is ignored (the store calls after commit)", () => {
    const { lessor } = manualLessor();
    lessor.attach(3n, k("x"));
    lessor.detach(3n, k("x"));
    assert.equal(lessor.exists(3n), false);
    assert.throws(() => lessor.keys(3n), NOT_FOUND);
  });

  test("a key is attached once; detach removes it; keys() of unknown throws", () => {
    const { lessor } = manualLessor();
    lessor.grant(1n, 10);
    lessor.attach(1n, k("a"));
    lessor.attach(1n, k("a"));
    lessor.attach(1n, k("b"));
    lessor.detach(1n, k("a"));
    lessor.detach(1n, k("never"));
    assert.deepEqual(lessor.keys(1n).map(str), ["b"]);
    assert.throws(() => lessor.keys(2n), NOT_FOUND);
  });

  test("stores a copy of the key: later mutation of the caller's buffer does not leak in", () => {
    const { lessor } = manualLessor();
    lessor.grant(1n, 10);
    const key = k("abc");
    lessor.attach(1n, key);
    key[0] = 0x7a;
    assert.deepEqual(lessor.keys(1n).map(str), ["abc"]);
  });
});

describe("renew (keep-alive)", () => {
  test("only the leader renews", () => {
    const { lessor } = manualLessor();
    lessor.grant(1n, 10);
    assert.throws(() => lessor.renew(1n), LeaseNotPrimaryError);
  });

  test("returns the granted TTL and restarts the countdown", () => {
    const { lessor, clock } = manualLessor();
    lessor.promote(0);
    lessor.grant(1n, 10);
    clock.advance(8_000);
    assert.equal(lessor.timeToLive(1n).ttl, 2);
    assert.equal(lessor.renew(1n), 10);
    assert.equal(lessor.timeToLive(1n).ttl, 10);
    clock.advance(9_999);
    assert.deepEqual(lessor.expired(), []);
    clock.advance(1);
    assert.deepEqual(lessor.expired(), [1n]);
  });

  test("unknown lease -> not found; an expired lease awaiting revocation -> wait for it", () => {
    const { lessor, clock } = manualLessor();
    lessor.promote(0);
    assert.throws(() => lessor.renew(4n), NOT_FOUND);
    lessor.grant(4n, 5);
    clock.advance(5_000);
    assert.throws(() => lessor.renew(4n), LeaseExpiredError);
    assert.ok(lessor.exists(4n), "renewing does not revoke: that goes through raft");
  });
});

describe("timeToLive", () => {
  test("unknown lease reports TTL -1 and no keys", () => {
    const { lessor } = manualLessor();
    assert.deepEqual(lessor.timeToLive(42n, { keys: true }), { id: 42n, ttl: -1, grantedTtl: 0, keys: [] });
  });

  test("remaining seconds truncate toward zero, as etcd's int64(d.Seconds())", () => {
    const { lessor, clock } = manualLessor();
    lessor.promote(0);
    lessor.grant(1n, 10);
    assert.equal(lessor.timeToLive(1n).ttl, 10);
    clock.advance(1);
    assert.equal(lessor.timeToLive(1n).ttl, 9);
    clock.advance(8_999);
    assert.equal(lessor.timeToLive(1n).ttl, 1, "1000 ms left");
    clock.advance(1);
    assert.equal(lessor.timeToLive(1n).ttl, 0, "999 ms left");
    clock.advance(1_499);
    assert.ok(Object.is(lessor.timeToLive(1n).ttl, 0), "500 ms past expiry: 0, not -0");
    clock.advance(500);
    assert.equal(lessor.timeToLive(1n).ttl, -1, "1 s past expiry, not yet revoked");
  });

  test("keys only when asked, in byte order; a follower reports the granted TTL", () => {
    const { lessor } = manualLessor();
    lessor.grant(1n, 60);
    lessor.attach(1n, k("y"));
    lessor.attach(1n, k("x"));
    assert.deepEqual(lessor.timeToLive(1n).keys, []);
    const ttl = lessor.timeToLive(1n, { keys: true });
    assert.deepEqual(
      { ...ttl, keys: ttl.keys.map(str) },
      { id: 1n, ttl: 60, grantedTtl: 60, keys: ["x", "y"] },
    );
  });
});

test("leases() lists every lease in id order", () => {
  const { lessor } = manualLessor();
  lessor.grant(30n, 10);
  lessor.grant(10n, 1);
  lessor.grant(20n, 20);
  assert.deepEqual(lessor.leases(), [
    { id: 10n, ttl: 2 },
    { id: 20n, ttl: 20 },
    { id: 30n, ttl: 10 },
  ]);
});

describe("expiry (leader only)", () => {
  test("a follower never expires leases, however much time passes", () => {
    const { lessor, clock } = manualLessor();
    lessor.grant(1n, 2);
    clock.advance(1e9);
    assert.deepEqual(lessor.expired(), []);
    assert.equal(lessor.nextCheckAt(), undefined);
  });

  test("promote arms every lease at TTL + extend from now; a new leader extends", () => {
    const { lessor, clock } = manualLessor();
    lessor.grant(1n, 10);
    lessor.grant(2n, 20);
    clock.advance(100_000);
    lessor.promote(1_000);
    clock.advance(10_999);
    assert.deepEqual(lessor.expired(), []);
    clock.advance(1);
    assert.deepEqual(lessor.expired(), [1n]);
    lessor.revoke(1n);
    clock.advance(9_999);
    assert.deepEqual(lessor.expired(), []);
    clock.advance(1);
    assert.deepEqual(lessor.expired(), [2n]);
  });

  test("demote stops expiry; a later promote restarts at full TTL", () => {
    const { lessor, clock } = manualLessor();
    lessor.promote(0);
    lessor.grant(1n, 10);
    clock.advance(9_000);
    lessor.demote();
    clock.advance(60_000);
    assert.deepEqual(lessor.expired(), []);
    assert.throws(() => lessor.renew(1n), LeaseNotPrimaryError);
    lessor.promote(0);
    assert.equal(lessor.timeToLive(1n).ttl, 10);
    clock.advance(9_999);
    assert.deepEqual(lessor.expired(), []);
    clock.advance(1);
    assert.deepEqual(lessor.expired(), [1n]);
  });

  test("an expired lease is signalled once, then again after the retry interval while alive", () => {
    const { lessor, clock } = manualLessor({ expiredRetryMs: 3_000 });
    lessor.promote(0);
    lessor.grant(1n, 2);
    lessor.grant(2n, 2);
    clock.advance(2_000);
    assert.deepEqual(new Set(lessor.expired()), new Set([1n, 2n]));
    assert.deepEqual(lessor.expired(), []);
    lessor.revoke(2n);
    clock.advance(2_999);
    assert.deepEqual(lessor.expired(), []);
    clock.advance(1);
    assert.deepEqual(lessor.expired(), [1n]);
    assert.equal(lessor.nextCheckAt(), clock.now() + 3_000);
  });

  test("expired() returns at most `limit` leases per call, the rest on the next calls", () => {
    const { lessor, clock } = manualLessor();
    lessor.promote(0);
    for (let i = 1n; i <= 10n; i++) lessor.grant(i, 5);
    clock.advance(5_000);
    const first = lessor.expired(4);
    const second = lessor.expired(4);
    const third = lessor.expired(4);
    assert.deepEqual([first.length, second.length, third.length], [4, 4, 2]);
    assert.equal(new Set([...first, ...second, ...third]).size, 10);
  });

  test("leases expire in deadline order and nextCheckAt names the earliest deadline", () => {
    const { lessor, clock } = manualLessor();
    lessor.promote(0);
    const start = clock.now();
    lessor.grant(1n, 30);
    lessor.grant(2n, 10);
    lessor.grant(3n, 20);
    assert.equal(lessor.nextCheckAt(), start + 10_000);
    clock.advance(30_000);
    assert.deepEqual(lessor.expired(), [2n, 3n, 1n]);
  });

  test("a grant on the leader is armed at once; revoke disarms it", () => {
    const { lessor, clock } = manualLessor();
    lessor.promote(0);
    lessor.grant(1n, 3);
    lessor.revoke(1n);
    clock.advance(10_000);
    assert.deepEqual(lessor.expired(), []);
    assert.equal(lessor.nextCheckAt(), undefined);
  });
});

describe("restore", () => {
  test("rebuilds leases from the store and keys from the leased-key index", () => {
    const store = new MemoryLeaseStore();
    const before = manualLessor({ store }).lessor;
    before.grant(1n, 10);
    before.grant(2n, 20);
    const { lessor } = manualLessor({ store: new MemoryLeaseStore() });
    const summary = lessor.restore(store, [
      [1n, k("a")],
      [2n, k("b")],
      [1n, k("c")],
      [9n, k("orphan")],
    ]);
    assert.deepEqual(summary, { leases: 2, keys: 3, orphanKeys: 1 });
    assert.deepEqual(lessor.keys(1n).map(str), ["a", "c"]);
    assert.deepEqual(lessor.keys(2n).map(str), ["b"]);
    assert.deepEqual(lessor.leases(), [
      { id: 1n, ttl: 10 },
      { id: 2n, ttl: 20 },
    ]);
    lessor.grant(3n, 5);
    assert.equal(store.loadAll().length, 3, "writes go to the restored store");
  });

  test("raises stored TTLs below the minimum; on a leader leases restart at full TTL", () => {
    const store = new MemoryLeaseStore();
    store.put({ id: 1n, ttl: 3 });
    const { lessor, clock } = manualLessor({ minTtlSeconds: 5 });
    lessor.promote(0);
    lessor.restore(store, []);
    assert.equal(lessor.timeToLive(1n).grantedTtl, 5);
    assert.equal(lessor.timeToLive(1n).ttl, 5);
    clock.advance(5_000);
    assert.deepEqual(lessor.expired(), [1n]);
  });

  test("replaces the previous table entirely", () => {
    const { lessor } = manualLessor();
    lessor.grant(1n, 10);
    lessor.restore(new MemoryLeaseStore(), []);
    assert.equal(lessor.exists(1n), false);
  });
});
