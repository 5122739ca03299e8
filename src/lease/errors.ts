// Errors of the lessor that are not etcd client-visible messages. etcd's own messages live in
// src/mvcc/errors.ts (Errors.leaseNotFound and friends); these tell the server what to do instead.
import { EtcdError, Errors } from "../mvcc/errors.js";

/**
 * Keep-alives are served by the leader only (etcd's ErrNotPrimary). The server forwards the request
 * to the leader, or answers "etcdserver: no leader"/"not leader" as etcd does.
 */
export class LeaseNotPrimaryError extends Error {
  constructor() {
    super("not a primary lessor");
    this.name = "LeaseNotPrimaryError";
  }
}

/** How the wait of a keep-alive on an expired lease ended. */
export type ExpiredLeaseOutcome = "revoked" | "demoted";

/**
 * A keep-alive found its lease past its expiry but not yet revoked. etcd's lessor does not answer
 * then: it waits until the revocation is applied (then "lease not found") or this member stops
 * leading (then the request goes to the new leader). `outcome` settles at that moment.
 */
export class LeaseExpiredError extends Error {
  constructor(readonly outcome: Promise<ExpiredLeaseOutcome>) {
    super("lease expired; revocation pending");
    this.name = "LeaseExpiredError";
  }
}

/**
 * etcd's "requested lease not found" for a keep-alive, with the revision the answer's header
 * reports: etcd fills that header before it renews, so it is the revision when the request came.
 */
export class KeepAliveLeaseNotFoundError extends EtcdError {
  constructor(readonly revision: number) {
    const base = Errors.leaseNotFound();
    super(base.message, base.code);
  }
}
