// A whole simulated cluster in one process on virtual time: members, the network between them,
// a deterministic event queue (ticks, message deliveries, disk completions, scheduled actions)
// and the safety checkers, which run after every step.

import { ProposalDroppedError, RaftError } from "../../src/raft/errors.js";
import {
  ConfChangeType,
  MessageType,
  NONE,
  type ConfChange,
  type ConfState,
  type Message,
  type NodeId,
} from "../../src/raft/types.js";
import { Checker } from "./checker.js";
import { EventQueue } from "./event-queue.js";
import { encodeSet } from "./kv-register.js";
import { Member, type MemberHost, type MemberTuning, type RaftBinding } from "./member.js";
import { Network } from "./network.js";
import { Prng } from "./prng.js";
import { describeMessage } from "./trace.js";

/** Counters of what a run exercised (to tell a busy run from an idle one). */
export interface SimStats {
  proposed: number;
  dropped: number;
  /** Log entries applied for the first time anywhere. */
  committed: number;
  reads: number;
  readsDone: number;
  crashes: number;
  snapshotsSent: number;
  snapshotsInstalled: number;
  confChanges: number;
  /** Distinct (term, leader) pairs seen. */
  elections: number;
}

/** Virtual milliseconds per raft tick. */
export const TICK_MS = 10;

type SimEvent =
  | { kind: "tick"; id: NodeId }
  | { kind: "deliver"; msg: Message; fromInc: number; toInc: number }
  | { kind: "disk"; id: NodeId; generation: number }
  | { kind: "snap-status"; id: NodeId; generation: number; to: NodeId; ok: boolean }
  | { kind: "unreachable"; id: NodeId; generation: number; to: NodeId }
  | { kind: "action"; name: string; run: () => void };

export interface ClusterOptions {
  seed: number;
  /** Initial voters. */
  ids: NodeId[];
  /** Ids that may join later (learner adds); may overlap `ids` for re-adds. */
  spareIds?: NodeId[];
  tuning: MemberTuning;
  binding: RaftBinding;
  trace?: (line: string) => void;
}

export class Cluster implements MemberHost {
  readonly checker = new Checker();
  readonly network: Network;
  readonly members = new Map<NodeId, Member>();
  readonly rng: Prng;
  now = 0;
  steps = 0;
  /** Membership as of the latest conf change applied anywhere (it is committed). */
  config: ConfState;
  private readonly queue = new EventQueue<SimEvent>();
  private readonly traceFn: ((line: string) => void) | undefined;
  private readonly appliedConfIndexes = new Set<number>();
  private nextReadId = 1;
  private nextWrite = 1;
  /** Statistics for reports and benchmarks. */
  readonly stats: SimStats = {
    proposed: 0,
    dropped: 0,
    committed: 0,
    reads: 0,
    readsDone: 0,
    crashes: 0,
    snapshotsSent: 0,
    snapshotsInstalled: 0,
    confChanges: 0,
    elections: 0,
  };

  constructor(private readonly opts: ClusterOptions) {
    this.rng = new Prng(opts.seed);
    this.network = new Network(this.rng.fork());
    this.traceFn = opts.trace;
    this.config = { voters: [...opts.ids], learners: [] };
    for (const id of opts.ids) this.createMember(id, this.config);
  }

  get tracing(): boolean {
    return this.traceFn !== undefined;
  }

  trace(line: string): void {
    if (this.traceFn !== undefined) this.traceFn(`${String(this.now).padStart(7)} ${line}`);
  }

  member(id: NodeId): Member {
    const m = this.members.get(id);
    if (m === undefined) throw new Error(`sim: no member ${id}`);
    return m;
  }

  /** Members that are part of the current configuration (not removed). */
  activeMembers(): Member[] {
    return [...this.members.values()].filter((m) => !m.removed);
  }

  private createMember(id: NodeId, bootstrap: ConfState): Member {
    const random = this.rng.fork();
    const m = new Member(id, bootstrap, this, this.opts.binding, this.opts.tuning, () => random.next());
    this.members.set(id, m);
    m.start();
    this.queue.push(this.now + 1 + this.rng.int(TICK_MS), { kind: "tick", id });
    return m;
  }

  // ---- MemberHost ----------------------------------------------------------------------------

  send(from: Member, messages: readonly Message[]): void {
    for (const sent of messages) {
      const to = this.members.get(sent.to);
      const { msg, delays } =
        to === undefined || to.removed || from.removed ? { msg: sent, delays: [] } : this.network.plan(sent);
      if (this.tracing)
        this.trace(
          `send ${describeMessage(msg)}${delays.length === 0 ? " (lost)" : delays.length > 1 ? " (dup)" : ""}`,
        );
      if (
        to !== undefined &&
        !to.removed &&
        (to.node === undefined || this.network.isBlocked(msg.from, msg.to))
      ) {
        // Like a real transport whose connection is down: tell raft the peer is unreachable.
        this.queue.push(this.now + 1, {
          kind: "unreachable",
          id: from.id,
          generation: from.generation,
          to: msg.to,
        });
      }
      for (const d of delays) {
        this.queue.push(this.now + d, {
          kind: "deliver",
          msg,
          fromInc: from.incarnation,
          toInc: to!.incarnation,
        });
      }
      if (msg.type === MessageType.Snap) {
        this.stats.snapshotsSent++;
        // The transport reports the outcome of a snapshot transfer back to the sender.
        const ok = delays.length > 0;
        const at = this.now + (ok ? Math.max(...delays) : this.network.conditions.maxDelay);
        this.queue.push(at, {
          kind: "snap-status",
          id: from.id,
          generation: from.generation,
          to: msg.to,
          ok,
        });
      }
    }
  }

  scheduleDiskCompletion(member: Member, delay: number): void {
    this.queue.push(this.now + delay, { kind: "disk", id: member.id, generation: member.generation });
  }

  confChangeApplied(member: Member, cc: ConfChange, index: number): void {
    if (this.appliedConfIndexes.has(index)) return;
    this.appliedConfIndexes.add(index);
    this.stats.confChanges++;
    this.config = { voters: [...member.confState.voters], learners: [...member.confState.learners] };
    this.trace(
      `conf ${ConfChangeType[cc.type]} ${cc.nodeId} committed at ${index} -> voters=[${this.config.voters.join(",")}] learners=[${this.config.learners.join(",")}]`,
    );
    const target = this.members.get(cc.nodeId);
    if (cc.type === ConfChangeType.AddNode || cc.type === ConfChangeType.AddLearnerNode) {
      if (target !== undefined && !target.removed) return; // promotion or no-op
      // A new member must learn the membership from a snapshot: make sure the log it would
      // otherwise replay from index 1 is compacted away on every member that applies this.
      if (target === undefined) {
        this.createMember(cc.nodeId, { voters: [], learners: [] });
      } else {
        target.wipe();
        target.start();
      }
    } else if (cc.type === ConfChangeType.RemoveNode && target !== undefined && !target.removed) {
      target.crash();
      target.removed = true;
    }
  }

  durableCopies(index: number, term: number, voters: readonly NodeId[]): number {
    let n = 0;
    for (const id of voters) {
      const m = this.members.get(id);
      if (m === undefined) continue;
      const disk = m.disk;
      if (disk.firstIndex() - 1 >= index) n++;
      else if (disk.lastIndex() >= index && disk.term(index) === term) n++;
    }
    return n;
  }

  readDone(member: Member, readId: string, key: string, index: number): void {
    this.stats.readsDone++;
    if (this.tracing) this.trace(`read ${readId} on ${member.id} done: ${key} written at ${index}`);
  }

  // ---- the event loop ----------------------------------------------------------------------

  /** Process one event; returns false when the queue is empty. */
  step(): boolean {
    const ev = this.queue.pop();
    if (ev === undefined) return false;
    this.now = ev.time;
    this.checker.now = ev.time;
    this.steps++;
    try {
      this.handle(ev.item);
    } catch (err) {
      if (!(err instanceof Error)) throw err;
      this.checker.report("raft-error", `${err.name}: ${err.message}`);
      if (!(err instanceof RaftError)) this.trace(`error ${err.stack ?? err.message}`);
    }
    return true;
  }

  private handle(ev: SimEvent): void {
    switch (ev.kind) {
      case "tick": {
        const m = this.members.get(ev.id);
        if (m === undefined) return;
        this.queue.push(this.now + m.tickMs, ev);
        if (m.node === undefined) return;
        if (m.pausedUntil > this.now) {
          m.missedTicks++;
          return;
        }
        this.catchUpTicks(m);
        m.node.tick();
        m.drive();
        return;
      }
      case "deliver": {
        const { msg } = ev;
        const to = this.members.get(msg.to);
        const from = this.members.get(msg.from);
        if (to?.node === undefined || to.removed || to.incarnation !== ev.toInc) return;
        if (from === undefined || from.incarnation !== ev.fromInc) return;
        if (this.deferWhilePaused(to, ev)) return;
        if (this.tracing) this.trace(`recv ${describeMessage(msg)}`);
        try {
          to.node.step(msg);
        } catch (err) {
          // A forwarded proposal that the receiver cannot take is dropped, as in a real server.
          if (!(err instanceof ProposalDroppedError)) throw err;
          this.trace(`${to.id} dropped a forwarded proposal: ${err.message}`);
        }
        to.drive();
        return;
      }
      case "disk": {
        const m = this.members.get(ev.id);
        if (m === undefined || m.generation !== ev.generation || this.deferWhilePaused(m, ev)) return;
        m.diskCompleted();
        return;
      }
      case "snap-status": {
        const m = this.members.get(ev.id);
        if (m?.node === undefined || m.generation !== ev.generation || this.deferWhilePaused(m, ev)) return;
        m.node.reportSnapshot(ev.to, ev.ok);
        m.drive();
        return;
      }
      case "unreachable": {
        const m = this.members.get(ev.id);
        if (m?.node === undefined || m.generation !== ev.generation || this.deferWhilePaused(m, ev)) return;
        m.node.reportUnreachable(ev.to);
        m.drive();
        return;
      }
      case "action":
        ev.run();
        return;
    }
  }

  /** On resume, a frozen member first gets the ticks that fell due while it was frozen. */
  private catchUpTicks(m: Member): void {
    while (m.missedTicks > 0 && m.node !== undefined) {
      m.missedTicks--;
      m.node.tick();
    }
  }

  /** A paused (frozen) process handles nothing until it resumes: requeue the event for then. */
  private deferWhilePaused(m: Member, ev: SimEvent): boolean {
    if (m.pausedUntil <= this.now) {
      this.catchUpTicks(m);
      return false;
    }
    this.queue.push(m.pausedUntil, ev);
    return true;
  }

  /** Freeze a member's process (a long GC or VM pause): no ticks, no message handling. */
  pause(id: NodeId, ms: number): void {
    const m = this.members.get(id);
    if (m?.node === undefined) return;
    this.trace(`pause ${id} for ${ms} ms`);
    m.pausedUntil = Math.max(m.pausedUntil, this.now + ms);
  }

  /** Run `fn` at virtual time `at` (as one step). */
  at(at: number, name: string, run: () => void): void {
    this.queue.push(Math.max(at, this.now), { kind: "action", name, run });
  }

  runSteps(n: number): void {
    for (let i = 0; i < n; i++) if (!this.step()) return;
  }

  runFor(ms: number): void {
    const end = this.now + ms;
    while ((this.queue.peekTime() ?? Infinity) <= end) this.step();
    this.now = Math.max(this.now, end);
  }

  /** Step until `pred` holds or `ms` of virtual time pass; returns whether it held. */
  runUntil(pred: () => boolean, ms: number): boolean {
    const end = this.now + ms;
    while (!pred()) {
      if ((this.queue.peekTime() ?? Infinity) > end) {
        this.now = Math.max(this.now, end);
        return false;
      }
      this.step();
    }
    return true;
  }

  // ---- operations for scenarios --------------------------------------------------------------

  /** The up member that considers itself leader in the highest term, if any. */
  leader(): Member | undefined {
    let best: Member | undefined;
    let bestTerm = -1;
    for (const m of this.members.values()) {
      if (m.node === undefined || m.removed) continue;
      const st = m.node.status();
      if (st.role === "leader" && st.hardState.term > bestTerm) {
        best = m;
        bestTerm = st.hardState.term;
      }
    }
    return best;
  }

  private guard(id: NodeId, what: string, fn: (m: Member) => void): boolean {
    const m = this.members.get(id);
    if (m?.node === undefined || m.removed || m.pausedUntil > this.now) return false;
    try {
      fn(m);
    } catch (err) {
      if (err instanceof ProposalDroppedError) {
        this.stats.dropped++;
        this.trace(`${what} on ${id} dropped: ${err.message}`);
        return false;
      }
      throw err;
    }
    m.drive();
    return true;
  }

  /**
   * Propose "set key value" on member `id`; the value is a unique sequence number. Returns the
   * value, or undefined when the proposal was dropped.
   */
  propose(id: NodeId, key: string): string | undefined {
    const value = `v${this.nextWrite++}`;
    this.stats.proposed++;
    this.trace(`propose set ${key} ${value} on ${id}`);
    return this.guard(id, "propose", (m) => m.node!.propose(encodeSet(key, value))) ? value : undefined;
  }

  /** Issue a linearizable read of `key` on member `id` (ReadIndex). */
  read(id: NodeId, key: string): string | undefined {
    const m = this.members.get(id);
    if (m?.node === undefined || m.removed || m.pausedUntil > this.now) return undefined;
    const readId = `r${this.nextReadId++}`;
    const ctx = new TextEncoder().encode(readId);
    this.stats.reads++;
    this.trace(`read ${readId} of ${key} on ${id}`);
    this.checker.readIssued(readId, key);
    m.addRead(readId, readId, key);
    m.node.readIndex(ctx);
    m.drive();
    return readId;
  }

  crash(id: NodeId): void {
    const m = this.members.get(id);
    if (m?.node === undefined) return;
    this.stats.crashes++;
    this.trace(
      `crash ${id} (disk: last ${m.disk.lastIndex()}, commit ${m.disk.initialState().hardState.commit})`,
    );
    m.crash();
  }

  restart(id: NodeId): void {
    const m = this.members.get(id);
    if (m === undefined || m.node !== undefined || m.removed) return;
    this.trace(`restart ${id}`);
    m.start();
    m.drive();
  }

  campaign(id: NodeId): void {
    this.trace(`campaign ${id}`);
    this.guard(id, "campaign", (m) => m.node!.campaign());
  }

  transferLeadership(leaderId: NodeId, to: NodeId): void {
    this.trace(`transfer leadership ${leaderId} -> ${to}`);
    this.guard(leaderId, "transfer", (m) => m.node!.transferLeadership(to));
  }

  proposeConfChange(id: NodeId, type: ConfChangeType, nodeId: NodeId): boolean {
    this.trace(`propose conf ${ConfChangeType[type]} ${nodeId} on ${id}`);
    return this.guard(id, "conf change", (m) =>
      m.node!.proposeConfChange({ type, nodeId, context: new Uint8Array() }),
    );
  }

  /** Term of the member's raft state, or 0 when down. */
  term(id: NodeId): number {
    return this.members.get(id)?.node?.status().hardState.term ?? 0;
  }

  lead(id: NodeId): NodeId {
    return this.members.get(id)?.node?.status().lead ?? NONE;
  }
}
