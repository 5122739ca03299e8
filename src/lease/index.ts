// The public surface of src/lease, for the server and API layers.

export { systemClock, ManualClock, type Clock } from "./clock.js";
export {
  DEFAULT_EXPIRED_RETRY_MS,
  DEFAULT_MIN_TTL_SECONDS,
  MAX_LEASE_TTL_SECONDS,
  minLeaseTtlSeconds,
} from "./config.js";
export {
  KeepAliveLeaseNotFoundError,
  LeaseExpiredError,
  LeaseNotPrimaryError,
  type ExpiredLeaseOutcome,
} from "./errors.js";
export { keepAlive, renewLease } from "./renew.js";
export { LeaseIdGenerator } from "./id-generator.js";
export { BackendLeaseStore, LEASE_TABLE, type LeaseBackend } from "./backend-lease-store.js";
export { MemoryLeaseStore, type LeaseRecord, type LeaseStore } from "./lease-store.js";
export {
  Lessor,
  type GrantedLease,
  type LeaseTimeToLive,
  type LessorOptions,
  type RestoreSummary,
} from "./lessor.js";
export { grantLease } from "./grant.js";
export { applyLeaseEntry, type LeaseApplyStore, type WriteTxnRunner } from "./apply-entry.js";
export { revokeLease, type RevokeOutcome } from "./revoke.js";
