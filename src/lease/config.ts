// Lease limits and timing constants, with etcd 3.4's values and the rule for the minimum TTL.

/** etcd's MaxLeaseTTL: a grant above this fails with "etcdserver: too large lease TTL". */
export const MAX_LEASE_TTL_SECONDS = 9_000_000_000;

/** etcd's minimum with its defaults (election 10 ticks of 100 ms): ceil(1.5 s) = 2 s. */
export const DEFAULT_MIN_TTL_SECONDS = 2;

/**
 * How long an expired lease waits before it is signalled again when its revocation has not gone
 * through (etcd's lessor default; etcd's server passes its request timeout, 5 s + 2 × election
 * timeout, instead).
 */
export const DEFAULT_EXPIRED_RETRY_MS = 3_000;

/**
 * etcd's leaseRevokeRate: revocations per second the leader aims to stay under. The leader asks for
 * at most half of it per 500 ms check, and spreads out piled-up expiries when it is promoted.
 */
export const LEASE_REVOKE_RATE_PER_SECOND = 1_000;

/** Default cap on leases returned by one `expired()` call (etcd: leaseRevokeRate / 2 per 500 ms). */
export const DEFAULT_EXPIRED_BATCH = LEASE_REVOKE_RATE_PER_SECOND / 2;

/**
 * etcd 3.4's minimum lease TTL in seconds: the election timeout's 1.5× computed in whole ticks with
 * integer division, `(3 × electionTicks) / 2` ticks of `heartbeatMs`, then rounded up to seconds.
 */
export function minLeaseTtlSeconds(electionTicks: number, heartbeatMs: number): number {
  const ticks = Math.floor((3 * electionTicks) / 2);
  return Math.ceil((ticks * heartbeatMs) / 1000);
}
