// A small reference Raft (RaftNodeApi) used to test the simulator harness itself, independently
// of src/raft's RawNode: elections with optional pre-vote and check-quorum, replication with
// probe/replicate/snapshot flow control, snapshots, single-step membership changes, ReadIndex
// (safe mode), leader transfer, and the test-only rule breaks. Simple over fast.

import type { RaftConfig, RaftNodeApi, RaftStatus, ProgressStatus } from "../../src/raft/api.js";
import { ProposalDroppedError } from "../../src/raft/errors.js";
import {
  ConfChangeType,
  EntryType,
  MessageType,
  NONE,
  entrySize,
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type ReadState,
  type Ready,
  type Role,
  type Snapshot,
  type SoftState,
} from "../../src/raft/types.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const TRANSFER_CTX = encoder.encode("transfer");

/** ConfChange entry payload used by the reference raft: JSON of {type, nodeId}. */
export function encodeRefConfChange(cc: ConfChange): Uint8Array {
  return encoder.encode(JSON.stringify({ type: cc.type, nodeId: cc.nodeId }));
}

export function decodeRefConfChange(data: Uint8Array): ConfChange {
  const o = JSON.parse(decoder.decode(data)) as { type: ConfChangeType; nodeId: NodeId };
  return { type: o.type, nodeId: o.nodeId, context: new Uint8Array() };
}

interface Progress {
  match: number;
  next: number;
  state: "probe" | "replicate" | "snapshot";
  probeSent: boolean;
  pendingSnapshot: number;
  inflights: number[];
  recentActive: boolean;
}

interface PendingRead {
  index: number;
  from: NodeId;
  ctx: Uint8Array;
  acks: Set<NodeId>;
}

function blankMessage(type: MessageType, to: NodeId, from: NodeId, term: number): Message {
  return {
    type,
    to,
    from,
    term,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    context: new Uint8Array(),
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export class ReferenceRaft implements RaftNodeApi {
  private readonly cfg: RaftConfig;
  private readonly id: NodeId;
  private term = 0;
  private vote: NodeId = NONE;
  private lead: NodeId = NONE;
  private role: Role = "follower";
  private committed = 0;
  private applied = 0;
  private handedOut = 0;
  private unstable: Entry[] = [];
  private unstableOffset: number;
  private unstableSnap: Snapshot | undefined;
  private voters = new Set<NodeId>();
  private learners = new Set<NodeId>();
  private prs = new Map<NodeId, Progress>();
  private votes = new Map<NodeId, boolean>();
  private msgs: Message[] = [];
  private readStates: ReadState[] = [];
  private pendingReads: PendingRead[] = [];
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedTimeout = 0;
  private pendingConfIndex = 0;
  private leadTransferee: NodeId = NONE;
  private prevSoft: SoftState;
  private prevHard: HardState;

  constructor(config: RaftConfig) {
    this.cfg = config;
    this.id = config.id;
    const { hardState, confState } = config.storage.initialState();
    this.term = hardState.term;
    this.vote = hardState.vote;
    this.committed = hardState.commit;
    this.unstableOffset = config.storage.lastIndex() + 1;
    this.setConf(confState);
    const snapIndex = config.storage.firstIndex() - 1;
    this.applied = Math.max(config.applied ?? 0, snapIndex);
    this.handedOut = this.applied;
    this.becomeFollower(this.term, NONE);
    this.prevSoft = { lead: this.lead, role: this.role };
    this.prevHard = { term: this.term, vote: this.vote, commit: this.committed };
  }

  private breaks(rule: NonNullable<RaftConfig["unsafeRuleBreaks"]>[number]): boolean {
    return this.cfg.unsafeRuleBreaks?.includes(rule) ?? false;
  }

  // ---- log -----------------------------------------------------------------------------------

  private lastIndex(): number {
    if (this.unstable.length > 0) return this.unstableOffset + this.unstable.length - 1;
    if (this.unstableSnap !== undefined) return this.unstableSnap.metadata.index;
    return this.cfg.storage.lastIndex();
  }

  private firstIndex(): number {
    if (this.unstableSnap !== undefined) return this.unstableSnap.metadata.index + 1;
    return this.cfg.storage.firstIndex();
  }

  /** Term at index, or undefined if compacted or beyond the log. */
  private termAt(i: number): number | undefined {
    if (i >= this.unstableOffset) return this.unstable[i - this.unstableOffset]?.term;
    if (this.unstableSnap !== undefined) {
      if (i === this.unstableSnap.metadata.index) return this.unstableSnap.metadata.term;
      return undefined;
    }
    if (i < this.cfg.storage.firstIndex() - 1 || i > this.cfg.storage.lastIndex()) return undefined;
    return this.cfg.storage.term(i);
  }

  private lastTerm(): number {
    return this.termAt(this.lastIndex()) ?? 0;
  }

  /** Entries [lo, hi) or undefined when lo is compacted. */
  private slice(lo: number, hi: number, maxBytes = Infinity): Entry[] | undefined {
    if (lo < this.firstIndex()) return undefined;
    const out: Entry[] = [];
    let size = 0;
    const storageLast = Math.min(this.cfg.storage.lastIndex(), this.unstableOffset - 1);
    if (lo <= storageLast && this.unstableSnap === undefined) {
      for (const e of this.cfg.storage.entries(lo, Math.min(hi, storageLast + 1))) {
        size += entrySize(e);
        if (out.length > 0 && size > maxBytes) return out;
        out.push(e);
      }
    }
    for (let i = Math.max(lo, this.unstableOffset); i < hi; i++) {
      const e = this.unstable[i - this.unstableOffset];
      if (e === undefined) break;
      size += entrySize(e);
      if (out.length > 0 && size > maxBytes) return out;
      out.push(e);
    }
    return out;
  }

  private appendUnstable(ents: Entry[]): void {
    if (ents.length === 0) return;
    const first = ents[0]!.index;
    if (first === this.unstableOffset + this.unstable.length) {
      this.unstable.push(...ents);
    } else if (first <= this.unstableOffset) {
      this.unstableOffset = first;
      this.unstable = [...ents];
    } else {
      this.unstable = this.unstable.slice(0, first - this.unstableOffset).concat(ents);
    }
  }

  /** Follower append; returns the new last index or undefined when the previous entry mismatches. */
  private maybeAppend(
    prevIndex: number,
    prevTerm: number,
    commit: number,
    ents: Entry[],
  ): number | undefined {
    if (this.termAt(prevIndex) !== prevTerm) return undefined;
    const lastNew = prevIndex + ents.length;
    let conflict = -1;
    for (let k = 0; k < ents.length; k++) {
      const e = ents[k]!;
      if (this.termAt(e.index) !== e.term) {
        conflict = k;
        break;
      }
    }
    if (conflict >= 0) {
      const at = ents[conflict]!.index;
      if (at <= this.committed) throw new Error(`reference raft: conflict at committed index ${at}`);
      this.appendUnstable(ents.slice(conflict));
    }
    this.commitTo(Math.min(commit, lastNew));
    return lastNew;
  }

  private commitTo(i: number): void {
    if (i > this.committed) this.committed = Math.min(i, this.lastIndex());
  }

  // ---- roles -----------------------------------------------------------------------------------

  private resetTimers(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedTimeout = this.cfg.electionTick + Math.floor(this.cfg.random() * this.cfg.electionTick);
    this.votes.clear();
    this.leadTransferee = NONE;
    this.pendingReads = [];
  }

  private becomeFollower(term: number, lead: NodeId): void {
    this.resetTimers(term);
    this.lead = lead;
    this.role = "follower";
  }

  private becomePreCandidate(): void {
    this.votes.clear();
    this.lead = NONE;
    this.role = "pre-candidate";
  }

  private becomeCandidate(): void {
    this.resetTimers(this.term + 1);
    this.vote = this.id;
    this.role = "candidate";
  }

  private becomeLeader(): void {
    this.resetTimers(this.term);
    this.lead = this.id;
    this.role = "leader";
    const last = this.lastIndex();
    for (const id of [...this.voters, ...this.learners]) this.prs.set(id, this.freshProgress(last + 1));
    this.pendingConfIndex = last;
    this.appendAsLeader([{ term: this.term, index: 0, type: EntryType.Normal, data: new Uint8Array() }]);
  }

  private freshProgress(next: number): Progress {
    return {
      match: 0,
      next,
      state: "probe",
      probeSent: false,
      pendingSnapshot: 0,
      inflights: [],
      recentActive: true,
    };
  }

  private promotable(): boolean {
    return this.voters.has(this.id);
  }

  private quorum(): number {
    return Math.floor(this.voters.size / 2) + 1;
  }

  private hup(transfer: boolean): void {
    if (this.role === "leader" || !this.promotable()) return;
    if (this.cfg.preVote && !transfer) this.campaignPhase("pre");
    else this.campaignPhase("real", transfer);
  }

  private campaignPhase(phase: "pre" | "real", transfer = false): void {
    let term: number;
    let type: MessageType;
    if (phase === "pre") {
      this.becomePreCandidate();
      term = this.term + 1;
      type = MessageType.PreVote;
    } else {
      this.becomeCandidate();
      term = this.term;
      type = MessageType.Vote;
    }
    this.votes.set(this.id, true);
    if (this.tally() === "won") {
      if (phase === "pre") this.campaignPhase("real");
      else this.becomeLeader();
      return;
    }
    for (const v of this.voters) {
      if (v === this.id) continue;
      const m = blankMessage(type, v, this.id, term);
      m.index = this.lastIndex();
      m.logTerm = this.lastTerm();
      if (transfer) m.context = TRANSFER_CTX;
      this.msgs.push(m);
    }
  }

  private tally(): "won" | "lost" | "pending" {
    let yes = 0;
    let no = 0;
    for (const v of this.voters) {
      const r = this.votes.get(v);
      if (r === true) yes++;
      else if (r === false) no++;
    }
    if (yes >= this.quorum()) return "won";
    if (no >= this.quorum()) return "lost";
    return "pending";
  }

  // ---- RaftNodeApi -----------------------------------------------------------------------------

  tick(): void {
    if (this.role === "leader") {
      this.heartbeatElapsed++;
      this.electionElapsed++;
      if (this.electionElapsed >= this.cfg.electionTick) {
        this.electionElapsed = 0;
        if (this.cfg.checkQuorum) this.checkQuorum();
        if (this.role === "leader") this.leadTransferee = NONE;
      }
      if (this.role === "leader" && this.heartbeatElapsed >= this.cfg.heartbeatTick) {
        this.heartbeatElapsed = 0;
        this.bcastHeartbeat(new Uint8Array());
      }
      return;
    }
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private checkQuorum(): void {
    let active = 0;
    for (const v of this.voters) {
      const pr = this.prs.get(v);
      if (v === this.id || pr?.recentActive) active++;
      if (pr !== undefined && v !== this.id) pr.recentActive = false;
    }
    if (active < this.quorum()) this.becomeFollower(this.term, NONE);
  }

  campaign(): void {
    this.hup(false);
  }

  propose(data: Uint8Array): void {
    this.proposeEntry({ term: 0, index: 0, type: EntryType.Normal, data });
  }

  proposeConfChange(cc: ConfChange): void {
    this.proposeEntry({ term: 0, index: 0, type: EntryType.ConfChange, data: encodeRefConfChange(cc) });
  }

  private proposeEntry(e: Entry): void {
    if (this.role === "leader") {
      if (this.leadTransferee !== NONE) throw new ProposalDroppedError("leadership transfer in progress");
      if (e.type === EntryType.ConfChange) {
        if (this.pendingConfIndex > this.applied) throw new ProposalDroppedError("a conf change is pending");
        this.pendingConfIndex = this.lastIndex() + 1;
      }
      this.appendAsLeader([e]);
      this.bcastAppend();
      return;
    }
    if (this.lead === NONE || this.cfg.disableProposalForwarding) throw new ProposalDroppedError("no leader");
    const m = blankMessage(MessageType.Prop, this.lead, this.id, 0);
    m.entries = [e];
    this.msgs.push(m);
  }

  private appendAsLeader(ents: Entry[]): void {
    let i = this.lastIndex();
    const stamped = ents.map((e) => ({ ...e, term: this.term, index: ++i }));
    this.appendUnstable(stamped);
    const self = this.prs.get(this.id);
    if (self !== undefined) {
      self.match = i;
      self.next = i + 1;
    }
    this.maybeCommit();
  }

  applyConfChange(cc: ConfChange): ConfState {
    switch (cc.type) {
      case ConfChangeType.AddNode:
        this.learners.delete(cc.nodeId);
        this.voters.add(cc.nodeId);
        break;
      case ConfChangeType.AddLearnerNode:
        if (!this.voters.has(cc.nodeId)) this.learners.add(cc.nodeId);
        break;
      case ConfChangeType.RemoveNode:
        this.voters.delete(cc.nodeId);
        this.learners.delete(cc.nodeId);
        this.prs.delete(cc.nodeId);
        break;
      case ConfChangeType.UpdateNode:
        break;
    }
    if (this.role === "leader") {
      for (const id of [...this.voters, ...this.learners]) {
        if (!this.prs.has(id)) this.prs.set(id, this.freshProgress(this.lastIndex() + 1));
      }
      if (this.leadTransferee !== NONE && !this.voters.has(this.leadTransferee)) this.leadTransferee = NONE;
      if (!this.voters.has(this.id)) {
        this.becomeFollower(this.term, NONE);
      } else if (this.maybeCommit()) {
        this.bcastAppend();
      }
    }
    return this.confState();
  }

  private setConf(cs: ConfState): void {
    this.voters = new Set(cs.voters);
    this.learners = new Set(cs.learners);
  }

  private confState(): ConfState {
    return { voters: [...this.voters], learners: [...this.learners] };
  }

  readIndex(ctx: Uint8Array): void {
    const m = blankMessage(MessageType.ReadIndex, NONE, this.id, 0);
    m.entries = [{ term: 0, index: 0, type: EntryType.Normal, data: ctx }];
    this.step(m);
  }

  transferLeadership(to: NodeId): void {
    const m = blankMessage(MessageType.TransferLeader, NONE, to, 0);
    this.step(m);
  }

  reportUnreachable(id: NodeId): void {
    const pr = this.prs.get(id);
    if (this.role === "leader" && pr?.state === "replicate") this.toProbe(pr);
  }

  reportSnapshot(id: NodeId, ok: boolean): void {
    const pr = this.prs.get(id);
    if (this.role !== "leader" || pr === undefined || pr.state !== "snapshot") return;
    if (!ok) pr.pendingSnapshot = 0;
    this.toProbe(pr);
    pr.probeSent = true;
  }

  hasReady(): boolean {
    return (
      this.softChanged() ||
      this.hardChanged() ||
      this.unstable.length > 0 ||
      this.unstableSnap !== undefined ||
      this.msgs.length > 0 ||
      this.readStates.length > 0 ||
      this.nextCommitted().length > 0
    );
  }

  private softChanged(): boolean {
    return this.prevSoft.lead !== this.lead || this.prevSoft.role !== this.role;
  }

  private hardChanged(): boolean {
    const h = this.prevHard;
    return h.term !== this.term || h.vote !== this.vote || h.commit !== this.committed;
  }

  private nextCommitted(): Entry[] {
    if (this.unstableSnap !== undefined) return [];
    const upTo = this.breaks("apply-before-commit") ? this.lastIndex() : this.committed;
    const lo = Math.max(this.handedOut + 1, this.firstIndex());
    if (lo > upTo) return [];
    return this.slice(lo, upTo + 1) ?? [];
  }

  ready(): Ready {
    const rd: Ready = {
      readStates: this.readStates,
      entries: [...this.unstable],
      committedEntries: this.nextCommitted(),
      messages: this.msgs,
      mustSync: false,
    };
    if (this.softChanged()) {
      rd.softState = { lead: this.lead, role: this.role };
      this.prevSoft = { ...rd.softState };
    }
    if (this.hardChanged()) {
      rd.hardState = { term: this.term, vote: this.vote, commit: this.committed };
      this.prevHard = { ...rd.hardState };
    }
    if (this.unstableSnap !== undefined) rd.snapshot = this.unstableSnap;
    rd.mustSync = rd.entries.length > 0 || rd.hardState !== undefined;
    const lastHanded = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastHanded !== undefined) this.handedOut = lastHanded.index;
    this.msgs = [];
    this.readStates = [];
    return rd;
  }

  advance(rd: Ready): void {
    if (rd.snapshot !== undefined && this.unstableSnap === rd.snapshot) {
      this.unstableSnap = undefined;
      this.applied = Math.max(this.applied, rd.snapshot.metadata.index);
      this.handedOut = Math.max(this.handedOut, this.applied);
    }
    const last = rd.entries[rd.entries.length - 1];
    if (last !== undefined && this.termAt(last.index) === last.term && last.index >= this.unstableOffset) {
      this.unstable = this.unstable.slice(last.index + 1 - this.unstableOffset);
      this.unstableOffset = last.index + 1;
    }
    const lastApplied = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastApplied !== undefined) this.applied = Math.max(this.applied, lastApplied.index);
  }

  status(): RaftStatus {
    let progress: Map<NodeId, ProgressStatus> | undefined;
    if (this.role === "leader") {
      progress = new Map();
      for (const [id, pr] of this.prs) {
        progress.set(id, {
          match: pr.match,
          next: pr.next,
          state: pr.state,
          isLearner: this.learners.has(id),
          recentActive: pr.recentActive,
        });
      }
    }
    return {
      id: this.id,
      hardState: { term: this.term, vote: this.vote, commit: this.committed },
      role: this.role,
      lead: this.lead,
      applied: this.applied,
      lastIndex: this.lastIndex(),
      confState: this.confState(),
      progress,
      leadTransferee: this.leadTransferee,
    };
  }

  // ---- step --------------------------------------------------------------------------------------

  step(m: Message): void {
    if (m.type === MessageType.Hup) return this.hup(false);
    if (m.term > this.term && m.type !== MessageType.Prop && m.type !== MessageType.ReadIndex) {
      const isVote = m.type === MessageType.Vote || m.type === MessageType.PreVote;
      if (isVote) {
        const force = sameBytes(m.context, TRANSFER_CTX);
        const inLease =
          this.cfg.checkQuorum && this.lead !== NONE && this.electionElapsed < this.cfg.electionTick;
        if (!force && inLease) return;
      }
      if (m.type === MessageType.PreVote || (m.type === MessageType.PreVoteResp && !m.reject)) {
        // Pre-votes do not change terms.
      } else if (
        m.type === MessageType.App ||
        m.type === MessageType.Heartbeat ||
        m.type === MessageType.Snap
      ) {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term !== 0 && m.term < this.term) {
      if (
        (this.cfg.checkQuorum || this.cfg.preVote) &&
        (m.type === MessageType.App || m.type === MessageType.Heartbeat)
      ) {
        this.msgs.push(blankMessage(MessageType.AppResp, m.from, this.id, this.term));
      } else if (m.type === MessageType.PreVote) {
        const r = blankMessage(MessageType.PreVoteResp, m.from, this.id, this.term);
        r.reject = true;
        this.msgs.push(r);
      }
      return;
    }

    if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
      this.handleVote(m);
      return;
    }
    switch (this.role) {
      case "leader":
        return this.stepLeader(m);
      case "candidate":
      case "pre-candidate":
        return this.stepCandidate(m);
      case "follower":
        return this.stepFollower(m);
    }
  }

  private handleVote(m: Message): void {
    const pre = m.type === MessageType.PreVote;
    let canVote =
      this.vote === m.from || (this.vote === NONE && this.lead === NONE) || (pre && m.term > this.term);
    if (!pre && this.breaks("grant-two-votes-per-term") && m.term === this.term && this.role !== "leader") {
      canVote = true;
    }
    const upToDate =
      m.logTerm > this.lastTerm() || (m.logTerm === this.lastTerm() && m.index >= this.lastIndex());
    const respType = pre ? MessageType.PreVoteResp : MessageType.VoteResp;
    if (canVote && upToDate) {
      this.msgs.push(blankMessage(respType, m.from, this.id, m.term));
      if (!pre) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      const r = blankMessage(respType, m.from, this.id, this.term);
      r.reject = true;
      this.msgs.push(r);
    }
  }

  private stepCandidate(m: Message): void {
    const myResp = this.role === "pre-candidate" ? MessageType.PreVoteResp : MessageType.VoteResp;
    switch (m.type) {
      case MessageType.Prop:
        throw new ProposalDroppedError("no leader");
      case MessageType.App:
        this.becomeFollower(m.term, m.from);
        return this.handleAppend(m);
      case MessageType.Heartbeat:
        this.becomeFollower(m.term, m.from);
        return this.handleHeartbeat(m);
      case MessageType.Snap:
        this.becomeFollower(m.term, m.from);
        return this.handleSnapshot(m);
      case MessageType.ReadIndex:
        return;
      case MessageType.TimeoutNow:
        return;
      default:
        if (m.type !== myResp) return;
        this.votes.set(m.from, !m.reject);
        switch (this.tally()) {
          case "won":
            if (this.role === "pre-candidate") this.campaignPhase("real");
            else {
              this.becomeLeader();
              this.bcastAppend();
            }
            return;
          case "lost":
            this.becomeFollower(this.term, NONE);
            return;
          case "pending":
            return;
        }
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.Prop:
        if (this.lead === NONE || this.cfg.disableProposalForwarding)
          throw new ProposalDroppedError("no leader");
        this.msgs.push({ ...m, to: this.lead });
        return;
      case MessageType.App:
        this.electionElapsed = 0;
        this.lead = m.from;
        return this.handleAppend(m);
      case MessageType.Heartbeat:
        this.electionElapsed = 0;
        this.lead = m.from;
        return this.handleHeartbeat(m);
      case MessageType.Snap:
        this.electionElapsed = 0;
        this.lead = m.from;
        return this.handleSnapshot(m);
      case MessageType.TransferLeader:
        if (this.lead !== NONE) this.msgs.push({ ...m, to: this.lead });
        return;
      case MessageType.TimeoutNow:
        if (this.promotable()) this.hup(true);
        return;
      case MessageType.ReadIndex:
        if (this.lead === NONE) return;
        this.msgs.push({ ...m, to: this.lead });
        return;
      case MessageType.ReadIndexResp:
        this.readStates.push({ index: m.index, requestCtx: m.entries[0]?.data ?? new Uint8Array() });
        return;
      default:
        return;
    }
  }

  private handleAppend(m: Message): void {
    const r = blankMessage(MessageType.AppResp, m.from, this.id, this.term);
    if (m.index < this.committed) {
      r.index = this.committed;
      this.msgs.push(r);
      return;
    }
    const last = this.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (last !== undefined) {
      r.index = last;
    } else {
      r.index = m.index;
      r.reject = true;
      r.rejectHint = Math.min(m.index, this.lastIndex());
    }
    this.msgs.push(r);
  }

  private handleHeartbeat(m: Message): void {
    this.commitTo(m.commit);
    const r = blankMessage(MessageType.HeartbeatResp, m.from, this.id, this.term);
    r.context = m.context;
    this.msgs.push(r);
  }

  private handleSnapshot(m: Message): void {
    const snap = m.snapshot!;
    const r = blankMessage(MessageType.AppResp, m.from, this.id, this.term);
    const si = snap.metadata.index;
    if (si <= this.committed) {
      r.index = this.committed;
    } else if (this.termAt(si) === snap.metadata.term) {
      this.commitTo(si);
      r.index = si;
    } else {
      this.unstableSnap = snap;
      this.unstable = [];
      this.unstableOffset = si + 1;
      this.committed = si;
      this.setConf(snap.metadata.confState);
      r.index = si;
    }
    this.msgs.push(r);
  }

  // ---- leader ------------------------------------------------------------------------------------

  private stepLeader(m: Message): void {
    switch (m.type) {
      case MessageType.Beat:
        return this.bcastHeartbeat(new Uint8Array());
      case MessageType.CheckQuorum:
        return this.checkQuorum();
      case MessageType.Prop:
        if (this.leadTransferee !== NONE) throw new ProposalDroppedError("leadership transfer in progress");
        for (const e of m.entries) {
          if (e.type === EntryType.ConfChange) {
            if (this.pendingConfIndex > this.applied) return;
            this.pendingConfIndex = this.lastIndex() + 1;
          }
        }
        this.appendAsLeader(m.entries);
        this.bcastAppend();
        return;
      case MessageType.ReadIndex:
        return this.leaderReadIndex(m);
      case MessageType.TransferLeader:
        return this.leaderTransfer(m.from);
      default:
        break;
    }
    const pr = this.prs.get(m.from);
    if (pr === undefined) return;
    switch (m.type) {
      case MessageType.AppResp:
        pr.recentActive = true;
        if (m.reject) {
          if (this.maybeDecrTo(pr, m.index, m.rejectHint)) {
            if (pr.state === "replicate") this.toProbe(pr);
            this.sendAppend(m.from);
          }
          return;
        }
        if (m.index > pr.match) {
          pr.match = m.index;
          pr.next = Math.max(pr.next, m.index + 1);
          pr.probeSent = false;
          if (pr.state === "probe") this.toReplicate(pr);
          else if (pr.state === "snapshot" && pr.match >= pr.pendingSnapshot) this.toProbe(pr);
          else if (pr.state === "replicate") pr.inflights = pr.inflights.filter((x) => x > m.index);
          if (this.maybeCommit()) this.bcastAppend();
          else this.sendAppendWhileOpen(m.from);
          if (m.from === this.leadTransferee && pr.match === this.lastIndex()) this.sendTimeoutNow(m.from);
        } else if (pr.state === "probe") {
          pr.probeSent = false;
          this.sendAppendWhileOpen(m.from);
        }
        return;
      case MessageType.HeartbeatResp:
        pr.recentActive = true;
        pr.probeSent = false;
        if (pr.state === "replicate" && pr.inflights.length >= this.cfg.maxInflightMsgs) pr.inflights.shift();
        if (pr.match < this.lastIndex()) this.sendAppend(m.from);
        if (m.context.length > 0) this.readAck(m.from, m.context);
        return;
      default:
        return;
    }
  }

  private maybeDecrTo(pr: Progress, rejected: number, hint: number): boolean {
    if (pr.state === "replicate") {
      if (rejected <= pr.match) return false;
      pr.next = pr.match + 1;
      return true;
    }
    if (pr.next - 1 !== rejected) return false;
    pr.next = Math.max(Math.min(rejected, hint + 1), pr.match + 1);
    pr.probeSent = false;
    return true;
  }

  private toProbe(pr: Progress): void {
    const wasSnap = pr.state === "snapshot";
    pr.next = wasSnap ? Math.max(pr.match + 1, pr.pendingSnapshot + 1) : pr.match + 1;
    pr.state = "probe";
    pr.probeSent = false;
    pr.pendingSnapshot = 0;
    pr.inflights = [];
  }

  private toReplicate(pr: Progress): void {
    pr.state = "replicate";
    pr.next = pr.match + 1;
    pr.inflights = [];
  }

  private paused(pr: Progress): boolean {
    if (pr.state === "probe") return pr.probeSent;
    if (pr.state === "snapshot") return true;
    return pr.inflights.length >= this.cfg.maxInflightMsgs;
  }

  private maybeCommit(): boolean {
    const matches = [...this.voters].map((v) => this.prs.get(v)?.match ?? 0).sort((a, b) => b - a);
    const q = matches[this.quorum() - 1] ?? 0;
    if (q <= this.committed) return false;
    if (this.termAt(q) !== this.term && !this.breaks("commit-previous-term-by-counting")) return false;
    this.committed = q;
    return true;
  }

  private bcastAppend(): void {
    for (const id of this.prs.keys()) if (id !== this.id) this.sendAppendWhileOpen(id);
  }

  private sendAppendWhileOpen(to: NodeId): void {
    const pr = this.prs.get(to);
    for (let i = 0; i < 64 && pr !== undefined && !this.paused(pr); i++) {
      if (pr.state === "replicate" && pr.next > this.lastIndex()) {
        // Nothing new; only the commit index may need to travel.
        if (i === 0) this.sendAppend(to);
        return;
      }
      this.sendAppend(to);
      if (pr.state !== "replicate") return;
    }
  }

  private sendAppend(to: NodeId): void {
    const pr = this.prs.get(to);
    if (pr === undefined || this.paused(pr)) return;
    const prevIndex = pr.next - 1;
    const prevTerm = this.termAt(prevIndex);
    const ents = this.slice(pr.next, this.lastIndex() + 1, this.cfg.maxSizePerMsg);
    if (prevTerm === undefined || ents === undefined) {
      const snap = this.cfg.storage.snapshot();
      if (snap.metadata.index === 0) return;
      const m = blankMessage(MessageType.Snap, to, this.id, this.term);
      m.snapshot = snap;
      pr.state = "snapshot";
      pr.pendingSnapshot = snap.metadata.index;
      this.msgs.push(m);
      return;
    }
    const m = blankMessage(MessageType.App, to, this.id, this.term);
    m.index = prevIndex;
    m.logTerm = prevTerm;
    m.entries = ents;
    m.commit = this.committed;
    this.msgs.push(m);
    if (pr.state === "replicate") {
      if (ents.length > 0) {
        const last = ents[ents.length - 1]!.index;
        pr.next = last + 1;
        pr.inflights.push(last);
      }
    } else if (pr.state === "probe") {
      pr.probeSent = true;
    }
  }

  private bcastHeartbeat(ctx: Uint8Array): void {
    for (const [id, pr] of this.prs) {
      if (id === this.id) continue;
      const m = blankMessage(MessageType.Heartbeat, id, this.id, this.term);
      m.commit = Math.min(pr.match, this.committed);
      m.context = ctx;
      this.msgs.push(m);
    }
  }

  private sendTimeoutNow(to: NodeId): void {
    this.msgs.push(blankMessage(MessageType.TimeoutNow, to, this.id, this.term));
  }

  private leaderTransfer(to: NodeId): void {
    if (to === this.id || !this.voters.has(to) || this.leadTransferee === to) return;
    this.leadTransferee = to;
    this.electionElapsed = 0;
    const pr = this.prs.get(to)!;
    if (pr.match === this.lastIndex()) this.sendTimeoutNow(to);
    else this.sendAppend(to);
  }

  private leaderReadIndex(m: Message): void {
    const ctx = m.entries[0]?.data ?? new Uint8Array();
    const from = m.from === NONE ? this.id : m.from;
    if (this.voters.size === 1 || this.breaks("read-index-without-quorum-check")) {
      this.respondRead(from, this.committed, ctx);
      return;
    }
    // Not before the leader has committed an entry of its own term.
    if (this.termAt(this.committed) !== this.term) return;
    this.pendingReads.push({ index: this.committed, from, ctx, acks: new Set([this.id]) });
    this.bcastHeartbeat(ctx);
  }

  private readAck(from: NodeId, ctx: Uint8Array): void {
    const at = this.pendingReads.findIndex((r) => sameBytes(r.ctx, ctx));
    if (at < 0) return;
    const r = this.pendingReads[at]!;
    if (this.voters.has(from)) r.acks.add(from);
    if (r.acks.size < this.quorum()) return;
    const done = this.pendingReads.splice(0, at + 1);
    for (const d of done) this.respondRead(d.from, d.index, d.ctx);
  }

  private respondRead(to: NodeId, index: number, ctx: Uint8Array): void {
    if (to === this.id) {
      this.readStates.push({ index, requestCtx: ctx });
      return;
    }
    const r = blankMessage(MessageType.ReadIndexResp, to, this.id, this.term);
    r.index = index;
    r.entries = [{ term: 0, index: 0, type: EntryType.Normal, data: ctx }];
    this.msgs.push(r);
  }
}
