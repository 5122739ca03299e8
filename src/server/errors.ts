// Errors the member itself produces (as opposed to the state machine's, in src/mvcc/errors.ts),
// with etcd 3.4's exact messages and gRPC codes (etcdserver/api/v3rpc/rpctypes). Clients match on
// the message text, so it must not change.
import { EtcdError, type GrpcCodeName } from "../mvcc/errors.js";

const err = (message: string, code: GrpcCodeName) => () => new EtcdError(message, code);

/** Constructors (a new instance per call, so each carries its own stack). */
export const ServerErrors = {
  noLeader: err("etcdserver: no leader", "UNAVAILABLE"),
  notLeader: err("etcdserver: not leader", "FAILED_PRECONDITION"),
  leaderChanged: err("etcdserver: leader changed", "UNAVAILABLE"),
  timeout: err("etcdserver: request timed out", "UNAVAILABLE"),
  timeoutWaitAppliedIndex: err(
    "etcdserver: request timed out, waiting for the applied index took too long",
    "UNAVAILABLE",
  ),
  timeoutLeaderTransfer: err("etcdserver: request timed out, leader transfer took too long", "UNAVAILABLE"),
  stopped: err("etcdserver: server stopped", "UNAVAILABLE"),
  tooManyRequests: err("etcdserver: too many requests", "RESOURCE_EXHAUSTED"),
  unhealthy: err("etcdserver: unhealthy cluster", "UNAVAILABLE"),
  corrupt: err("etcdserver: corrupt cluster", "DATA_LOSS"),
  notSupportedForLearner: err("etcdserver: rpc not supported for learner", "UNAVAILABLE"),
  learnerNotReady: err(
    "etcdserver: can only promote a learner member which is in sync with leader",
    "FAILED_PRECONDITION",
  ),
  badLeaderTransferee: err("etcdserver: bad leader transferee", "FAILED_PRECONDITION"),
  memberNotFound: err("etcdserver: member not found", "NOT_FOUND"),
} as const;
