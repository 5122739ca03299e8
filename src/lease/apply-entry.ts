// Applying a raft entry that changes leases: one backend write transaction holding the change and
// the entry's raft index, skipped when the index is already applied (replay after a restart).

import { EtcdError } from "../mvcc/errors.js";
import type { LeaseId, TxnRequest, TxnResponse } from "../mvcc/types.js";

/** What lease application needs from the MVCC store (structural: MvccStore satisfies it). */
export interface LeaseApplyStore {
  txn(req: TxnRequest, raftIndex?: number): TxnResponse;
  keysOfLease(id: LeaseId): Iterable<Uint8Array>;
  appliedIndex(): number;
  setAppliedIndex(raftIndex: number): void;
}

/** The backend's transaction runner (a nested writeTxn joins the outer one). */
export interface WriteTxnRunner {
  writeTxn<T>(fn: () => T): T;
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/**
 * Runs `apply` in one write transaction with the raft index, unless `raftIndex` is already applied.
 * If `apply` rejects the request with an etcd error (raised before it writes anything), the raft
 * index is still recorded (the entry was applied; its answer is the error) and the error rethrown.
 * Any other error aborts the whole transaction. Shared by lease grant and revoke.
 */
export function applyLeaseEntry<T>(
  backend: WriteTxnRunner,
  store: Pick<LeaseApplyStore, "appliedIndex" | "setAppliedIndex">,
  raftIndex: number | undefined,
  skipped: () => T,
  apply: () => T,
): T {
  const outcome = backend.writeTxn((): Outcome<T> => {
    if (raftIndex !== undefined && raftIndex <= store.appliedIndex()) return { ok: true, value: skipped() };
    let result: Outcome<T>;
    try {
      result = { ok: true, value: apply() };
    } catch (error) {
      if (!(error instanceof EtcdError)) throw error;
      result = { ok: false, error };
    }
    if (raftIndex !== undefined) store.setAppliedIndex(raftIndex);
    return result;
  });
  if (!outcome.ok) throw outcome.error;
  return outcome.value;
}
