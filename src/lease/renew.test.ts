// Keep-alives on a lease whose expiry has passed but whose revocation is not applied yet: like
// etcd's lessor, the answer waits for the revocation ("lease not found") or for a demotion (then the
// caller asks the new leader); the answer's header revision is the one from when the request came.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Errors } from "../mvcc/errors.js";
import { KeepAliveLeaseNotFoundError, LeaseNotPrimaryError } from "./errors.js";
import { MemoryLeaseStore } from "./lease-store.js";
import { keepAlive, renewLease } from "./renew.js";
import { manualLessor } from "./test-helpers.js";

const NOT_FOUND = { message: Errors.leaseNotFound().message };

/** Whether the promise is still pending after the queued microtasks and one macrotask ran. */
async function pending(p: Promise<unknown>): Promise<boolean> {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((r) => setImmediate(r));
  return !settled;
}

function expiredLease() {
  const rig = manualLessor();
  rig.lessor.promote(0);
  rig.lessor.grant(7n, 5);
  rig.clock.advance(5_000);
  return rig;
}

describe("renewLease on an expired lease", () => {
  test("answers only once the revocation is applied, then 'lease not found'", async () => {
    const { lessor } = expiredLease();
    const first = renewLease(lessor, 7n);
    const second = renewLease(lessor, 7n);
    assert.equal(await pending(first), true, "no answer while the revocation is pending");
    assert.equal(await pending(second), true);
    lessor.revoke(7n);
    await assert.rejects(first, NOT_FOUND);
    await assert.rejects(second, NOT_FOUND);
    await assert.rejects(renewLease(lessor, 7n), NOT_FOUND, "after the revocation: at once");
  });

  test("a demotion first ends the wait with LeaseNotPrimaryError (the caller asks the new leader)", async () => {
    const { lessor } = expiredLease();
    const renewal = renewLease(lessor, 7n);
    assert.equal(await pending(renewal), true);
    lessor.demote();
    await assert.rejects(renewal, LeaseNotPrimaryError);
  });

  test("a restored lease table ends the wait: revoked if the lease is gone, else asked again", async () => {
    const { lessor, clock } = manualLessor();
    lessor.promote(0);
    lessor.grant(7n, 5);
    lessor.grant(8n, 5);
    clock.advance(5_000);
    const gone = renewLease(lessor, 7n);
    const kept = renewLease(lessor, 8n);
    assert.equal(await pending(gone), true);
    assert.equal(await pending(kept), true);
    const store = new MemoryLeaseStore();
    store.put({ id: 8n, ttl: 5 });
    lessor.restore(store, []);
    await assert.rejects(gone, NOT_FOUND);
    await assert.rejects(kept, LeaseNotPrimaryError);
    assert.equal(await renewLease(lessor, 8n), 5, "the restored lease restarted its countdown");
  });

  test("a live lease renews at once", async () => {
    const { lessor } = manualLessor();
    lessor.promote(0);
    lessor.grant(9n, 10);
    assert.equal(await renewLease(lessor, 9n), 10);
  });
});

describe("keepAlive", () => {
  test("reports the revision from when the request came, also with 'lease not found'", async () => {
    const { lessor } = expiredLease();
    const answer = keepAlive(lessor, 7n, 41, () => Promise.reject(new Error("not asked")));
    lessor.revoke(7n);
    const err = await answer.then(
      () => assert.fail("renewed a revoked lease"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof KeepAliveLeaseNotFoundError);
    assert.equal(err.message, Errors.leaseNotFound().message);
    assert.equal(err.revision, 41);
  });

  test("a follower asks the leader; its 'not found' keeps the revision too", async () => {
    const { lessor } = manualLessor(); // not promoted: a follower
    lessor.grant(5n, 10);
    assert.deepEqual(await keepAlive(lessor, 5n, 3, () => Promise.resolve(10)), { ttl: 10, revision: 3 });
    await assert.rejects(
      keepAlive(lessor, 5n, 3, () => Promise.reject(Errors.leaseNotFound())),
      (e: unknown) => e instanceof KeepAliveLeaseNotFoundError && e.revision === 3,
    );
  });
});
