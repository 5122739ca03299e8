// ReadIndex bookkeeping on the leader for the "safe" option: each request remembers the commit
// index at the time it arrived and collects heartbeat acknowledgements carrying its context; once
// a quorum acknowledged, it and every earlier request are answered.

import type { Message, NodeId } from "./types.js";

export interface PendingRead {
  /** The ReadIndex message (local or forwarded by a follower). */
  readonly req: Message;
  readonly index: number;
  readonly acks: Map<NodeId, boolean>;
}

export function contextKey(ctx: Uint8Array): string {
  return Buffer.from(ctx.buffer, ctx.byteOffset, ctx.byteLength).toString("latin1");
}

export class ReadOnlyQueue {
  private readonly pending = new Map<string, PendingRead>();
  private readonly queue: string[] = [];

  get size(): number {
    return this.queue.length;
  }

  /** Record a request at commit index `index`. A request with a context already pending is ignored. */
  add(index: number, req: Message): void {
    const key = contextKey(req.context);
    if (this.pending.has(key)) return;
    this.pending.set(key, { req, index, acks: new Map() });
    this.queue.push(key);
  }

  /** Record that `from` acknowledged the heartbeat carrying `ctx`; returns the acks so far. */
  recvAck(from: NodeId, ctx: Uint8Array): ReadonlyMap<NodeId, boolean> | undefined {
    const p = this.pending.get(contextKey(ctx));
    if (p === undefined) return undefined;
    p.acks.set(from, true);
    return p.acks;
  }

  /** Remove and return the request with `ctx` and every request queued before it. */
  advance(ctx: Uint8Array): PendingRead[] {
    const key = contextKey(ctx);
    const at = this.queue.indexOf(key);
    if (at < 0) return [];
    const done = this.queue.splice(0, at + 1);
    const out: PendingRead[] = [];
    for (const k of done) {
      const p = this.pending.get(k);
      this.pending.delete(k);
      if (p !== undefined) out.push(p);
    }
    return out;
  }

  /** Context of the newest pending request (heartbeats carry it), if any. */
  lastContext(): Uint8Array | undefined {
    const key = this.queue[this.queue.length - 1];
    return key === undefined ? undefined : this.pending.get(key)?.req.context;
  }
}
