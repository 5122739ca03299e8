// Lock and election recipes on top of MemberApi, for the v3lock and v3election services.
export { lock, unlock, type LockResult } from "./lock.js";
export {
  campaign,
  proclaim,
  resign,
  currentLeader,
  observe,
  type CampaignResult,
  type LeaderKey,
  type LeaderObservation,
} from "./election.js";
export { ConcurrencyError, ConcurrencyErrors } from "./errors.js";
export { DEFAULT_SESSION_TTL_SECONDS } from "./session.js";
export { contenderKey, contenderPrefix } from "./keys.js";
