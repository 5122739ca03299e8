// Test helper: a tiny in-memory "cluster" of RawNodes for the raft unit tests. Each member has a
// MemoryLogStorage disk and follows the Ready contract (persist, send, apply, advance); messages
// sit in a queue until the test delivers them, so a test controls exactly what arrives where.

import type { RaftConfig } from "./api.js";
import { decodeConfChange } from "./confchange.js";
import { ProposalDroppedError } from "./errors.js";
import { RawNode } from "./raw-node.js";
import {
  EntryType,
  type ConfState,
  type Entry,
  type Message,
  type NodeId,
  type ReadState,
  type Ready,
} from "./types.js";
import { MemoryLogStorage } from "../storage/memory-log-storage.js";

export interface Member {
  id: NodeId;
  node: RawNode;
  storage: MemoryLogStorage;
  /** Entries handed out for applying, in order. */
  applied: Entry[];
  readStates: ReadState[];
  config: RaftConfig;
}

export function baseConfig(
  id: NodeId,
  storage: MemoryLogStorage,
  over: Partial<RaftConfig> = {},
): RaftConfig {
  return {
    id,
    electionTick: 10,
    heartbeatTick: 1,
    storage,
    maxSizePerMsg: 1024 * 1024,
    maxInflightMsgs: 256,
    checkQuorum: false,
    preVote: false,
    readOnlyOption: "safe",
    disableProposalForwarding: false,
    random: () => 0,
    ...over,
  };
}

/** A small deterministic PRNG (LCG) seeded from a string, so members time out differently. */
export function seededRandom(seed: string): () => number {
  let x = 2166136261;
  for (let i = 0; i < seed.length; i++) x = Math.imul(x ^ seed.charCodeAt(i), 16777619) >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
}

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

export class Router {
  readonly members = new Map<NodeId, Member>();
  /** Messages sent but not yet delivered. */
  queue: Message[] = [];
  /** Members cut off from everyone (messages to or from them are dropped). */
  readonly isolated = new Set<NodeId>();
  /** Extra filter: return false to drop a message. */
  filter: (m: Message) => boolean = () => true;

  constructor(voters: NodeId[], over: Partial<RaftConfig> = {}, learners: NodeId[] = []) {
    for (const id of [...voters, ...learners]) this.add(id, { voters, learners }, over);
  }

  add(id: NodeId, conf: ConfState, over: Partial<RaftConfig> = {}): Member {
    const storage = new MemoryLogStorage(conf);
    return this.start(id, storage, over);
  }

  /** (Re)start a member from `storage`, as after a crash. */
  start(id: NodeId, storage: MemoryLogStorage, over: Partial<RaftConfig> = {}, applied = 0): Member {
    const config = baseConfig(id, storage, { random: seededRandom(id), ...over, applied });
    const m: Member = { id, node: new RawNode(config), storage, applied: [], readStates: [], config };
    this.members.set(id, m);
    return m;
  }

  get(id: NodeId): Member {
    const m = this.members.get(id);
    if (m === undefined) throw new Error(`no member ${id}`);
    return m;
  }

  node(id: NodeId): RawNode {
    return this.get(id).node;
  }

  /** Handle one Ready of `id` (if any) following the contract; returns it. */
  processReady(id: NodeId): Ready | undefined {
    const m = this.get(id);
    if (!m.node.hasReady()) return undefined;
    const rd = m.node.ready();
    this.persist(m, rd);
    this.sendAll(rd.messages);
    this.apply(m, rd);
    m.node.advance(rd);
    return rd;
  }

  persist(m: Member, rd: Ready): void {
    if (rd.snapshot !== undefined) m.storage.applySnapshot(rd.snapshot);
    if (rd.entries.length > 0) m.storage.append(rd.entries);
    if (rd.hardState !== undefined) m.storage.setHardState(rd.hardState);
  }

  sendAll(msgs: readonly Message[]): void {
    for (const msg of msgs) {
      if (this.isolated.has(msg.from) || this.isolated.has(msg.to)) continue;
      if (!this.filter(msg)) continue;
      this.queue.push(msg);
    }
  }

  apply(m: Member, rd: Ready): void {
    m.readStates.push(...rd.readStates);
    for (const e of rd.committedEntries) {
      m.applied.push(e);
      if (e.type === EntryType.ConfChange) m.node.applyConfChange(decodeConfChange(e.data));
    }
  }

  /** Deliver every queued message once (new messages wait for the next round). */
  deliverAll(): number {
    const msgs = this.queue;
    this.queue = [];
    for (const msg of msgs) this.deliver(msg);
    return msgs.length;
  }

  deliver(msg: Message): void {
    const to = this.members.get(msg.to);
    if (to === undefined) return;
    try {
      to.node.step(msg);
    } catch (err) {
      if (!(err instanceof ProposalDroppedError)) throw err;
    }
  }

  /** Process Readys and deliver messages until nothing moves. */
  stabilize(maxRounds = 1000): void {
    for (let round = 0; round < maxRounds; round++) {
      let moved = false;
      for (const id of this.members.keys()) while (this.processReady(id) !== undefined) moved = true;
      if (this.deliverAll() > 0) moved = true;
      if (!moved) return;
    }
    throw new Error("router: did not stabilize");
  }

  /** Take all pending Readys (processing them) and return the queued messages without delivering. */
  flushReadys(): Message[] {
    for (const id of this.members.keys()) while (this.processReady(id) !== undefined);
    return this.queue;
  }

  tick(id: NodeId, n = 1): void {
    for (let i = 0; i < n; i++) this.node(id).tick();
  }

  /** Tick every member n times, stabilizing after each tick. */
  tickAll(n: number): void {
    for (let i = 0; i < n; i++) {
      for (const m of this.members.values()) m.node.tick();
      this.stabilize();
    }
  }

  /** Make `id` campaign and settle the outcome. */
  elect(id: NodeId): void {
    this.node(id).campaign();
    this.stabilize();
  }

  leaders(): NodeId[] {
    return [...this.members.values()].filter((m) => m.node.status().role === "leader").map((m) => m.id);
  }

  appliedData(id: NodeId): string[] {
    return this.get(id)
      .applied.filter((e) => e.type === EntryType.Normal && e.data.length > 0)
      .map((e) => dec(e.data));
  }
}
