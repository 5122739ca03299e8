// RawNode: the driving surface of the Raft core (RaftNodeApi). It turns the state machine's
// pending work into Ready batches and takes them back through advance(), which is also where the
// leader learns that its own entries are durable (they count toward commit only then).

import type { RaftConfig, RaftNodeApi, RaftStatus } from "./api.js";
import { encodeConfChange } from "./confchange.js";
import { ProposalDroppedError, RaftError } from "./errors.js";
import { Raft, makeMessage } from "./raft.js";
import {
  EntryType,
  MessageType,
  type ConfChange,
  type ConfState,
  type HardState,
  type Message,
  type NodeId,
  type Ready,
  type SoftState,
} from "./types.js";

const LOCAL_ONLY = new Set([MessageType.Hup, MessageType.Beat, MessageType.CheckQuorum]);
const RESPONSES = new Set([
  MessageType.AppResp,
  MessageType.VoteResp,
  MessageType.PreVoteResp,
  MessageType.HeartbeatResp,
  MessageType.Unreachable,
  MessageType.SnapStatus,
]);

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

export class RawNode implements RaftNodeApi {
  private readonly raft: Raft;
  private prevSoftState: SoftState;
  private prevHardState: HardState;
  private readonly applyUncommitted: boolean;

  constructor(config: RaftConfig) {
    this.raft = new Raft(config);
    this.prevSoftState = this.raft.softState();
    this.prevHardState = this.raft.hardState();
    this.applyUncommitted = this.raft.breaksRule("apply-before-commit");
  }

  tick(): void {
    this.raft.tick();
  }

  campaign(): void {
    this.raft.step(makeMessage({ type: MessageType.Hup, from: this.raft.id }));
  }

  propose(data: Uint8Array): void {
    this.raft.step(
      makeMessage({
        type: MessageType.Prop,
        from: this.raft.id,
        entries: [{ term: 0, index: 0, type: EntryType.Normal, data }],
      }),
    );
  }

  proposeConfChange(cc: ConfChange): void {
    const data = encodeConfChange(cc);
    this.raft.step(
      makeMessage({
        type: MessageType.Prop,
        from: this.raft.id,
        entries: [{ term: 0, index: 0, type: EntryType.ConfChange, data }],
      }),
    );
  }

  applyConfChange(cc: ConfChange): ConfState {
    return this.raft.applyConfChange(cc);
  }

  step(m: Message): void {
    if (LOCAL_ONLY.has(m.type)) throw new RaftError(`raft: ${MessageType[m.type]} is a local message`);
    // Answers from members we do not know (removed ones) are stale.
    if (RESPONSES.has(m.type) && !this.raft.conf.prs.has(m.from)) return;
    try {
      this.raft.step(m);
    } catch (err) {
      // A proposal forwarded by a peer that cannot be accepted here is dropped; the proposer's
      // caller times out. Only local propose() calls surface the error.
      if (err instanceof ProposalDroppedError && m.type === MessageType.Prop && m.from !== this.raft.id) {
        this.raft.logger.debug(`raft ${this.raft.id}: dropped proposal from ${m.from}: ${err.message}`);
        return;
      }
      throw err;
    }
  }

  readIndex(ctx: Uint8Array): void {
    if (ctx.length === 0) throw new RaftError("raft: read index context must not be empty");
    this.raft.step(makeMessage({ type: MessageType.ReadIndex, from: this.raft.id, context: ctx }));
  }

  transferLeadership(to: NodeId): void {
    this.raft.step(makeMessage({ type: MessageType.TransferLeader, from: to }));
  }

  reportUnreachable(id: NodeId): void {
    this.raft.step(makeMessage({ type: MessageType.Unreachable, from: id }));
  }

  reportSnapshot(id: NodeId, ok: boolean): void {
    this.raft.step(makeMessage({ type: MessageType.SnapStatus, from: id, reject: !ok }));
  }

  hasReady(): boolean {
    // Called on every loop turn: compares fields directly instead of building objects.
    const r = this.raft;
    if (r.lead !== this.prevSoftState.lead || r.role !== this.prevSoftState.role) return true;
    const hs = this.prevHardState;
    if (r.term !== hs.term || r.vote !== hs.vote || r.log.committed !== hs.commit) return true;
    if (r.msgs.length > 0 || r.readStates.length > 0) return true;
    if (r.log.unstable.nextSnapshot() !== undefined || r.log.unstable.hasNextEntries()) return true;
    return r.log.hasNextCommittedEntries(this.applyUncommitted);
  }

  ready(): Ready {
    const r = this.raft;
    const rd: Ready = {
      readStates: r.readStates,
      entries: r.log.nextUnstableEntries(),
      committedEntries: r.log.nextCommittedEntries(this.applyUncommitted),
      messages: r.msgs,
      mustSync: false,
    };
    const soft = r.softState();
    if (soft.lead !== this.prevSoftState.lead || soft.role !== this.prevSoftState.role) {
      rd.softState = soft;
      this.prevSoftState = soft;
    }
    const hs = r.hardState();
    if (!sameHardState(hs, this.prevHardState)) {
      rd.hardState = hs;
      rd.mustSync = hs.term !== this.prevHardState.term || hs.vote !== this.prevHardState.vote;
      this.prevHardState = hs;
    }
    const snap = r.log.unstable.nextSnapshot();
    if (snap !== undefined) rd.snapshot = snap;
    if (rd.entries.length > 0) rd.mustSync = true;
    if (rd.snapshot !== undefined) rd.mustSync = true;

    // Everything in this Ready is now the caller's: later calls hand out only newer work.
    r.msgs = [];
    r.readStates = [];
    r.log.unstable.acceptInProgress();
    const lastCommitted = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastCommitted !== undefined) r.log.acceptApplying(lastCommitted.index);
    return rd;
  }

  advance(rd: Ready): void {
    const r = this.raft;
    if (rd.snapshot !== undefined) {
      r.log.stableSnapTo(rd.snapshot.metadata.index);
      r.log.appliedTo(rd.snapshot.metadata.index);
    }
    const last = rd.entries[rd.entries.length - 1];
    if (last !== undefined) {
      r.log.stableTo(last.index, last.term);
      // Durability rule: the leader's own entries count toward commit only now.
      r.onPersisted(last.index, last.term);
    }
    const lastCommitted = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastCommitted !== undefined) {
      r.log.appliedTo(lastCommitted.index);
      r.reduceUncommittedSize(rd.committedEntries);
    }
  }

  status(): RaftStatus {
    const r = this.raft;
    const st: RaftStatus = {
      id: r.id,
      hardState: r.hardState(),
      role: r.role,
      lead: r.lead,
      applied: r.log.applied,
      lastIndex: r.log.lastIndex(),
      confState: r.confState(),
      leadTransferee: r.leadTransferee,
    };
    if (r.role === "leader") st.progress = r.progressStatus();
    return st;
  }
}
