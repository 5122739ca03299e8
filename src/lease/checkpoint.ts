// Lease checkpoints (etcd's --experimental-enable-lease-checkpoint): the leader periodically records
// through raft how long each long-lived lease has left, so that a new leader restarts the lease's
// countdown from that remaining TTL instead of the full TTL. Every member applies a checkpoint to its
// lessor; with --experimental-enable-lease-checkpoint-persist (etcd 3.4.23/3.5; always on in 3.6)
// it is also written with the lease record, so the remaining TTL survives a restart. A keep-alive
// clears the checkpoint again (remaining TTL 0).

import type { LeaseId } from "../mvcc/types.js";
import { applyLeaseEntry, type LeaseApplyStore, type WriteTxnRunner } from "./apply-entry.js";
import type { Lessor } from "./lessor.js";

/** etcd's defaultLeaseCheckpointInterval: how long after scheduling a lease is checkpointed. */
export const DEFAULT_LEASE_CHECKPOINT_INTERVAL_MS = 5 * 60 * 1000;

/** etcd's maxLeaseCheckpointBatchSize: checkpoints in one raft entry. */
export const MAX_LEASE_CHECKPOINT_BATCH = 1000;

/** etcd's leaseCheckpointRate (per second); the leader proposes at most half of it per round. */
export const LEASE_CHECKPOINT_RATE_PER_SECOND = 1000;

/**
 * Tests only: shortens the checkpoint interval (milliseconds, at least 1000), which etcd 3.4 does
 * not let a user configure. Ignored unless lease checkpointing is enabled. Below one second no
 * lease would ever be checkpointed: when it first comes due its remaining TTL, rounded up, is still
 * its full TTL, and etcd's rule then drops it from the schedule.
 */
export const TEST_LEASE_CHECKPOINT_INTERVAL_ENV = "KVORUM_TEST_LEASE_CHECKPOINT_INTERVAL_MS";

/** etcd's LeaseCheckpoint{ID, Remaining_TTL}; a remaining TTL of 0 clears the checkpoint. */
export interface LeaseCheckpoint {
  id: LeaseId;
  remainingTtl: number;
}

/** The test override of the checkpoint interval from the environment; undefined when unset. */
export function testLeaseCheckpointIntervalMs(env: Record<string, string | undefined>): number | undefined {
  const raw = env[TEST_LEASE_CHECKPOINT_INTERVAL_ENV];
  if (raw === undefined || raw === "") return undefined;
  const ms = Number(raw);
  if (!Number.isSafeInteger(ms) || ms < 1000)
    throw new RangeError(`${TEST_LEASE_CHECKPOINT_INTERVAL_ENV} must be an integer >= 1000: ${raw}`);
  return ms;
}

/**
 * The lessor's checkpoint interval for a member: undefined (off) unless enabled, else the test
 * override when given, else etcd's default.
 */
export function checkpointIntervalOf(
  enabled: boolean,
  opts: { leaseCheckpointIntervalMs?: number },
): number | undefined {
  return enabled ? (opts.leaseCheckpointIntervalMs ?? DEFAULT_LEASE_CHECKPOINT_INTERVAL_MS) : undefined;
}

interface Due {
  id: LeaseId;
  at: number;
}

/**
 * The leader's schedule of lease checkpoints: a min-heap on due time which, like etcd's, may hold
 * a lease more than once (each entry is checked against the lease when it comes due).
 */
export class CheckpointQueue {
  private heap: Due[] = [];

  get size(): number {
    return this.heap.length;
  }

  push(id: LeaseId, at: number): void {
    const h = this.heap;
    h.push({ id, at });
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.at <= h[i]!.at) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
  }

  /** The earliest entry if it is due at `now`, removed from the queue. */
  popDue(now: number): LeaseId | undefined {
    const h = this.heap;
    const top = h[0];
    if (top === undefined || top.at > now) return undefined;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && h[l]!.at < h[m]!.at) m = l;
        if (r < h.length && h[r]!.at < h[m]!.at) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top.id;
  }

  clear(): void {
    this.heap = [];
  }
}

/**
 * Applies a LeaseCheckpoint entry: every listed lease that still exists takes its remaining TTL
 * (persisted with the lease) in one transaction with the raft index; unknown leases are skipped.
 */
export function applyLeaseCheckpoint(
  backend: WriteTxnRunner,
  store: Pick<LeaseApplyStore, "appliedIndex" | "setAppliedIndex">,
  lessor: Lessor,
  checkpoints: readonly LeaseCheckpoint[],
  raftIndex?: number,
): void {
  applyLeaseEntry(
    backend,
    store,
    raftIndex,
    () => undefined,
    () => {
      for (const cp of checkpoints) lessor.checkpoint(cp.id, cp.remainingTtl);
    },
  );
}

/**
 * One round of the leader's checkpointing (etcd runs it every 500 ms next to the expiry check):
 * proposes the due checkpoints in batches of MAX_LEASE_CHECKPOINT_BATCH, at most
 * LEASE_CHECKPOINT_RATE_PER_SECOND / 2 batches.
 */
export function proposeDueCheckpoints(lessor: Lessor, propose: (batch: LeaseCheckpoint[]) => void): void {
  for (let i = 0; i < LEASE_CHECKPOINT_RATE_PER_SECOND / 2; i++) {
    const batch = lessor.dueCheckpoints(MAX_LEASE_CHECKPOINT_BATCH);
    if (batch.length > 0) propose(batch);
    if (batch.length < MAX_LEASE_CHECKPOINT_BATCH) return;
  }
}
