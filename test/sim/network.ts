// The simulated network between members: per-message loss, duplication and random delay (which
// also reorders), directed link blocking for symmetric and one-way partitions, and an optional
// filter that scripted scenarios use to drop precisely chosen messages.

import type { Message, NodeId } from "../../src/raft/types.js";
import type { Prng } from "./prng.js";

export interface NetworkConditions {
  /** Probability that a message is lost. */
  loss: number;
  /** Probability that a delivered message is delivered twice. */
  duplicate: number;
  /** Delivery delay range in virtual milliseconds (random delays reorder messages). */
  minDelay: number;
  maxDelay: number;
}

export const CALM: NetworkConditions = { loss: 0, duplicate: 0, minDelay: 1, maxDelay: 3 };

/** Scripted scenarios: return false to drop the message, true to pass it, or a replacement. */
export type MessageFilter = (m: Message) => boolean | Message;

export class Network {
  conditions: NetworkConditions = { ...CALM };
  filter: MessageFilter | undefined;
  private readonly blocked = new Set<string>();

  constructor(private readonly rng: Prng) {}

  /** Block traffic from `from` to `to` (one direction). */
  block(from: NodeId, to: NodeId): void {
    this.blocked.add(linkKey(from, to));
  }

  unblock(from: NodeId, to: NodeId): void {
    this.blocked.delete(linkKey(from, to));
  }

  /** Cut every link between the two groups, in both directions. */
  partition(a: readonly NodeId[], b: readonly NodeId[]): void {
    for (const x of a) {
      for (const y of b) {
        this.block(x, y);
        this.block(y, x);
      }
    }
  }

  /** Cut `node` off from everyone in `others` in both directions. */
  isolate(node: NodeId, others: readonly NodeId[]): void {
    this.partition(
      [node],
      others.filter((o) => o !== node),
    );
  }

  healPartitions(): void {
    this.blocked.clear();
  }

  get partitioned(): boolean {
    return this.blocked.size > 0;
  }

  isBlocked(from: NodeId, to: NodeId): boolean {
    return this.blocked.has(linkKey(from, to));
  }

  /**
   * Decide the fate of one message: the delays after which copies arrive (empty = lost). Random
   * draws happen in a fixed order so that runs stay reproducible.
   */
  plan(m: Message): { msg: Message; delays: number[] } {
    const lost = { msg: m, delays: [] };
    if (this.isBlocked(m.from, m.to)) return lost;
    let msg = m;
    if (this.filter !== undefined) {
      const verdict = this.filter(m);
      if (verdict === false) return lost;
      if (verdict !== true) msg = verdict;
    }
    const c = this.conditions;
    if (c.loss > 0 && this.rng.chance(c.loss)) return lost;
    const delays = [this.rng.range(c.minDelay, c.maxDelay)];
    if (c.duplicate > 0 && this.rng.chance(c.duplicate)) delays.push(this.rng.range(c.minDelay, c.maxDelay));
    return { msg, delays };
  }
}

function linkKey(from: NodeId, to: NodeId): string {
  return `${from}>${to}`;
}
