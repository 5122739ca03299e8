// The lease a lock or election request acts for. etcd's servers open a client "session" per
// request: lease 0 makes it grant a fresh lease with the session's default TTL (60 s) that nobody
// keeps alive, so the key expires a minute later. Verified on etcd 3.4: Lock with lease 0 left a
// key under a new 60 s lease.
import type { LeaseId } from "../../mvcc/types.js";
import type { MemberApi } from "../member-api.js";

export const DEFAULT_SESSION_TTL_SECONDS = 60;

export async function sessionLease(
  member: MemberApi,
  lease: LeaseId,
  signal?: AbortSignal,
): Promise<LeaseId> {
  if (lease !== 0n) return lease;
  const granted = await member.leaseGrant({ id: 0n, ttl: DEFAULT_SESSION_TTL_SECONDS }, { signal });
  return granted.id;
}
