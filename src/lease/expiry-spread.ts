// Spreading piled-up expiries when a member becomes leader. After a leader change every lease is
// re-armed at once, so leases granted in a burst would all expire in the same instant and flood raft
// with revocations. Like etcd (which does this only with at least leaseRevokeRate leases), we cap the
// expiry rate at 3/4 of the revoke rate: walking leases by expiry, none may expire sooner than
// 1/target s after the previous one; a lease that would is pushed just past it. Leases are only ever
// pushed later, never earlier, and order is preserved.

import { LEASE_REVOKE_RATE_PER_SECOND } from "./config.js";

/**
 * Pushes back the expiry (ms) of leases in a pile-up, in place; returns how many moved. Does
 * nothing with fewer leases than the revoke rate.
 */
export function spreadExpiries(
  leases: readonly { expiry: number }[],
  revokeRatePerSecond = LEASE_REVOKE_RATE_PER_SECOND,
): number {
  if (leases.length < revokeRatePerSecond) return 0;
  const targetPerSecond = Math.floor((3 * revokeRatePerSecond) / 4);
  const sorted = [...leases].sort((a, b) => a.expiry - b.expiry);
  // `anchor` is the last expiry left in place; the n-th lease pushed after it goes to
  // anchor + n/target s (computed by multiplication, so no rounding error accumulates).
  let anchor = Number.NEGATIVE_INFINITY;
  let pushed = 0;
  let moved = 0;
  for (const lease of sorted) {
    const earliest = anchor + ((pushed + 1) * 1000) / targetPerSecond;
    if (lease.expiry >= earliest) {
      anchor = lease.expiry;
      pushed = 0;
    } else {
      pushed++;
      moved++;
      lease.expiry = earliest;
    }
  }
  return moved;
}
