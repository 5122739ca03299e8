// Membership changes as etcd makes them: the checks before a change is proposed (etcd's errors
// and their order), the context a ConfChange entry carries (the member's attributes and the
// request that proposed it), and the effect of an applied change on the member table.
// The raft side (voters, learners, one change at a time) is src/raft's; this is the cluster's.
import { ConfChangeType, type ConfChange } from "../raft/index.js";
import { EtcdError } from "../mvcc/errors.js";
import { ServerErrors } from "./errors.js";
import { memberIdFor, normalizePeerUrl } from "./maintenance/identity.js";
import type { MemberInfo } from "./member-api.js";
import type { MemberTable } from "./members.js";
import { memberIdOf, nodeIdOf } from "./identity.js";

const err = (message: string, code: EtcdError["code"]) => () => new EtcdError(message, code);

/** etcd 3.4's membership errors (rpctypes), exact text and gRPC code. */
export const MembershipErrors = {
  memberExist: err("etcdserver: member ID already exist", "FAILED_PRECONDITION"),
  peerUrlExist: err("etcdserver: Peer URLs already exists", "FAILED_PRECONDITION"),
  notEnoughStarted: err(
    "etcdserver: re-configuration failed due to not enough started members",
    "FAILED_PRECONDITION",
  ),
  badUrls: err("etcdserver: given member URLs are invalid", "INVALID_ARGUMENT"),
  memberNotFound: err("etcdserver: member not found", "NOT_FOUND"),
  memberNotLearner: err("etcdserver: can only promote a learner member", "FAILED_PRECONDITION"),
  learnerNotReady: err(
    "etcdserver: can only promote a learner member which is in sync with leader",
    "FAILED_PRECONDITION",
  ),
  tooManyLearners: err("etcdserver: too many learner members in cluster", "FAILED_PRECONDITION"),
} as const;

/** etcd 3.4 allows one learner at a time. */
export const MAX_LEARNERS = 1;
/** A learner may be promoted once its log has 90 % of the leader's (etcd's readiness rule). */
export const LEARNER_READY_PERCENT = 0.9;

/** What a ConfChange entry carries besides the node ID: the member and the proposal's ID. */
export interface ConfChangeContext {
  requestId: string;
  member: { id: string; name: string; peerUrls: string[]; clientUrls: string[]; isLearner: boolean };
}

const utf8 = new TextEncoder();
const utf8d = new TextDecoder();

export function encodeContext(ctx: ConfChangeContext): Uint8Array {
  return utf8.encode(JSON.stringify(ctx));
}

export function decodeContext(data: Uint8Array): ConfChangeContext | undefined {
  if (data.length === 0) return undefined;
  try {
    return JSON.parse(utf8d.decode(data)) as ConfChangeContext;
  } catch {
    return undefined;
  }
}

/** Normalized peer URLs, or etcd's bad-URLs error. */
export function validPeerUrls(urls: readonly string[]): string[] {
  if (urls.length === 0) throw MembershipErrors.badUrls();
  try {
    return urls.map(normalizePeerUrl);
  } catch {
    throw MembershipErrors.badUrls();
  }
}

function urlsInUse(table: MemberTable, urls: readonly string[], except?: bigint): boolean {
  const wanted = new Set(urls);
  return table.list().some((m) => m.id !== except && m.peerUrls.some((u) => wanted.has(u)));
}

/** What etcd's strict reconfiguration checks look at. */
export interface ClusterHealth {
  voters: string[];
  /** Node IDs of voters this member (the leader) has heard from recently, itself included. */
  active: Set<string>;
}

/** A member counts as started once it has published its name (etcd's IsStarted). */
function startedVoters(table: MemberTable, voters: readonly string[]): string[] {
  return voters.filter((v) => (table.get(memberIdOf(v))?.name ?? "") !== "");
}

const quorum = (n: number) => Math.floor(n / 2) + 1;

/** The ConfChange for MemberAdd, after etcd's checks. */
export function planAdd(
  table: MemberTable,
  peerUrls: readonly string[],
  isLearner: boolean,
  health: ClusterHealth,
  requestId: string,
  now = new Date(),
): ConfChange {
  const urls = validPeerUrls(peerUrls);
  if (urlsInUse(table, urls)) throw MembershipErrors.peerUrlExist();
  const id = memberIdFor(urls, "", now);
  if (table.get(id) !== undefined) throw MembershipErrors.memberExist();
  if (isLearner) {
    if (table.list().filter((m) => m.isLearner).length >= MAX_LEARNERS)
      throw MembershipErrors.tooManyLearners();
  } else {
    // Adding a voter that has not started yet raises the quorum: the started voters must still
    // reach it (etcd lets a lone member add a second one, as restoring a cluster needs).
    const started = startedVoters(table, health.voters).length;
    const after = health.voters.length + 1;
    if (!(started === 1 && after === 2) && started < quorum(after)) throw MembershipErrors.notEnoughStarted();
    if (health.voters.some((v) => !health.active.has(v))) throw ServerErrors.unhealthy();
  }
  const member = { id: nodeIdOf(id), name: "", peerUrls: urls, clientUrls: [], isLearner };
  return {
    type: isLearner ? ConfChangeType.AddLearnerNode : ConfChangeType.AddNode,
    nodeId: nodeIdOf(id),
    context: encodeContext({ requestId, member }),
  };
}

export function planRemove(
  table: MemberTable,
  id: bigint,
  health: ClusterHealth,
  requestId: string,
): ConfChange {
  const m = table.get(id);
  if (m === undefined) throw MembershipErrors.memberNotFound();
  if (!m.isLearner) {
    const target = nodeIdOf(id);
    const remaining = health.voters.filter((v) => v !== target);
    if (startedVoters(table, remaining).length < quorum(remaining.length))
      throw MembershipErrors.notEnoughStarted();
    // A member that is down is safe to remove; otherwise the active ones left must keep a quorum.
    if (health.active.has(target)) {
      const activeLeft = remaining.filter((v) => health.active.has(v)).length;
      if (activeLeft < quorum(remaining.length)) throw ServerErrors.unhealthy();
    }
  }
  return {
    type: ConfChangeType.RemoveNode,
    nodeId: nodeIdOf(id),
    context: encodeContext({ requestId, member: toContextMember(m) }),
  };
}

export function planUpdate(
  table: MemberTable,
  id: bigint,
  peerUrls: readonly string[],
  requestId: string,
): ConfChange {
  const m = table.get(id);
  if (m === undefined) throw MembershipErrors.memberNotFound();
  const urls = validPeerUrls(peerUrls);
  if (urlsInUse(table, urls, id)) throw MembershipErrors.peerUrlExist();
  return {
    type: ConfChangeType.UpdateNode,
    nodeId: nodeIdOf(id),
    context: encodeContext({ requestId, member: { ...toContextMember(m), peerUrls: urls } }),
  };
}

export function planPromote(
  table: MemberTable,
  id: bigint,
  learnerMatch: number,
  leaderMatch: number,
  requestId: string,
): ConfChange {
  const m = table.get(id);
  if (m === undefined) throw MembershipErrors.memberNotFound();
  if (!m.isLearner) throw MembershipErrors.memberNotLearner();
  if (learnerMatch < leaderMatch * LEARNER_READY_PERCENT) throw MembershipErrors.learnerNotReady();
  return {
    type: ConfChangeType.AddNode,
    nodeId: nodeIdOf(id),
    context: encodeContext({ requestId, member: { ...toContextMember(m), isLearner: false } }),
  };
}

function toContextMember(m: MemberInfo): ConfChangeContext["member"] {
  return {
    id: nodeIdOf(m.id),
    name: m.name,
    peerUrls: m.peerUrls,
    clientUrls: m.clientUrls,
    isLearner: m.isLearner,
  };
}

/** Applies a committed membership change to the table (idempotent: replays give the same table). */
export function applyToTable(table: MemberTable, cc: ConfChange): void {
  const id = memberIdOf(cc.nodeId);
  const ctx = decodeContext(cc.context);
  const existing = table.get(id);
  switch (cc.type) {
    case ConfChangeType.AddNode:
      if (existing !== undefined) table.set({ ...existing, isLearner: false });
      else if (ctx !== undefined) table.set({ ...fromContext(ctx), isLearner: false });
      break;
    case ConfChangeType.AddLearnerNode:
      if (existing === undefined && ctx !== undefined) table.set({ ...fromContext(ctx), isLearner: true });
      break;
    case ConfChangeType.RemoveNode:
      table.remove(id);
      break;
    case ConfChangeType.UpdateNode:
      if (existing !== undefined && ctx !== undefined)
        table.set({ ...existing, peerUrls: ctx.member.peerUrls });
      break;
  }
}

function fromContext(ctx: ConfChangeContext): MemberInfo {
  return {
    id: memberIdOf(ctx.member.id),
    name: ctx.member.name,
    peerUrls: ctx.member.peerUrls,
    clientUrls: ctx.member.clientUrls,
    isLearner: ctx.member.isLearner,
  };
}
