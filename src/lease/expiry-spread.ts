// Spreading piled-up expiries when a member becomes leader. After a leader change every lease is
// re-armed at once, so leases granted in a burst would all expire in the same instant and flood raft
// with revocations. Like etcd (which does this only with at least leaseRevokeRate leases), we cap the
// expiry rate at 3/4 of the revoke rate: walking leases by expiry, none may expire sooner than
// 1/target s after the previous one; a lease that would is pushed just past it. Leases are only ever
// pushed later, never earlier, and order is preserved.

import { LEASE_REVOKE_RATE_PER_SECOND } from "./config.js";

export interface Scheduled<Id> {
  id: Id;
  expiry: number;
}

/** Returns the new expiry (ms) of every lease that must move, in expiry order. */
export function spreadExpiries<Id>(
  leases: readonly Scheduled<Id>[],
  revokeRatePerSecond = LEASE_REVOKE_RATE_PER_SECOND,
): Scheduled<Id>[] {
  if (leases.length < revokeRatePerSecond) return [];
  const targetPerSecond = Math.floor((3 * revokeRatePerSecond) / 4);
  const sorted = [...leases].sort((a, b) => a.expiry - b.expiry);
  const moved: Scheduled<Id>[] = [];
  // `anchor` is the last expiry left in place; the n-th lease pushed after it goes to
  // anchor + n/target s (computed by multiplication, so no rounding error accumulates).
  let anchor = Number.NEGATIVE_INFINITY;
  let pushed = 0;
  for (const lease of sorted) {
    const earliest = anchor + ((pushed + 1) * 1000) / targetPerSecond;
    if (lease.expiry >= earliest) {
      anchor = lease.expiry;
      pushed = 0;
    } else {
      pushed++;
      moved.push({ id: lease.id, expiry: earliest });
    }
  }
  return moved;
}
