// The member's network port for raft messages. The member hands every Ready's messages to send()
// after the Ready is durable; a cluster transport (issue 6) delivers them to peers and feeds
// received ones to the member's step(). A single member has no peers, so NoPeerTransport drops
// what it is given (a single voter's raft sends nothing anyway); InMemoryTransport links members
// inside one process for tests.
import type { Message, NodeId } from "../raft/index.js";

export interface RaftTransport {
  /** Queue messages for delivery; must not block or throw for an unreachable peer. */
  send(messages: readonly Message[]): void;
  close(): Promise<void>;
}

export class NoPeerTransport implements RaftTransport {
  dropped = 0;
  send(messages: readonly Message[]): void {
    this.dropped += messages.length;
  }
  async close(): Promise<void> {}
}

/** Delivers messages between members registered on the same hub, asynchronously (next turn). */
export class InMemoryTransportHub {
  private readonly receivers = new Map<NodeId, (m: Message) => void>();

  register(id: NodeId, receive: (m: Message) => void): RaftTransport {
    this.receivers.set(id, receive);
    return {
      send: (messages) => {
        for (const m of messages) {
          const to = this.receivers.get(m.to);
          if (to !== undefined) setImmediate(() => to(m));
        }
      },
      close: async () => {
        this.receivers.delete(id);
      },
    };
  }
}
