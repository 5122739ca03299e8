import assert from "node:assert/strict";
import { test } from "node:test";
import { EtcdError } from "../../mvcc/errors.js";
import { lock, unlock } from "./lock.js";
import { DEFAULT_SESSION_TTL_SECONDS } from "./session.js";
import { TestMember } from "./test-member.js";

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
const T = { timeout: 5000 };

/** Resolves true if `p` settles within a few event-loop turns, so "still waiting" can be asserted. */
async function settlesSoon(p: Promise<unknown>): Promise<boolean> {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((r) => setTimeout(r, 30));
  return settled;
}

async function withMember(fn: (m: TestMember) => Promise<void>): Promise<void> {
  const m = new TestMember();
  try {
    await fn(m);
    assert.equal(m.openStreams(), 0, "every watch stream the recipes opened is closed");
  } finally {
    await m.close();
  }
}

test("an uncontended lock is held at once under name/<lease hex>", T, () =>
  withMember(async (m) => {
    const { id } = await m.leaseGrant({ id: 0x1db0a20bn, ttl: 30 });
    const res = await lock(m, enc("jobs"), id);
    assert.equal(dec(res.key), "jobs/1db0a20b");
    const kv = (await m.range({ key: res.key })).kvs[0]!;
    assert.equal(kv.lease, id);
    assert.equal(kv.value.length, 0);
    assert.equal(res.header.revision, kv.createRevision);
  }),
);

test("locking with an unknown lease fails with etcd's lease-not-found error", T, () =>
  withMember(async (m) => {
    await assert.rejects(lock(m, enc("jobs"), 0x42n), (err: unknown) => {
      assert.ok(err instanceof EtcdError);
      assert.equal(err.message, "etcdserver: requested lease not found");
      return true;
    });
    assert.equal((await m.range({ key: enc("jobs/42") })).kvs.length, 0);
  }),
);

test("lease 0 locks under a fresh lease with the session TTL, as etcd's server does", T, () =>
  withMember(async (m) => {
    const res = await lock(m, enc("jobs"), 0n);
    assert.notEqual(res.lease, 0n);
    assert.equal(dec(res.key), `jobs/${res.lease.toString(16)}`);
    const ttl = await m.leaseTimeToLive(res.lease, true);
    assert.equal(ttl.grantedTtl, DEFAULT_SESSION_TTL_SECONDS);
    assert.deepEqual(ttl.keys.map(dec), [dec(res.key)]);
  }),
);

test("locking again with the same lease reuses the key and does not write", T, () =>
  withMember(async (m) => {
    const { id } = await m.leaseGrant({ id: 0n, ttl: 30 });
    const first = await lock(m, enc("jobs"), id);
    const again = await lock(m, enc("jobs"), id);
    assert.deepEqual(again.key, first.key);
    assert.equal(again.header.revision, first.header.revision);
    assert.equal(m.store.currentRevision(), first.header.revision);
  }),
);

test("a second contender gets the lock only after the first unlocks", T, () =>
  withMember(async (m) => {
    const a = (await m.leaseGrant({ id: 0xan, ttl: 30 })).id;
    const b = (await m.leaseGrant({ id: 0xbn, ttl: 30 })).id;
    const held = await lock(m, enc("L"), a);
    const waiting = lock(m, enc("L"), b);
    assert.equal(await settlesSoon(waiting), false, "b waits while a holds the lock");
    // b's key is already in line
    assert.equal((await m.range({ key: enc("L/b") })).kvs.length, 1);
    const unlocked = await unlock(m, held.key);
    const got = await waiting;
    assert.equal(dec(got.key), "L/b");
    // etcd 3.4 answers a waiter with the header of the read that found it first in line: here
    // the unlock's revision (observed: holder's unlock at 19, the waiter's LockResponse at 19)
    assert.equal(got.header.revision, unlocked.revision);
  }),
);

test("a second contender gets the lock when the holder's lease is revoked", T, () =>
  withMember(async (m) => {
    const a = (await m.leaseGrant({ id: 0xan, ttl: 30 })).id;
    const b = (await m.leaseGrant({ id: 0xbn, ttl: 30 })).id;
    await lock(m, enc("L"), a);
    const waiting = lock(m, enc("L"), b);
    assert.equal(await settlesSoon(waiting), false);
    await m.leaseRevoke(a);
    assert.equal(dec((await waiting).key), "L/b");
  }),
);

test("waiters are served in the order they queued, each waking only on its predecessor", T, () =>
  withMember(async (m) => {
    const ids = [];
    for (const id of [0x1n, 0x2n, 0x3n]) ids.push((await m.leaseGrant({ id, ttl: 30 })).id);
    const first = await lock(m, enc("q"), ids[0]!);
    const second = lock(m, enc("q"), ids[1]!);
    await settlesSoon(second);
    const third = lock(m, enc("q"), ids[2]!);
    assert.equal(await settlesSoon(third), false);
    await unlock(m, first.key);
    const secondHeld = await second;
    assert.equal(dec(secondHeld.key), "q/2");
    assert.equal(await settlesSoon(third), false, "the third still waits for the second");
    await unlock(m, secondHeld.key);
    assert.equal(dec((await third).key), "q/3");
  }),
);

test("a contender whose client goes away while waiting withdraws its key", T, () =>
  withMember(async (m) => {
    const a = (await m.leaseGrant({ id: 0xan, ttl: 30 })).id;
    const b = (await m.leaseGrant({ id: 0xbn, ttl: 30 })).id;
    await lock(m, enc("L"), a);
    const client = new AbortController();
    const waiting = lock(m, enc("L"), b, client.signal);
    assert.equal(await settlesSoon(waiting), false);
    client.abort();
    await assert.rejects(waiting, { message: /abort/i });
    assert.equal((await m.range({ key: enc("L/b") })).kvs.length, 0, "b's key is gone");
    const cleanup = m.calls.filter((c) => c.method === "deleteRange");
    assert.equal(cleanup.length, 1);
    assert.equal(cleanup[0]!.opts?.signal, undefined, "the cleanup does not use the aborted signal");
  }),
);

test("keys of other locks sharing the name as a prefix do not block", T, () =>
  withMember(async (m) => {
    const a = (await m.leaseGrant({ id: 0xan, ttl: 30 })).id;
    const b = (await m.leaseGrant({ id: 0xbn, ttl: 30 })).id;
    await lock(m, enc("L2"), a);
    await m.put({ key: enc("L"), value: enc("not a contender") });
    const res = await lock(m, enc("L"), b);
    assert.equal(dec(res.key), "L/b");
  }),
);

test("unlock deletes the key; an empty key is etcd's key-not-provided error", T, () =>
  withMember(async (m) => {
    const a = (await m.leaseGrant({ id: 0xan, ttl: 30 })).id;
    const held = await lock(m, enc("L"), a);
    await unlock(m, held.key);
    assert.equal((await m.range({ key: held.key })).kvs.length, 0);
    await unlock(m, held.key); // no key: still fine, as in etcd
    await assert.rejects(unlock(m, new Uint8Array(0)), { message: "etcdserver: key is not provided" });
  }),
);
