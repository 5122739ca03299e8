// Lease checkpoints on a manual clock: which leases the leader checkpoints and when (etcd's rules),
// that a new leader counts down from the checkpointed remaining TTL, that a keep-alive clears it,
// that the checkpoint is persisted and survives a restart, and the queue and batching helpers.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MvccStore } from "../mvcc/index.js";
import { BackendLeaseStore } from "./backend-lease-store.js";
import {
  applyLeaseCheckpoint,
  checkpointIntervalOf,
  CheckpointQueue,
  DEFAULT_LEASE_CHECKPOINT_INTERVAL_MS,
  proposeDueCheckpoints,
  testLeaseCheckpointIntervalMs,
  type LeaseCheckpoint,
} from "./checkpoint.js";
import { ManualClock } from "./clock.js";
import { grantLease } from "./grant.js";
import { Lessor } from "./lessor.js";
import { BACKENDS, manualLessor } from "./test-helpers.js";
import type { Backend } from "../mvcc/backend.js";

const INTERVAL = 5_000;

/** A leader and a follower sharing one replicated log: every checkpoint proposed is applied to both. */
function pair(intervalMs: number | null = INTERVAL, checkpointPersist = true) {
  const clock = new ManualClock(1_000_000);
  const checkpointIntervalMs = intervalMs ?? undefined;
  const a = manualLessor({ clock, checkpointIntervalMs, checkpointPersist });
  const b = manualLessor({ clock, checkpointIntervalMs, checkpointPersist });
  const both = [a.lessor, b.lessor];
  const grant = (id: bigint, ttl: number) => both.forEach((l) => l.grant(id, ttl));
  const log: LeaseCheckpoint[][] = [];
  /** One leader round: propose what is due and apply it everywhere. */
  const round = (leader: Lessor) =>
    proposeDueCheckpoints(leader, (batch) => {
      log.push(batch);
      for (const l of both) for (const cp of batch) l.checkpoint(cp.id, cp.remainingTtl);
    });
  return { clock, a: a.lessor, b: b.lessor, storeB: b.store, grant, round, log };
}

describe("checkpointing", () => {
  test("a new leader counts down from the checkpointed remaining TTL, not the full TTL", () => {
    const { clock, a, b, grant, round, log } = pair();
    a.promote(0);
    grant(1n, 60);
    clock.advance(4_900);
    round(a);
    assert.deepEqual(log, [], "not due before one interval");
    clock.advance(5_200); // 10.1 s in: 49.9 s left
    round(a);
    assert.deepEqual(log, [[{ id: 1n, remainingTtl: 50 }]], "remaining TTL rounded up");
    clock.advance(2_000);
    a.demote();
    b.promote(1_000);
    assert.equal(b.timeToLive(1n).ttl, 51, "checkpoint + extend, not 60 + extend");
  });

  test("without checkpointing a new leader restarts at the full TTL", () => {
    const { clock, a, b, grant, round, log } = pair(null);
    a.promote(0);
    grant(1n, 60);
    clock.advance(10_100);
    round(a);
    assert.deepEqual(log, []);
    a.demote();
    b.promote(1_000);
    assert.equal(b.timeToLive(1n).ttl, 61);
  });

  test("a checkpoint does not move the current leader's expiry and comes due again after applying", () => {
    const { clock, a, grant, round, log } = pair();
    a.promote(0);
    grant(1n, 60);
    clock.advance(5_000);
    round(a);
    assert.equal(a.timeToLive(1n).ttl, 55);
    clock.advance(4_999);
    round(a);
    assert.equal(log.length, 1);
    clock.advance(1);
    round(a);
    assert.deepEqual(log[1], [{ id: 1n, remainingTtl: 50 }]);
  });

  test("a lease found at its full TTL (in whole seconds) when due is dropped from the schedule", () => {
    const { clock, a, grant, round, log } = pair(500);
    a.promote(0);
    grant(1n, 60);
    clock.advance(500);
    round(a); // ceil(59.5) = 60: skipped, as etcd does, and not rescheduled
    clock.advance(5_000);
    round(a);
    assert.deepEqual(log, []);
  });

  test("only leases with more than one interval left are scheduled (etcd's rule)", () => {
    const { clock, a, grant, round, log } = pair();
    a.promote(0);
    grant(1n, 5); // not more than the 5 s interval: never checkpointed
    grant(2n, 6);
    clock.advance(5_000);
    round(a);
    assert.deepEqual(log, [[{ id: 2n, remainingTtl: 1 }]]);
  });

  test("expired leases and leases still at their full TTL are skipped", () => {
    const { clock, a, grant, round, log } = pair();
    a.promote(0);
    grant(2n, 30);
    clock.advance(5_000);
    a.renew(2n); // back at its full TTL when it comes due
    round(a);
    grant(1n, 6);
    clock.advance(7_000); // the round comes late: lease 1 has expired meanwhile
    round(a);
    assert.deepEqual(log, []);
  });

  test("a keep-alive restarts from the full TTL and clears the checkpoint through raft", () => {
    const { clock, a, b, grant, round, log } = pair();
    a.promote(0);
    grant(1n, 60);
    clock.advance(10_000);
    round(a);
    assert.deepEqual(log, [[{ id: 1n, remainingTtl: 50 }]]);
    assert.equal(a.renew(1n), 60);
    assert.equal(a.timeToLive(1n).ttl, 60);
    round(a);
    assert.deepEqual(log[1], [{ id: 1n, remainingTtl: 0 }]);
    a.demote();
    b.promote(0);
    assert.equal(b.timeToLive(1n).ttl, 60, "the clear reached the follower");
  });

  test("checkpoints are persisted with the lease; a clear writes the plain record again", () => {
    const { clock, a, storeB, grant, round } = pair();
    a.promote(0);
    grant(1n, 60);
    clock.advance(10_000);
    round(a);
    assert.deepEqual(storeB.loadAll(), [{ id: 1n, ttl: 60, remainingTtl: 50 }]);
    a.renew(1n);
    round(a);
    assert.deepEqual(storeB.loadAll(), [{ id: 1n, ttl: 60 }]);
  });

  test("without persistence a checkpoint changes memory only", () => {
    const { clock, a, b, storeB, grant, round } = pair(INTERVAL, false);
    a.promote(0);
    grant(1n, 60);
    clock.advance(10_000);
    round(a);
    assert.deepEqual(storeB.loadAll(), [{ id: 1n, ttl: 60 }]);
    a.demote();
    b.promote(0);
    assert.equal(b.timeToLive(1n).ttl, 50);
  });

  test("followers propose nothing; demotion drops the schedule; checkpoints of unknown leases are ignored", () => {
    const { clock, a, b, grant } = pair();
    grant(1n, 60);
    clock.advance(10_000);
    assert.deepEqual(b.dueCheckpoints(10), []);
    a.promote(0);
    a.demote();
    clock.advance(10_000);
    a.promote(0);
    assert.deepEqual(a.dueCheckpoints(10), [], "rescheduled from the new promote");
    b.checkpoint(99n, 5);
    assert.equal(b.exists(99n), false);
  });

  test("batches hold at most the limit and the rest follows in the same round", () => {
    const { clock, a, grant, round, log } = pair();
    a.promote(0);
    for (let i = 1; i <= 1_500; i++) grant(BigInt(i), 60);
    clock.advance(5_000);
    round(a);
    assert.deepEqual(
      log.map((b) => b.length),
      [1_000, 500],
    );
  });
});

function boot(backend: Backend, clock: ManualClock): { lessor: Lessor; store: MvccStore } {
  const lessor = new Lessor({
    store: new BackendLeaseStore(backend),
    clock,
    checkpointIntervalMs: INTERVAL,
    checkpointPersist: true,
  });
  const store = MvccStore.open(backend, { leases: lessor, maxTxnOps: 1_000_000 });
  lessor.restore(new BackendLeaseStore(backend), store.leasedKeys());
  return { lessor, store };
}

for (const kind of BACKENDS) {
  test(`a checkpointed remaining TTL survives a restart (${kind.name})`, async () => {
    const t = await kind.create();
    try {
      const clock = new ManualClock(0);
      {
        const { lessor, store } = boot(t.backend, clock);
        lessor.promote(0);
        grantLease(t.backend, store, lessor, 1n, 60, 1);
        grantLease(t.backend, store, lessor, 2n, 60, 2);
        clock.advance(20_000);
        applyLeaseCheckpoint(t.backend, store, lessor, [{ id: 1n, remainingTtl: 40 }], 3);
        assert.equal(store.appliedIndex(), 3);
      }
      const backend = await t.reopen();
      const { lessor, store } = boot(backend, clock);
      // Replaying the entry after the restart changes nothing.
      applyLeaseCheckpoint(backend, store, lessor, [{ id: 1n, remainingTtl: 7 }], 3);
      lessor.promote(0);
      assert.equal(lessor.timeToLive(1n).ttl, 40);
      assert.equal(lessor.timeToLive(2n).ttl, 60);
    } finally {
      await t.cleanup();
    }
  });
}

describe("helpers", () => {
  test("the queue pops due entries in time order, duplicates included", () => {
    const q = new CheckpointQueue();
    for (const [id, at] of [
      [3n, 30],
      [1n, 10],
      [2n, 20],
      [1n, 25],
    ] as const)
      q.push(id, at);
    assert.equal(q.popDue(5), undefined);
    const out: bigint[] = [];
    for (let id = q.popDue(30); id !== undefined; id = q.popDue(30)) out.push(id);
    assert.deepEqual(out, [1n, 2n, 1n, 3n]);
    assert.equal(q.size, 0);
  });

  test("interval: off unless enabled; etcd's 5 minutes unless a test overrides it", () => {
    assert.equal(checkpointIntervalOf(false, { leaseCheckpointIntervalMs: 10 }), undefined);
    assert.equal(checkpointIntervalOf(true, {}), DEFAULT_LEASE_CHECKPOINT_INTERVAL_MS);
    assert.equal(DEFAULT_LEASE_CHECKPOINT_INTERVAL_MS, 300_000);
    assert.equal(checkpointIntervalOf(true, { leaseCheckpointIntervalMs: 10 }), 10);
    assert.equal(testLeaseCheckpointIntervalMs({}), undefined);
    assert.equal(testLeaseCheckpointIntervalMs({ KVORUM_TEST_LEASE_CHECKPOINT_INTERVAL_MS: "1500" }), 1500);
    assert.throws(() => testLeaseCheckpointIntervalMs({ KVORUM_TEST_LEASE_CHECKPOINT_INTERVAL_MS: "x" }));
    assert.throws(() => testLeaseCheckpointIntervalMs({ KVORUM_TEST_LEASE_CHECKPOINT_INTERVAL_MS: "500" }));
  });
});
