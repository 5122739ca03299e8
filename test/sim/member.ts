// One simulated member: a raft node, its "disk" (a MemoryLogStorage that holds only what was
// persisted), its state machine (a KV register) and the Ready loop that drives them in the
// documented order: persist -> send -> apply -> advance. A slow disk defers everything after
// ready() until the persistence completes.

import type { RaftConfig, RaftNodeApi, RaftStatus } from "../../src/raft/api.js";
import { MemoryLogStorage } from "../../src/storage/memory-log-storage.js";
import {
  ConfChangeType,
  EntryType,
  type ConfChange,
  type ConfState,
  type Entry,
  type Message,
  type NodeId,
  type Ready,
  type Role,
} from "../../src/raft/types.js";
import type { Checker } from "./checker.js";
import type { SimStats } from "./cluster.js";
import { KvRegister, decodeSet } from "./kv-register.js";

/** What a member needs from the cluster around it. */
export interface MemberHost {
  readonly checker: Checker;
  readonly stats: SimStats;
  send(from: Member, messages: readonly Message[]): void;
  /** Persistence of the pending Ready completes after `delay` ms of virtual time. */
  scheduleDiskCompletion(member: Member, delay: number): void;
  /** A committed ConfChange entry was applied by `member`. */
  confChangeApplied(member: Member, cc: ConfChange, index: number): void;
  /** How many of `voters` hold entry (index, term) on disk (or a snapshot covering it). */
  durableCopies(index: number, term: number, voters: readonly NodeId[]): number;
  /** A read finished on `member`. */
  readDone(member: Member, readId: string, key: string, index: number): void;
  trace(line: string): void;
}

export interface RaftBinding {
  createNode(config: RaftConfig): RaftNodeApi;
  decodeConfChange(data: Uint8Array): ConfChange;
}

export interface MemberTuning {
  electionTick: number;
  heartbeatTick: number;
  preVote: boolean;
  checkQuorum: boolean;
  /** "safe" unless a run explores lease-based reads (--lease-reads). */
  readOnlyOption?: RaftConfig["readOnlyOption"];
  maxSizePerMsg: number;
  maxInflightMsgs: number;
  /** Take an application snapshot every this many applied entries (0 = never). */
  snapshotEvery: number;
  /** Keep this many entries before the snapshot index when compacting. */
  compactionLag: number;
  unsafeRuleBreaks: RaftConfig["unsafeRuleBreaks"];
}

interface PendingReady {
  rd: Ready;
  role: Role;
  term: number;
  commit: number;
}

interface PendingRead {
  readId: string;
  key: string;
  /** Set once the ReadState arrived. */
  index?: number;
}

export class Member {
  /** Bumped when the member is removed and re-added with a wiped disk. */
  incarnation = 0;
  /** Bumped on every (re)start of the process. */
  generation = 0;
  disk: MemoryLogStorage;
  node: RaftNodeApi | undefined;
  sm = new KvRegister();
  applied = 0;
  confState: ConfState;
  /** [min, max] virtual ms a Ready's persistence takes; [0, 0] = synchronous. */
  diskDelay: [number, number] = [0, 0];
  /** Virtual ms between ticks of this member's clock (skewed clocks tick at other rates). */
  tickMs = 10;
  /** The process is frozen until this virtual time (GC / VM pause). */
  pausedUntil = 0;
  /**
   * Ticks that fell due while the process was frozen. A correct host ticks raft once per elapsed
   * tick period measured on a monotonic clock, before handling anything else, so on resume the
   * simulator delivers them first (lease-based reads depend on it: see ADR 0005).
   */
  missedTicks = 0;
  /** Removed from the cluster: never restarted, traffic dropped. */
  removed = false;
  private pending: PendingReady | undefined;
  private readonly reads = new Map<string, PendingRead>();
  private lastSnapshotIndex = 0;
  private commit = 0;
  private role: Role = "follower";
  /** Leader term and commit at the previous Ready, to find what this leader just committed. */
  private leaderTerm = -1;
  private leaderCommit = 0;
  /** Every membership this member had since its previous Ready (conf changes apply in between). */
  private configsSinceReady: ConfState[] = [];

  constructor(
    readonly id: NodeId,
    bootstrap: ConfState,
    private readonly host: MemberHost,
    private readonly binding: RaftBinding,
    private readonly tuning: MemberTuning,
    private readonly random: () => number,
  ) {
    this.disk = new MemoryLogStorage(bootstrap);
    this.confState = cloneConf(bootstrap);
  }

  get up(): boolean {
    return this.node !== undefined;
  }

  get diskKey(): string {
    return `${this.id}#${this.incarnation}`;
  }

  get processKey(): string {
    return `${this.id}#${this.incarnation}#${this.generation}`;
  }

  get diskBusy(): boolean {
    return this.pending !== undefined;
  }

  get currentRole(): Role {
    return this.role;
  }

  /** Start (or restart) the process from what is on disk. */
  start(): void {
    const snap = this.disk.snapshot();
    this.sm = KvRegister.fromSnapshot(snap.data);
    this.applied = snap.metadata.index;
    this.lastSnapshotIndex = snap.metadata.index;
    this.confState = cloneConf(this.disk.initialState().confState);
    this.generation++;
    this.pending = undefined;
    this.role = "follower";
    const t = this.tuning;
    this.node = this.binding.createNode({
      id: this.id,
      electionTick: t.electionTick,
      heartbeatTick: t.heartbeatTick,
      storage: this.disk,
      applied: this.applied,
      maxSizePerMsg: t.maxSizePerMsg,
      maxInflightMsgs: t.maxInflightMsgs,
      checkQuorum: t.checkQuorum,
      preVote: t.preVote,
      readOnlyOption: t.readOnlyOption ?? "safe",
      disableProposalForwarding: false,
      random: this.random,
      unsafeRuleBreaks: t.unsafeRuleBreaks,
    });
    this.commit = this.disk.initialState().hardState.commit;
    this.leaderTerm = -1;
    this.configsSinceReady = [];
    this.host.checker.observeMemoryCommit(this.processKey, this.diskKey, this.node.status().hardState.commit);
  }

  /** Crash: lose everything not persisted (the unstable log, a Ready whose write is pending). */
  crash(): void {
    this.node = undefined;
    this.pausedUntil = 0;
    this.missedTicks = 0;
    this.pending = undefined;
    for (const r of this.reads.values()) this.host.checker.readAbandoned(r.readId);
    this.reads.clear();
  }

  /** Removed and later re-added: a new process with an empty disk and no membership. */
  wipe(): void {
    this.crash();
    this.incarnation++;
    this.disk = new MemoryLogStorage({ voters: [], learners: [] });
    this.removed = false;
  }

  /** Track a ReadIndex request issued on this member. */
  addRead(ctx: string, readId: string, key: string): void {
    this.reads.set(ctx, { readId, key });
  }

  /** Process Readys until there is nothing to do or the disk is busy. */
  drive(): void {
    for (
      let rounds = 0;
      this.node !== undefined && this.pending === undefined && this.node.hasReady();
      rounds++
    ) {
      if (rounds > 10_000) throw new Error(`sim: ${this.id} keeps reporting hasReady() without progress`);
      const node = this.node;
      const rd = node.ready();
      const st = node.status();
      this.role = st.role;
      if (rd.softState !== undefined) {
        this.host.trace(
          `${this.id} is ${st.role} in term ${st.hardState.term} (leader: ${st.lead || "none"})`,
        );
      }
      if (this.host.checker.observeRole(this.id, st.role, st.hardState.term)) this.host.stats.elections++;
      this.host.checker.observeMemoryCommit(this.processKey, this.diskKey, st.hardState.commit);
      this.checkCommitDurability(rd, st);
      const p: PendingReady = { rd, role: st.role, term: st.hardState.term, commit: st.hardState.commit };
      const needsDisk = rd.entries.length > 0 || rd.hardState !== undefined || rd.snapshot !== undefined;
      const [lo, hi] = this.diskDelay;
      if (needsDisk && hi > 0) {
        this.pending = p;
        this.host.scheduleDiskCompletion(this, lo + Math.floor(this.random() * (hi - lo + 1)));
        return;
      }
      this.finish(p);
    }
  }

  /**
   * On a leader whose commit index moved since its previous Ready in the same term: every newly
   * committed entry must be durable on a majority of the voters of the membership it was
   * committed under (one of the memberships the leader had since that Ready).
   */
  private checkCommitDurability(rd: Ready, st: RaftStatus): void {
    const configs = [...this.configsSinceReady, st.confState];
    this.configsSinceReady = [cloneConf(st.confState)];
    if (st.role !== "leader") {
      this.leaderTerm = -1;
      return;
    }
    const from = this.leaderTerm === st.hardState.term ? this.leaderCommit : st.hardState.commit;
    this.leaderTerm = st.hardState.term;
    this.leaderCommit = st.hardState.commit;
    for (let i = from + 1; i <= st.hardState.commit; i++) {
      const term =
        rd.committedEntries.find((e) => e.index === i)?.term ??
        (i >= this.disk.firstIndex() && i <= this.disk.lastIndex() ? this.disk.term(i) : undefined);
      if (term === undefined) continue;
      const ok = configs.some(
        (c) => this.host.durableCopies(i, term, c.voters) >= Math.floor(c.voters.length / 2) + 1,
      );
      if (!ok) {
        this.host.checker.report(
          "commit-without-quorum",
          `leader ${this.processKey} committed index ${i} (term ${term}) held durably by fewer than a majority of voters`,
        );
      }
    }
  }

  /** The slow disk finished persisting the pending Ready. */
  diskCompleted(): void {
    const p = this.pending;
    if (p === undefined || this.node === undefined) return;
    this.pending = undefined;
    this.finish(p);
    this.drive();
  }

  private finish(p: PendingReady): void {
    const { rd } = p;
    const checker = this.host.checker;
    // 1. persist
    if (rd.snapshot !== undefined && rd.snapshot.metadata.index > this.disk.snapshot().metadata.index) {
      this.disk.applySnapshot(rd.snapshot);
      this.sm = KvRegister.fromSnapshot(rd.snapshot.data);
      this.applied = rd.snapshot.metadata.index;
      this.lastSnapshotIndex = this.applied;
      this.confState = cloneConf(rd.snapshot.metadata.confState);
      this.host.stats.snapshotsInstalled++;
      this.host.trace(`${this.id} installed snapshot at ${this.applied}`);
    }
    if (rd.entries.length > 0) {
      this.disk.append(rd.entries);
      checker.observePersistedEntries(this.diskKey, this.disk, rd.entries);
      if (p.role === "leader") {
        const own = rd.entries.find((e) => e.term === p.term);
        if (own !== undefined) checker.checkLeaderCompleteness(this.diskKey, p.term, own.index, this.disk);
      }
    }
    if (rd.hardState !== undefined) {
      this.disk.setHardState(rd.hardState);
      checker.observePersistedHardState(this.diskKey, rd.hardState);
      this.commit = Math.max(this.commit, rd.hardState.commit);
    }
    // 2. send
    if (rd.messages.length > 0) this.host.send(this, rd.messages);
    // 3. apply
    for (const rs of rd.readStates) {
      const r = this.reads.get(ctxKey(rs.requestCtx));
      if (r === undefined) continue;
      r.index = rs.index;
      checker.readIndexGranted(r.readId, this.processKey, rs.index);
    }
    for (const e of rd.committedEntries) {
      if (this.node === undefined) return;
      this.applyEntry(e, Math.max(this.commit, p.commit));
    }
    if (this.node === undefined) return;
    // 4. advance
    this.node.advance(rd);
    this.finishReads();
    this.maybeSnapshot();
  }

  private applyEntry(e: Entry, commit: number): void {
    if (e.index !== this.applied + 1) {
      // Raft must hand out committed entries exactly once, in order, with no gaps.
      this.host.checker.report(
        "apply-out-of-order",
        `${this.processKey} was given entry ${e.index} to apply after applying ${this.applied}`,
      );
      if (e.index <= this.applied) return;
    }
    const cmd = e.type === EntryType.Normal ? decodeSet(e.data) : undefined;
    if (this.host.checker.observeApply(this.processKey, e, commit, cmd?.key)) this.host.stats.committed++;
    this.applied = e.index;
    if (cmd !== undefined) {
      this.sm.apply(e.index, cmd);
    } else if (e.type === EntryType.ConfChange) {
      const cc = this.binding.decodeConfChange(e.data);
      this.confState = this.node!.applyConfChange(cc);
      this.configsSinceReady.push(cloneConf(this.confState));
      this.host.confChangeApplied(this, cc, e.index);
      // A member joining with an empty log must get its membership from a snapshot, never by
      // replaying the log from index 1 (the bootstrap membership is not in the log).
      if (cc.type === ConfChangeType.AddNode || cc.type === ConfChangeType.AddLearnerNode)
        this.snapshotNow(0);
    }
  }

  private finishReads(): void {
    for (const [ctx, r] of this.reads) {
      if (r.index === undefined || r.index > this.applied) continue;
      this.reads.delete(ctx);
      const v = this.sm.get(r.key);
      this.host.checker.readCompleted(r.readId, this.processKey, v?.index ?? 0);
      this.host.readDone(this, r.readId, r.key, v?.index ?? 0);
    }
  }

  /** Periodic application snapshot + log compaction, so lagging members need snapshot transfer. */
  private maybeSnapshot(): void {
    const every = this.tuning.snapshotEvery;
    if (every <= 0 || this.applied - this.lastSnapshotIndex < every) return;
    this.snapshotNow(this.tuning.compactionLag);
  }

  /** Snapshot the state machine at the applied index and compact the log behind it. */
  snapshotNow(compactionLag: number): void {
    if (this.applied <= this.disk.snapshot().metadata.index || this.applied > this.disk.lastIndex()) return;
    this.disk.createSnapshot(this.applied, this.confState, this.sm.toSnapshot());
    this.lastSnapshotIndex = this.applied;
    const upTo = this.applied - compactionLag;
    if (upTo >= this.disk.firstIndex()) this.disk.compact(upTo);
    this.host.trace(`${this.id} snapshot at ${this.applied}, log from ${this.disk.firstIndex()}`);
  }
}

export function ctxKey(ctx: Uint8Array): string {
  return Buffer.from(ctx.buffer, ctx.byteOffset, ctx.byteLength).toString("latin1");
}

function cloneConf(c: ConfState): ConfState {
  return { voters: [...c.voters], learners: [...c.learners] };
}
