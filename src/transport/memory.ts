// In-memory twins of the peer transport: NoPeerTransport for a member alone, and a hub that links
// members inside one process (tests, the in-process cluster). Same contract as the HTTP/2
// transport: best-effort, in order per link, asynchronous (next turn), never throws.
import type { Message, NodeId } from "../raft/index.js";
import { PeerRpcError, PeerUnreachableError } from "./peer-rpc.js";
import type { PeerCaller, PeerRpcHandler, PeerSink, RaftTransport, SnapshotData } from "./types.js";

export class NoPeerTransport implements RaftTransport {
  dropped = 0;
  send(messages: readonly Message[]): void {
    this.dropped += messages.length;
  }
  async close(): Promise<void> {}
}

/** Delivers messages between members registered on the same hub. */
export class InMemoryTransportHub {
  private readonly sinks = new Map<NodeId, PeerSink>();
  /** Links cut by a test: "from>to". */
  private readonly cut = new Set<string>();

  register(id: NodeId, sink: PeerSink | ((m: Message) => void)): RaftTransport {
    this.sinks.set(id, typeof sink === "function" ? { receive: sink, unreachable() {} } : sink);
    return {
      send: (messages) => {
        for (const m of messages) {
          const to = this.sinks.get(m.to);
          if (to === undefined || this.cut.has(`${id}>${m.to}`)) {
            this.sinks.get(id)?.unreachable(m.to);
            continue;
          }
          setImmediate(() => to.receive(m));
        }
      },
      sendSnapshot: (m: Message, open: () => Promise<SnapshotData>) => {
        const report = (ok: boolean) => this.sinks.get(id)?.snapshotStatus?.(m.to, ok);
        const to = this.sinks.get(m.to);
        if (to?.receiveSnapshot === undefined || this.cut.has(`${id}>${m.to}`)) {
          setImmediate(() => report(false));
          return;
        }
        const receiver = to.receiveSnapshot.bind(to);
        void (async () => {
          const data = await open();
          const chunks: Uint8Array[] = [];
          for await (const c of data.chunks) chunks.push(c);
          await receiver(
            m,
            (async function* () {
              yield* chunks;
            })(),
          );
        })().then(
          () => report(true),
          () => report(false),
        );
      },
      close: async () => {
        this.sinks.delete(id);
      },
    };
  }

  private readonly rpcHandlers = new Map<NodeId, PeerRpcHandler>();

  /** Answers peer requests addressed to `id`. */
  serveRpc(id: NodeId, handler: PeerRpcHandler): void {
    this.rpcHandlers.set(id, handler);
  }

  /** A PeerCaller for member `from`; the answer goes through JSON as over the network. */
  rpcCaller(from: NodeId): PeerCaller {
    return {
      call: async (peer, method, body) => {
        const handler = this.rpcHandlers.get(peer);
        if (handler === undefined || this.cut.has(`${from}>${peer}`)) {
          throw new PeerUnreachableError(`member ${peer} is unreachable`);
        }
        await new Promise((r) => setImmediate(r));
        let answer: unknown;
        try {
          answer = await handler(method, JSON.parse(JSON.stringify(body)));
        } catch (err) {
          const e = err as { message?: string; code?: unknown };
          throw new PeerRpcError(e.message ?? String(err), typeof e.code === "string" ? e.code : "UNKNOWN");
        }
        return JSON.parse(JSON.stringify(answer ?? null)) as unknown;
      },
    };
  }

  /** Drops messages from `from` to `to` until heal(). */
  partition(from: NodeId, to: NodeId): void {
    this.cut.add(`${from}>${to}`);
  }

  heal(): void {
    this.cut.clear();
  }
}
