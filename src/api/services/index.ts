// The whole handler table of the client port: every etcd v3 service, the election and lock
// services and gRPC health, keyed by method path. gRPC and the JSON gateway both serve from it.
import type { MemberApi } from "../../server/member-api.js";
import type { ApiOptions } from "../convert.js";
import type { HandlerTable } from "../handler-types.js";
import { authHandlers } from "./auth.js";
import { clusterHandlers } from "./cluster.js";
import { electionHandlers } from "./election.js";
import { healthHandlers } from "./health.js";
import { kvHandlers } from "./kv.js";
import { guardLeader } from "./leader-guard.js";
import { guardLearner } from "./learner-guard.js";
import { leaseHandlers } from "./lease.js";
import { lockHandlers } from "./lock.js";
import { maintenanceHandlers } from "./maintenance.js";
import { watchHandlers } from "./watch.js";

export type { ApiOptions } from "../convert.js";

export function createHandlerTable(member: MemberApi, opts: ApiOptions): HandlerTable {
  const table: HandlerTable = new Map();
  for (const part of [
    kvHandlers(member, opts),
    watchHandlers(member, opts),
    leaseHandlers(member, opts),
    clusterHandlers(member, opts),
    maintenanceHandlers(member, opts),
    authHandlers(member, opts),
    healthHandlers(member, opts),
    lockHandlers(member),
    electionHandlers(member),
  ]) {
    for (const [path, handler] of part) table.set(path, handler);
  }
  return guardLearner(guardLeader(table, member, opts.electionTimeoutMs ?? 1000), member);
}
