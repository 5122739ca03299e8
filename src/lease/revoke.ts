// Applying a lease revocation (a LeaseRevoke request, or the leader's proposal after expiry): delete
// every attached key in ONE revision, then forget the lease, inside one backend write transaction
// that also records the raft index, so a crash leaves either all of it or none of it. The keys come
// from the store's on-disk lease index (it sees earlier writes of the same transaction, which the
// lessor's in-memory view only learns after commit), in byte order as etcd deletes them.

import { Errors } from "../mvcc/errors.js";
import type { LeaseId, TxnRequest } from "../mvcc/types.js";
import { applyLeaseEntry, type LeaseApplyStore, type WriteTxnRunner } from "./apply-entry.js";
import type { Lessor } from "./lessor.js";

export interface RevokeOutcome {
  /** The keys deleted, in byte order (empty when the lease had none). */
  deleted: Uint8Array[];
  /** The revision of the deletion; undefined when nothing was deleted (no new revision). */
  revision: number | undefined;
  /** True when raftIndex was already applied: nothing was done. */
  skipped: boolean;
}

/**
 * Revokes lease `id`: one Txn with one DeleteRange per attached key and no compares (a single new
 * revision, one DELETE event per key), then removal of the lease and its record. Throws
 * Errors.leaseNotFound for an unknown lease (recording the raft index, changing nothing else).
 *
 * The store must accept a Txn as large as the lease's key set: open the applying MvccStore with a
 * maxTxnOps above any lease's key count and enforce etcd's 128 at the API, as etcd does.
 */
export function revokeLease(
  backend: WriteTxnRunner,
  store: LeaseApplyStore,
  lessor: Lessor,
  id: LeaseId,
  raftIndex?: number,
): RevokeOutcome {
  return applyLeaseEntry<RevokeOutcome>(
    backend,
    store,
    raftIndex,
    () => ({ deleted: [], revision: undefined, skipped: true }),
    () => {
      if (!lessor.exists(id)) throw Errors.leaseNotFound();
      const keys = [...store.keysOfLease(id)];
      let revision: number | undefined;
      if (keys.length > 0) {
        const req: TxnRequest = {
          compare: [],
          success: keys.map((key) => ({ requestDeleteRange: { key } })),
          failure: [],
        };
        revision = store.txn(req).header.revision;
      }
      lessor.revoke(id);
      return { deleted: keys, revision, skipped: false };
    },
  );
}
