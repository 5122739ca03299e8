// Errors of the lessor that are not etcd client-visible messages. etcd's own messages live in
// src/mvcc/errors.ts (Errors.leaseNotFound and friends); these tell the server what to do instead.

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
