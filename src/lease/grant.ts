// Applying a LeaseGrant entry: the lease record and the raft index commit in one transaction, and
// an entry already applied before a restart is skipped (its lease came back from the backend).

import type { LeaseId } from "../mvcc/types.js";
import type { GrantedLease, Lessor } from "./lessor.js";
import { applyLeaseEntry, type LeaseApplyStore, type WriteTxnRunner } from "./apply-entry.js";

/**
 * Grants lease `id` (already chosen: see LeaseIdGenerator). Throws etcd's errors (too large TTL,
 * lease exists) after recording the raft index. Returns undefined when the entry was already
 * applied.
 */
export function grantLease(
  backend: WriteTxnRunner,
  store: Pick<LeaseApplyStore, "appliedIndex" | "setAppliedIndex">,
  lessor: Lessor,
  id: LeaseId,
  ttlSeconds: number,
  raftIndex?: number,
): GrantedLease | undefined {
  return applyLeaseEntry<GrantedLease | undefined>(
    backend,
    store,
    raftIndex,
    () => undefined,
    () => lessor.grant(id, ttlSeconds),
  );
}
