// The Raft role state machine: follower, pre-candidate, candidate and leader, and the rules that
// move a member between them (Raft paper §5, §6 and the thesis' pre-vote, check-quorum, leader
// transfer and ReadIndex). Pure: it reads the log through RaftLog, records outgoing messages in
// `msgs` and read answers in `readStates`; RawNode turns them into Ready.

import type { ProgressStatus, RaftConfig, RaftLogger, UnsafeRuleBreak } from "./api.js";
import { Membership } from "./membership.js";
import { ProposalDroppedError, RaftError, SnapshotTemporarilyUnavailableError } from "./errors.js";
import { RaftLog } from "./log.js";
import { Progress } from "./progress.js";
import { quorumIndex, voteOutcome } from "./quorum.js";
import { ReadOnlyQueue, contextKey } from "./read-only.js";
import {
  ConfChangeType,
  EntryType,
  MessageType,
  NONE,
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type ReadState,
  type Role,
  type Snapshot,
  type SoftState,
} from "./types.js";

/** Context of Vote messages sent because of TimeoutNow: voters skip the leader-lease check. */
export const CAMPAIGN_TRANSFER: Uint8Array = new TextEncoder().encode("CampaignTransfer");
const CAMPAIGN_TRANSFER_KEY = contextKey(CAMPAIGN_TRANSFER);

const silentLogger: RaftLogger = { debug() {}, info() {}, warn() {} };

/** Shared empty context: a zero-length array has no contents anyone could change. */
const EMPTY_CONTEXT = new Uint8Array(0);

/** A message with every field at its zero value, then `fields` (built field by field: hot path). */
export function makeMessage(fields: Partial<Message> & { type: MessageType }): Message {
  return {
    type: fields.type,
    to: fields.to ?? NONE,
    from: fields.from ?? NONE,
    term: fields.term ?? 0,
    logTerm: fields.logTerm ?? 0,
    index: fields.index ?? 0,
    entries: fields.entries ?? [],
    commit: fields.commit ?? 0,
    snapshot: fields.snapshot,
    reject: fields.reject ?? false,
    rejectHint: fields.rejectHint ?? 0,
    context: fields.context ?? EMPTY_CONTEXT,
  };
}

function voteResponseType(t: MessageType): MessageType {
  return t === MessageType.PreVote ? MessageType.PreVoteResp : MessageType.VoteResp;
}

function payloadSize(ents: readonly Entry[]): number {
  let n = 0;
  for (const e of ents) n += e.data.length;
  return n;
}

export class Raft {
  readonly id: NodeId;
  term = 0;
  vote: NodeId = NONE;
  lead: NodeId = NONE;
  role: Role = "follower";
  readonly log: RaftLog;

  /** Voters, learners and (on the leader) their replication progress. */
  readonly conf: Membership;

  msgs: Message[] = [];
  readStates: ReadState[] = [];

  private votes = new Map<NodeId, boolean>();
  leadTransferee: NodeId = NONE;
  /** Leader: index of the latest conf change in the log; a new one waits until this is applied. */
  private pendingConfIndex = 0;
  private uncommittedSize = 0;
  private readOnly = new ReadOnlyQueue();
  /** ReadIndex requests held back until this leader has committed an entry of its own term. */
  private pendingReadIndex: Message[] = [];

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  /** Ticks since construction; heartbeats carry it as their lease stamp (lease-based reads only). */
  private ticks = 0;
  /** Leader, lease-based reads: per voter, the highest send tick of a heartbeat it acknowledged. */
  private leaseAcks = new Map<NodeId, number>();
  /** Leader: a TimeoutNow went out this term; its campaign may ignore leases, so no lease reads. */
  private timeoutNowSent = false;
  private randomizedElectionTimeout = 0;

  private readonly electionTimeout: number;
  private readonly heartbeatTimeout: number;
  private readonly maxSizePerMsg: number;
  private readonly maxInflight: number;
  private readonly maxUncommittedSize: number;
  private readonly checkQuorum: boolean;
  private readonly preVote: boolean;
  private readonly readOnlyOption: RaftConfig["readOnlyOption"];
  private readonly disableProposalForwarding: boolean;
  private readonly random: () => number;
  readonly logger: RaftLogger;
  private readonly breaks: ReadonlySet<UnsafeRuleBreak>;

  constructor(config: RaftConfig) {
    if (config.id === NONE) throw new RaftError("raft: config.id must not be empty");
    if (config.heartbeatTick <= 0) throw new RaftError("raft: heartbeatTick must be > 0");
    if (config.electionTick <= config.heartbeatTick) {
      throw new RaftError("raft: electionTick must be greater than heartbeatTick");
    }
    if (config.readOnlyOption === "lease-based" && !config.checkQuorum) {
      throw new RaftError("raft: readOnlyOption lease-based requires checkQuorum");
    }
    this.id = config.id;
    this.electionTimeout = config.electionTick;
    this.heartbeatTimeout = config.heartbeatTick;
    this.maxSizePerMsg = config.maxSizePerMsg;
    this.maxInflight = config.maxInflightMsgs;
    this.maxUncommittedSize = config.maxUncommittedEntriesSize ?? 0;
    this.checkQuorum = config.checkQuorum;
    this.preVote = config.preVote;
    this.readOnlyOption = config.readOnlyOption;
    this.disableProposalForwarding = config.disableProposalForwarding;
    this.random = config.random;
    this.logger = config.logger ?? silentLogger;
    this.breaks = new Set(config.unsafeRuleBreaks ?? []);
    if (this.breaks.size > 0) {
      this.logger.warn(
        `raft ${this.id}: UNSAFE rule breaks enabled (tests only): ${[...this.breaks].join(", ")}`,
      );
    }

    this.log = new RaftLog(config.storage);
    this.conf = new Membership(this.maxInflight);
    const { hardState, confState } = config.storage.initialState();
    this.conf.reset(confState, this.log.lastIndex() + 1);
    this.term = hardState.term;
    this.vote = hardState.vote;
    const commit = Math.max(hardState.commit, this.log.committed);
    if (commit > this.log.lastIndex()) {
      throw new RaftError(`raft: stored commit ${commit} is beyond the last index ${this.log.lastIndex()}`);
    }
    this.log.committed = commit;
    const applied = config.applied ?? 0;
    if (applied > 0) {
      if (applied > this.log.lastIndex()) {
        throw new RaftError(`raft: applied ${applied} is beyond the last index ${this.log.lastIndex()}`);
      }
      // Whatever was applied was committed, even if the stored commit lags behind.
      this.log.committed = Math.max(this.log.committed, applied);
      this.log.appliedTo(applied);
    }
    this.becomeFollower(this.term, NONE);
  }

  breaksRule(rule: UnsafeRuleBreak): boolean {
    return this.breaks.has(rule);
  }

  // ---- observable state -------------------------------------------------------------------

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  softState(): SoftState {
    return { lead: this.lead, role: this.role };
  }

  confState(): ConfState {
    return this.conf.confState();
  }

  progressStatus(): Map<NodeId, ProgressStatus> {
    return this.conf.progressStatus();
  }

  /** A voter in its own configuration (learners and removed members never campaign). */
  promotable(): boolean {
    return this.conf.isVoter(this.id);
  }

  // ---- membership (effective when applied; see docs/adr/0002-raft-membership.md) ------------

  applyConfChange(cc: ConfChange): ConfState {
    const next = this.log.lastIndex() + 1;
    switch (cc.type) {
      case ConfChangeType.AddNode:
      case ConfChangeType.AddLearnerNode: {
        const outcome = this.conf.add(cc.nodeId, cc.type === ConfChangeType.AddLearnerNode, next);
        if (outcome === "demotion-refused") {
          this.logger.warn(`raft ${this.id}: ignoring demotion of voter ${cc.nodeId} to learner`);
        } else if (outcome === "promoted" && this.role === "leader" && this.maybeCommit()) {
          this.afterCommit(); // a promoted voter now counts for commit
        }
        break;
      }
      case ConfChangeType.RemoveNode:
        if (this.conf.remove(cc.nodeId)) this.afterRemoval(cc.nodeId);
        break;
      case ConfChangeType.UpdateNode:
        break;
    }
    return this.confState();
  }

  private afterRemoval(id: NodeId): void {
    if (this.role !== "leader") return;
    if (id === this.id) {
      this.logger.info(`raft ${this.id}: removed from the configuration, stepping down`);
      this.becomeFollower(this.term, NONE);
      return;
    }
    if (this.leadTransferee === id) this.abortLeaderTransfer();
    // Fewer voters may mean a smaller quorum.
    if (this.conf.voters.length > 0 && this.maybeCommit()) this.afterCommit();
  }

  // ---- role transitions ---------------------------------------------------------------------

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.electionTimeout + Math.floor(this.random() * this.electionTimeout);
    this.abortLeaderTransfer();
    this.votes = new Map();
    this.conf.resetProgress(this.log.lastIndex() + 1, this.id, this.log.lastStableIndex());
    this.pendingConfIndex = 0;
    this.uncommittedSize = 0;
    this.readOnly = new ReadOnlyQueue();
    this.pendingReadIndex = [];
    this.leaseAcks = new Map();
    this.timeoutNowSent = false;
  }

  becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.role = "follower";
    this.logger.debug(`raft ${this.id}: follower at term ${term} (leader ${lead || "none"})`);
  }

  private becomePreCandidate(): void {
    if (this.role === "leader") throw new RaftError("raft: leader cannot become pre-candidate");
    // Pre-vote does not touch term or vote: a partitioned member cannot inflate terms.
    this.votes = new Map();
    this.lead = NONE;
    this.role = "pre-candidate";
  }

  private becomeCandidate(): void {
    if (this.role === "leader") throw new RaftError("raft: leader cannot become candidate");
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = "candidate";
  }

  private becomeLeader(): void {
    if (this.role === "follower") throw new RaftError("raft: follower cannot become leader");
    this.reset(this.term);
    this.lead = this.id;
    this.role = "leader";
    const self = this.conf.prs.get(this.id);
    if (self !== undefined) {
      self.becomeReplicate();
      self.match = this.log.lastStableIndex();
      self.next = this.log.lastIndex() + 1;
      self.recentActive = true;
    }
    // There may be an unapplied conf change in the log: be conservative.
    this.pendingConfIndex = this.log.lastIndex();
    // §5.4.2 / §8: an empty entry of the new term lets earlier entries commit.
    this.appendEntries([{ term: 0, index: 0, type: EntryType.Normal, data: new Uint8Array() }]);
    this.logger.info(`raft ${this.id}: leader at term ${this.term}`);
  }

  // ---- ticks --------------------------------------------------------------------------------

  tick(): void {
    this.ticks++;
    if (this.role === "leader") this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.step(makeMessage({ type: MessageType.Hup, from: this.id }));
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum) this.step(makeMessage({ type: MessageType.CheckQuorum, from: this.id }));
      // A transfer that did not finish within an election timeout is abandoned.
      if (this.role === "leader" && this.leadTransferee !== NONE) this.abortLeaderTransfer();
    }
    if (this.role !== "leader") return;
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.step(makeMessage({ type: MessageType.Beat, from: this.id }));
    }
  }

  // ---- elections ----------------------------------------------------------------------------

  /** Whether a committed but unapplied conf change exists (campaigning then could be unsafe). */
  private hasUnappliedConfChange(): boolean {
    const lo = Math.max(this.log.applied + 1, this.log.firstIndex());
    if (lo > this.log.committed) return false;
    try {
      return this.log.slice(lo, this.log.committed + 1).some((e) => e.type === EntryType.ConfChange);
    } catch {
      return true;
    }
  }

  private hup(transfer: boolean): void {
    if (this.role === "leader") return;
    if (!this.promotable()) {
      this.logger.debug(`raft ${this.id}: not a voter, not campaigning`);
      return;
    }
    if (this.hasUnappliedConfChange()) {
      this.logger.info(`raft ${this.id}: unapplied conf change, not campaigning`);
      return;
    }
    if (transfer) this.campaign("election", true);
    else if (this.preVote) this.campaign("pre-election", false);
    else this.campaign("election", false);
  }

  private campaign(kind: "pre-election" | "election", transfer: boolean): void {
    let voteType: MessageType;
    let term: number;
    if (kind === "pre-election") {
      this.becomePreCandidate();
      voteType = MessageType.PreVote;
      term = this.term + 1; // the term we would campaign in; our own term stays put
    } else {
      this.becomeCandidate();
      voteType = MessageType.Vote;
      term = this.term;
    }
    if (this.poll(this.id, true) === "won") {
      // A single-voter cluster wins at once.
      if (kind === "pre-election") this.campaign("election", transfer);
      else this.becomeLeader();
      return;
    }
    for (const id of this.conf.voters) {
      if (id === this.id) continue;
      this.send(
        makeMessage({
          type: voteType,
          to: id,
          term,
          index: this.log.lastIndex(),
          logTerm: this.log.lastTerm(),
          context: transfer ? CAMPAIGN_TRANSFER : EMPTY_CONTEXT,
        }),
      );
    }
  }

  private poll(id: NodeId, granted: boolean): ReturnType<typeof voteOutcome> {
    if (!this.votes.has(id)) this.votes.set(id, granted);
    return voteOutcome(this.conf.voters, this.votes);
  }

  // ---- message entry point ------------------------------------------------------------------

  step(m: Message): void {
    if (m.term === 0) {
      // local message (or a forwarded proposal / read request)
    } else if (m.term > this.term) {
      if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
        const force = contextKey(m.context) === CAMPAIGN_TRANSFER_KEY;
        const inLease = this.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTimeout;
        if (!force && inLease) {
          // We heard from a leader recently: do not let a disruptive member depose it.
          this.logger.debug(`raft ${this.id}: ignoring ${MessageType[m.type]} from ${m.from} (leader lease)`);
          return;
        }
        if (!force && this.mayHoldForgottenLease()) {
          this.logger.debug(
            `raft ${this.id}: ignoring ${MessageType[m.type]} from ${m.from} (just restarted)`,
          );
          return;
        }
      }
      if (m.type === MessageType.PreVote) {
        // A pre-vote never changes our term.
      } else if (m.type === MessageType.PreVoteResp && !m.reject) {
        // The term in a granted pre-vote answer is the one we will campaign in, not theirs.
      } else if (
        m.type === MessageType.App ||
        m.type === MessageType.Heartbeat ||
        m.type === MessageType.Snap
      ) {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if (
        (this.checkQuorum || this.preVote) &&
        (m.type === MessageType.Heartbeat || m.type === MessageType.App)
      ) {
        // A stale leader (e.g. after a partition, whose votes were ignored thanks to the lease or
        // pre-vote) learns the new term from this answer and steps down.
        this.send(makeMessage({ type: MessageType.AppResp, to: m.from }));
      } else if (m.type === MessageType.PreVote) {
        this.send(makeMessage({ type: MessageType.PreVoteResp, to: m.from, term: this.term, reject: true }));
      }
      return;
    }

    switch (m.type) {
      case MessageType.Hup:
        this.hup(false);
        return;
      case MessageType.Vote:
      case MessageType.PreVote:
        this.handleVoteRequest(m);
        return;
      default:
        break;
    }
    switch (this.role) {
      case "leader":
        this.stepLeader(m);
        return;
      case "candidate":
      case "pre-candidate":
        this.stepCandidate(m);
        return;
      case "follower":
        this.stepFollower(m);
        return;
    }
  }

  private handleVoteRequest(m: Message): void {
    const twoVotes = this.breaks.has("grant-two-votes-per-term") && m.type === MessageType.Vote;
    // §5.2: at most one vote per term (first come, first served), unless we already voted for this
    // candidate; a pre-vote may be granted for a future term.
    const canVote =
      this.vote === m.from ||
      (this.vote === NONE && this.lead === NONE) ||
      (m.type === MessageType.PreVote && m.term > this.term) ||
      twoVotes;
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      // The answer carries the candidate's term (for a pre-vote, the future term).
      this.send(makeMessage({ type: voteResponseType(m.type), to: m.from, term: m.term }));
      if (m.type === MessageType.Vote) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send(makeMessage({ type: voteResponseType(m.type), to: m.from, term: this.term, reject: true }));
    }
  }

  // ---- leader ---------------------------------------------------------------------------------

  private stepLeader(m: Message): void {
    switch (m.type) {
      case MessageType.Beat:
        this.bcastHeartbeat();
        return;
      case MessageType.CheckQuorum:
        if (!this.quorumActive()) {
          this.logger.warn(`raft ${this.id}: lost contact with a quorum, stepping down`);
          this.becomeFollower(this.term, NONE);
        }
        return;
      case MessageType.Prop:
        this.leaderPropose(m);
        return;
      case MessageType.ReadIndex:
        this.leaderReadIndex(m);
        return;
      default:
        break;
    }

    const pr = this.conf.prs.get(m.from);
    if (pr === undefined) return;
    switch (m.type) {
      case MessageType.AppResp:
        this.handleAppendResponse(m, pr);
        return;
      case MessageType.HeartbeatResp:
        this.handleHeartbeatResponse(m, pr);
        return;
      case MessageType.SnapStatus:
        if (pr.state !== "snapshot") return;
        if (m.reject) pr.pendingSnapshot = 0;
        pr.becomeProbe();
        // Wait for the follower's answer (or a heartbeat round) before probing again.
        pr.probeSent = true;
        return;
      case MessageType.Unreachable:
        if (pr.state === "replicate") pr.becomeProbe();
        return;
      case MessageType.TransferLeader:
        this.handleTransferLeader(m, pr);
        return;
      default:
        return;
    }
  }

  private leaderPropose(m: Message): void {
    if (m.entries.length === 0) throw new RaftError("raft: empty proposal");
    if (!this.conf.prs.has(this.id)) throw new ProposalDroppedError("this member was removed");
    if (this.leadTransferee !== NONE) throw new ProposalDroppedError("leadership transfer in progress");
    const entries = m.entries;
    let confIndex = 0;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (e.type !== EntryType.ConfChange) continue;
      const refusal = confIndex !== 0 ? "one configuration change at a time" : this.confChangeRefusal(e);
      if (refusal !== undefined) throw new ProposalDroppedError(refusal);
      confIndex = this.log.lastIndex() + i + 1;
    }
    if (!this.increaseUncommittedSize(entries)) {
      throw new ProposalDroppedError("too many uncommitted entries");
    }
    if (confIndex !== 0) this.pendingConfIndex = confIndex;
    this.appendEntries(entries);
    this.bcastAppend();
  }

  /** Why a conf change proposal must be refused now, or undefined if it may go ahead. */
  private confChangeRefusal(e: Entry): string | undefined {
    if (this.pendingConfIndex > this.log.applied) {
      return "a configuration change is already pending";
    }
    if (!this.committedEntryInCurrentTerm()) {
      return "leader has not yet committed an entry in its term";
    }
    return this.conf.refusal(e);
  }

  private increaseUncommittedSize(ents: readonly Entry[]): boolean {
    const s = payloadSize(ents);
    if (this.maxUncommittedSize > 0 && this.uncommittedSize > 0 && s > 0) {
      if (this.uncommittedSize + s > this.maxUncommittedSize) return false;
    }
    this.uncommittedSize += s;
    return true;
  }

  reduceUncommittedSize(ents: readonly Entry[]): void {
    if (this.role !== "leader") return;
    this.uncommittedSize = Math.max(0, this.uncommittedSize - payloadSize(ents));
  }

  /** Append new entries with this term and the next indexes. The leader's own match is NOT moved:
   * that happens in onPersisted() once the caller has made them durable. */
  private appendEntries(es: readonly Entry[]): void {
    let index = this.log.lastIndex();
    const ents = es.map((e) => ({ term: this.term, index: ++index, type: e.type, data: e.data }));
    this.log.append(ents);
  }

  /** Called by RawNode.advance: entries up to `index` with `term` are durable on this member. */
  onPersisted(index: number, term: number): void {
    if (this.role !== "leader") return;
    if (this.log.term(index) !== term) return;
    const self = this.conf.prs.get(this.id);
    if (self === undefined) return;
    if (self.maybeUpdate(Math.min(index, this.log.lastStableIndex())) && this.maybeCommit())
      this.afterCommit();
  }

  private maybeCommit(): boolean {
    const mci = quorumIndex(this.conf.voters, (id) => this.conf.prs.get(id)?.match ?? 0);
    if (this.breaks.has("commit-previous-term-by-counting")) {
      // Rule break: commit whatever a quorum stores, whatever its term (Figure 8).
      if (mci > this.log.committed) {
        this.log.commitTo(mci);
        return true;
      }
      return false;
    }
    return this.log.maybeCommit(mci, this.term);
  }

  /** The commit index moved on the leader: tell followers, release deferred reads. */
  private afterCommit(): void {
    this.releasePendingReadIndex();
    this.bcastAppend();
  }

  committedEntryInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  private handleAppendResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    if (m.reject) {
      let nextProbe = m.rejectHint;
      if (m.logTerm > 0) {
        // Fast back-off: skip every entry of terms the follower does not have.
        nextProbe = this.log.findConflictByTerm(m.rejectHint, m.logTerm).index;
      }
      if (pr.maybeDecrTo(m.index, nextProbe)) {
        if (pr.state === "replicate") pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index)) return;
    if (pr.state === "probe") {
      pr.becomeReplicate();
    } else if (pr.state === "snapshot" && pr.match + 1 >= this.log.firstIndex()) {
      // The follower caught up past the compaction point: ordinary replication can resume.
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === "replicate") {
      pr.inflights.freeLE(m.index);
    }
    if (this.maybeCommit()) {
      this.afterCommit();
    } else if (wasPaused) {
      this.sendAppend(m.from);
    }
    while (this.maybeSendAppend(m.from, false)) {
      // keep filling the inflight window
    }
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
      this.logger.info(`raft ${this.id}: ${m.from} caught up, sending TimeoutNow`);
      this.sendTimeoutNow(m.from);
    }
  }

  private handleHeartbeatResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    if (this.readOnlyOption === "lease-based") this.recordLeaseAck(m.from, m.index);
    pr.probeSent = false;
    if (pr.state === "replicate" && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.match < this.log.lastIndex()) this.sendAppend(m.from);
    // Read requests waiting for a heartbeat round: every one in "safe" mode, and in "lease-based"
    // mode those that arrived while the lease was not valid.
    if (m.context.length === 0) return;
    const acks = this.readOnly.recvAck(m.from, m.context);
    if (acks === undefined || voteOutcome(this.conf.voters, acks) !== "won") return;
    for (const rs of this.readOnly.advance(m.context)) this.answerReadIndex(rs.req, rs.index);
  }

  private handleTransferLeader(m: Message, pr: Progress): void {
    const to = m.from;
    if (pr.isLearner) {
      this.logger.info(`raft ${this.id}: ignoring transfer to learner ${to}`);
      return;
    }
    if (this.leadTransferee !== NONE) {
      if (this.leadTransferee === to) return;
      this.abortLeaderTransfer();
    }
    if (to === this.id) return;
    // The transfer must finish within one election timeout.
    this.electionElapsed = 0;
    this.leadTransferee = to;
    if (pr.match === this.log.lastIndex()) {
      this.sendTimeoutNow(to);
    } else {
      this.sendAppend(to);
    }
  }

  private sendTimeoutNow(to: NodeId): void {
    this.timeoutNowSent = true;
    this.send(makeMessage({ type: MessageType.TimeoutNow, to }));
  }

  private abortLeaderTransfer(): void {
    this.leadTransferee = NONE;
  }

  private quorumActive(): boolean {
    const active = new Map<NodeId, boolean>();
    for (const id of this.conf.voters) {
      const pr = this.conf.prs.get(id);
      if (id === this.id || pr?.recentActive === true) active.set(id, true);
    }
    for (const [id, pr] of this.conf.prs) if (id !== this.id) pr.recentActive = false;
    return voteOutcome(this.conf.voters, active) === "won";
  }

  private leaderReadIndex(m: Message): void {
    if (this.breaks.has("read-index-without-quorum-check")) {
      this.answerReadIndex(m, this.log.committed);
      return;
    }
    if (!this.committedEntryInCurrentTerm()) {
      // Our commit index may lag the last leader's: wait until our own empty entry commits.
      this.pendingReadIndex.push(m);
      return;
    }
    this.serveReadIndex(m);
  }

  private serveReadIndex(m: Message): void {
    const singleVoter = this.conf.voters.length === 1 && this.conf.voters[0] === this.id;
    if (singleVoter || (this.readOnlyOption === "lease-based" && this.leaseValid())) {
      this.answerReadIndex(m, this.log.committed);
      return;
    }
    // "safe" mode, or a lease that lapsed: confirm leadership with a heartbeat round.
    this.readOnly.add(this.log.committed, m);
    const acks = this.readOnly.recvAck(this.id, m.context);
    if (acks !== undefined && voteOutcome(this.conf.voters, acks) === "won") {
      for (const rs of this.readOnly.advance(m.context)) this.answerReadIndex(rs.req, rs.index);
      return;
    }
    this.bcastHeartbeat(m.context);
  }

  private recordLeaseAck(from: NodeId, sentTick: number): void {
    if (sentTick > (this.leaseAcks.get(from) ?? -1)) this.leaseAcks.set(from, sentTick);
  }

  /**
   * Lease rule (docs/adr/0005-lease-reads.md): a voter that acknowledged a heartbeat sent at our
   * tick s reset its election timer no earlier than s, and refuses votes for electionTimeout of its
   * ticks after that. So while a quorum (self counting as now) acknowledged a heartbeat sent less
   * than electionTimeout - margin ticks ago, no other leader can have been elected. A leadership
   * transfer bypasses the followers' refusal, so it voids the lease for the rest of the term.
   */
  private leaseValid(): boolean {
    if (this.leadTransferee !== NONE || this.timeoutNowSent) return false;
    const oldestFresh = this.ticks - (this.electionTimeout - this.leaseMarginTicks());
    const fresh = new Map<NodeId, boolean>();
    for (const id of this.conf.voters) {
      const acked = id === this.id ? this.ticks : this.leaseAcks.get(id);
      if (acked !== undefined && acked > oldestFresh) fresh.set(id, true);
    }
    return voteOutcome(this.conf.voters, fresh) === "won";
  }

  /** One tick for the phase between members' tick timers, plus 10% for tick-rate drift. */
  private leaseMarginTicks(): number {
    return 1 + Math.ceil(this.electionTimeout / 10);
  }

  /**
   * Lease-based reads: before the crash we may have acknowledged a leader's lease and promised it
   * not to vote for electionTimeout ticks; that promise was not persisted, so keep it after restart.
   */
  private mayHoldForgottenLease(): boolean {
    return this.readOnlyOption === "lease-based" && this.ticks < this.electionTimeout;
  }

  private releasePendingReadIndex(): void {
    if (this.pendingReadIndex.length === 0 || !this.committedEntryInCurrentTerm()) return;
    const held = this.pendingReadIndex;
    this.pendingReadIndex = [];
    for (const m of held) this.serveReadIndex(m);
  }

  private answerReadIndex(req: Message, index: number): void {
    if (req.from === NONE || req.from === this.id) {
      this.readStates.push({ index, requestCtx: req.context });
    } else {
      this.send(makeMessage({ type: MessageType.ReadIndexResp, to: req.from, index, context: req.context }));
    }
  }

  // ---- sending --------------------------------------------------------------------------------

  private send(m: Message): void {
    // Forwarded messages keep their origin (a transfer request names the transferee in `from`).
    if (m.from === NONE) m.from = this.id;
    const termless =
      m.type === MessageType.Vote ||
      m.type === MessageType.VoteResp ||
      m.type === MessageType.PreVote ||
      m.type === MessageType.PreVoteResp;
    if (termless) {
      if (m.term === 0) throw new RaftError(`raft: ${MessageType[m.type]} must carry a term`);
    } else if (m.type !== MessageType.Prop && m.type !== MessageType.ReadIndex) {
      // Forwarded proposals and read requests are term-less: the leader treats them as local.
      m.term = this.term;
    }
    this.msgs.push(m);
  }

  private sendAppend(to: NodeId): void {
    this.maybeSendAppend(to, true);
  }

  /** Send entries (or a snapshot) to `to` if its progress allows; returns whether a message went. */
  private maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.conf.prs.get(to);
    if (pr === undefined || to === this.id || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    let ents: Entry[] | undefined;
    if (prevTerm !== undefined) {
      try {
        ents = this.log.entriesFrom(pr.next, this.maxSizePerMsg);
      } catch (err) {
        if (!(err instanceof RaftError)) throw err;
        ents = undefined;
      }
    }
    if (prevTerm === undefined || ents === undefined) return this.maybeSendSnapshot(to, pr);
    if (ents.length === 0 && !sendIfEmpty) return false;
    this.send(
      makeMessage({
        type: MessageType.App,
        to,
        index: prevIndex,
        logTerm: prevTerm,
        entries: ents,
        commit: this.log.committed,
      }),
    );
    if (pr.state === "replicate" && ents.length > 0) {
      const last = ents[ents.length - 1]!.index;
      pr.optimisticUpdate(last);
      pr.inflights.add(last);
    } else if (pr.state === "probe") {
      pr.probeSent = true;
    }
    return true;
  }

  private maybeSendSnapshot(to: NodeId, pr: Progress): boolean {
    if (!pr.recentActive) {
      this.logger.debug(`raft ${this.id}: not sending a snapshot to inactive ${to}`);
      return false;
    }
    let snap: Snapshot;
    try {
      snap = this.log.snapshot();
    } catch (err) {
      if (err instanceof SnapshotTemporarilyUnavailableError) {
        this.logger.debug(`raft ${this.id}: snapshot for ${to} temporarily unavailable`);
        return false;
      }
      throw err;
    }
    if (snap.metadata.index === 0) throw new RaftError("raft: need a non-empty snapshot");
    this.send(makeMessage({ type: MessageType.Snap, to, snapshot: snap }));
    pr.becomeSnapshot(snap.metadata.index);
    return true;
  }

  private bcastAppend(): void {
    for (const id of this.conf.prs.keys()) if (id !== this.id) this.sendAppend(id);
  }

  private bcastHeartbeat(ctx?: Uint8Array): void {
    const context = ctx ?? this.readOnly.lastContext() ?? EMPTY_CONTEXT;
    for (const [id, pr] of this.conf.prs) {
      if (id === this.id) continue;
      this.send(
        makeMessage({
          type: MessageType.Heartbeat,
          to: id,
          // Never tell a follower to commit beyond what it is known to hold.
          commit: Math.min(pr.match, this.log.committed),
          // Lease-based reads: the send tick, echoed back in HeartbeatResp (unused otherwise).
          index: this.readOnlyOption === "lease-based" ? this.ticks : 0,
          context,
        }),
      );
    }
  }

  // ---- candidates and followers ---------------------------------------------------------------

  private stepCandidate(m: Message): void {
    const myResponse = this.role === "pre-candidate" ? MessageType.PreVoteResp : MessageType.VoteResp;
    switch (m.type) {
      case MessageType.Prop:
        throw new ProposalDroppedError("no leader");
      case MessageType.App:
        this.becomeFollower(m.term, m.from);
        this.handleAppendEntries(m);
        return;
      case MessageType.Heartbeat:
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case MessageType.Snap:
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case MessageType.ReadIndex:
        // As in etcd: dropped without a leader; the caller's read times out and retries.
        this.logger.info(`raft ${this.id}: no leader, dropping read index request`);
        return;
      case myResponse: {
        const outcome = this.poll(m.from, !m.reject);
        if (outcome === "won") {
          if (this.role === "pre-candidate") {
            this.campaign("election", false);
          } else {
            this.becomeLeader();
            this.bcastAppend();
          }
        } else if (outcome === "lost") {
          this.becomeFollower(this.term, NONE);
        }
        return;
      }
      default:
        return;
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.Prop:
        if (this.lead === NONE) throw new ProposalDroppedError("no leader");
        if (this.disableProposalForwarding) throw new ProposalDroppedError("proposal forwarding is disabled");
        this.send({ ...m, to: this.lead });
        return;
      case MessageType.App:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppendEntries(m);
        return;
      case MessageType.Heartbeat:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case MessageType.Snap:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case MessageType.TransferLeader:
        if (this.lead === NONE) {
          this.logger.info(`raft ${this.id}: no leader to forward the transfer request to`);
          return;
        }
        this.send({ ...m, to: this.lead });
        return;
      case MessageType.TimeoutNow:
        // A transfer skips pre-vote: the leader asked for it, so there is no partition to guard against.
        this.logger.info(`raft ${this.id}: TimeoutNow from ${m.from}, campaigning`);
        this.hup(true);
        return;
      case MessageType.ReadIndex:
        if (this.lead === NONE) {
          this.logger.info(`raft ${this.id}: no leader, dropping read index request`);
          return;
        }
        this.send({ ...m, to: this.lead });
        return;
      case MessageType.ReadIndexResp:
        this.readStates.push({ index: m.index, requestCtx: m.context });
        return;
      default:
        return;
    }
  }

  private handleAppendEntries(m: Message): void {
    if (m.index < this.log.committed) {
      this.send(makeMessage({ type: MessageType.AppResp, to: m.from, index: this.log.committed }));
      return;
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      this.send(makeMessage({ type: MessageType.AppResp, to: m.from, index: lastNew }));
      return;
    }
    // Consistency check failed: hint where our logs may agree so the leader can skip whole terms.
    const hint = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    this.send(
      makeMessage({
        type: MessageType.AppResp,
        to: m.from,
        index: m.index,
        reject: true,
        rejectHint: hint.index,
        logTerm: hint.term,
      }),
    );
  }

  private handleHeartbeat(m: Message): void {
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    // Echo the leader's lease stamp (index) so it knows which heartbeat we acknowledge.
    this.send(
      makeMessage({ type: MessageType.HeartbeatResp, to: m.from, index: m.index, context: m.context }),
    );
  }

  private handleSnapshot(m: Message): void {
    const s = m.snapshot;
    if (s !== undefined && this.restore(s)) {
      this.send(makeMessage({ type: MessageType.AppResp, to: m.from, index: this.log.lastIndex() }));
    } else {
      this.send(makeMessage({ type: MessageType.AppResp, to: m.from, index: this.log.committed }));
    }
  }

  /** Install a snapshot from the leader if it is newer than our commit. */
  private restore(s: Snapshot): boolean {
    const { index, term, confState } = s.metadata;
    if (index <= this.log.committed) return false;
    const cs = confState;
    if (!cs.voters.includes(this.id) && !cs.learners.includes(this.id)) {
      this.logger.warn(`raft ${this.id}: ignoring snapshot at ${index} whose configuration lacks us`);
      return false;
    }
    if (this.log.matchTerm(index, term)) {
      // We already hold the snapshot's last entry: just move the commit index.
      this.log.commitTo(index);
      return false;
    }
    this.log.restore(s);
    this.conf.reset(cs, this.log.lastIndex() + 1);
    const self = this.conf.prs.get(this.id);
    if (self !== undefined) self.match = this.log.lastIndex();
    return true;
  }
}
