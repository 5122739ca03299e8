// Applying a lease revocation (a LeaseRevoke request, or the leader's proposal after expiry): delete
// every attached key in ONE revision, then forget the lease, inside one backend write transaction so
// a crash leaves either all of it or none of it. Keys are deleted in byte order (as etcd does) so
// every member produces the same backend contents.

import type { LeaseId, TxnRequest, TxnResponse } from "../mvcc/types.js";
import type { Lessor } from "./lessor.js";

/** What revocation needs from the MVCC store (structural: MvccStore satisfies it). */
export interface RevocableStore {
  txn(req: TxnRequest, raftIndex?: number): TxnResponse;
}

/** The backend's transaction runner (a nested writeTxn joins the outer one). */
export interface WriteTxnRunner {
  writeTxn<T>(fn: () => T): T;
}

export interface RevokeOutcome {
  /** The keys deleted, in byte order (empty when the lease had none). */
  deleted: Uint8Array[];
  /** The revision of the deletion; undefined when there was nothing to delete (no new revision). */
  revision: number | undefined;
}

/**
 * Revokes lease `id`: one Txn with one DeleteRange per attached key and no compares (a single new
 * revision, one DELETE event per key), then removal of the lease and its record. Throws
 * Errors.leaseNotFound for an unknown lease, changing nothing.
 */
export function revokeLease(
  backend: WriteTxnRunner,
  store: RevocableStore,
  lessor: Lessor,
  id: LeaseId,
  raftIndex?: number,
): RevokeOutcome {
  return backend.writeTxn(() => {
    const keys = lessor.keys(id);
    let revision: number | undefined;
    if (keys.length > 0) {
      const req: TxnRequest = {
        compare: [],
        success: keys.map((key) => ({ requestDeleteRange: { key } })),
        failure: [],
      };
      try {
        revision = store.txn(req, raftIndex).header.revision;
      } catch (e) {
        // The backend rolls back; undo any detach the store made before failing, too.
        for (const key of keys) lessor.attach(id, key);
        throw e;
      }
    }
    lessor.revoke(id);
    return { deleted: keys, revision };
  });
}
