// A keep-alive on the leader, with etcd's handling of a lease that has expired but whose
// revocation is not applied yet: the answer waits for the revocation ("lease not found") or, when
// this member stops leading first, fails with LeaseNotPrimaryError so that the caller asks the new
// leader, as etcd's server does.
import { EtcdError, Errors } from "../mvcc/errors.js";
import type { LeaseId } from "../mvcc/types.js";
import { KeepAliveLeaseNotFoundError, LeaseExpiredError, LeaseNotPrimaryError } from "./errors.js";
import type { Lessor } from "./lessor.js";

/** Renews lease `id`; resolves with its granted TTL. */
export async function renewLease(lessor: Lessor, id: LeaseId): Promise<number> {
  try {
    return lessor.renew(id);
  } catch (err) {
    if (!(err instanceof LeaseExpiredError)) throw err;
    const outcome = await err.outcome;
    if (outcome === "revoked") throw Errors.leaseNotFound();
    throw new LeaseNotPrimaryError();
  }
}

/**
 * A client's keep-alive on a member: renewed here on the leader, else by `askLeader`. `revision` is
 * the member's revision when the request came, which etcd's answer header reports; "lease not
 * found" is thrown as KeepAliveLeaseNotFoundError carrying it.
 */
export async function keepAlive(
  lessor: Lessor,
  id: LeaseId,
  revision: number,
  askLeader: () => Promise<number>,
): Promise<{ ttl: number; revision: number }> {
  try {
    try {
      return { ttl: await renewLease(lessor, id), revision };
    } catch (err) {
      if (!(err instanceof LeaseNotPrimaryError)) throw err;
    }
    return { ttl: await askLeader(), revision };
  } catch (err) {
    if (err instanceof EtcdError && err.message === Errors.leaseNotFound().message) {
      throw new KeepAliveLeaseNotFoundError(revision);
    }
    throw err;
  }
}
