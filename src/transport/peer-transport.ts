// The HTTP/2 peer transport: one PeerLink per peer for what this member sends, and a request
// handler for the peer listener that feeds what arrives to the member. Messages of one send()
// to one peer travel as one frame (batching); each link bounds what it holds (backpressure).
import type { Message, NodeId } from "../raft/index.js";
import type { PeerFaults } from "./faults.js";
import { PeerLink } from "./peer-link.js";
import { DEFAULT_MAX_QUEUED_BYTES, type PeerClientTls, type TransportLogger } from "./protocol.js";
import { sendSnapshotOverHttp2 } from "./snapshot-send.js";
import type { PeerSink, RaftTransport, SnapshotData } from "./types.js";

export interface PeerTransportOptions {
  self: NodeId;
  clusterId: bigint;
  /** The other members and their peer URLs. */
  peers: ReadonlyMap<NodeId, readonly string[]>;
  sink: PeerSink;
  logger: TransportLogger;
  tls?: PeerClientTls;
  maxQueuedBytes?: number;
  /** Called when a peer says this member was removed from the cluster. */
  onRemoved?: () => void;
  /** Test-only fault injection (messages to listed peers are dropped). */
  faults?: PeerFaults;
}

export class PeerTransport implements RaftTransport {
  private readonly links = new Map<NodeId, PeerLink>();
  private peerUrls = new Map<NodeId, readonly string[]>();
  private closed = false;

  constructor(private readonly opts: PeerTransportOptions) {
    this.setPeers(opts.peers);
  }

  send(messages: readonly Message[]): void {
    if (this.closed) return;
    const faults = this.opts.faults;
    if (faults !== undefined && faults.dropTo.size > 0) {
      const kept = messages.filter((m) => !faults.dropTo.has(m.to));
      faults.droppedOut += messages.length - kept.length;
      if (kept.length === 0) return;
      messages = kept;
    }
    if (messages.length === 1) {
      const m = messages[0] as Message;
      this.linkTo(m.to)?.send(messages);
      return;
    }
    const byPeer = new Map<NodeId, Message[]>();
    for (const m of messages) {
      let list = byPeer.get(m.to);
      if (list === undefined) byPeer.set(m.to, (list = []));
      list.push(m);
    }
    for (const [to, list] of byPeer) this.linkTo(to)?.send(list);
  }

  sendSnapshot(m: Message, open: () => Promise<SnapshotData>): void {
    const report = (ok: boolean) => this.opts.sink.snapshotStatus?.(m.to, ok);
    const urls = this.peerUrls.get(m.to);
    if (
      this.closed ||
      urls === undefined ||
      urls.length === 0 ||
      this.opts.faults?.dropTo.has(m.to) === true
    ) {
      setImmediate(() => report(false));
      return;
    }
    const started = performance.now();
    sendSnapshotOverHttp2(urls[0] as string, m, open, {
      self: this.opts.self,
      clusterId: this.opts.clusterId,
      tls: this.opts.tls,
    }).then(
      (bytes) => {
        this.opts.logger.info(
          {
            peer: m.to,
            index: m.snapshot?.metadata.index,
            bytes,
            ms: Math.round(performance.now() - started),
          },
          "sent a snapshot to a peer",
        );
        report(true);
      },
      (err: unknown) => {
        this.opts.logger.warn(
          { peer: m.to, err: (err as Error).message },
          "sending a snapshot to a peer failed",
        );
        report(false);
      },
    );
  }

  setPeers(peers: ReadonlyMap<NodeId, readonly string[]>): void {
    this.peerUrls = new Map(peers);
    if (this.closed) return;
    for (const [id, link] of this.links) {
      if (!peers.has(id)) {
        link.close();
        this.links.delete(id);
      }
    }
    for (const [id, urls] of peers) {
      if (id === this.opts.self) continue;
      const link = this.links.get(id);
      if (link !== undefined) link.setUrls(urls);
      else
        this.links.set(
          id,
          new PeerLink({
            self: this.opts.self,
            peer: id,
            clusterId: this.opts.clusterId,
            urls,
            tls: this.opts.tls,
            logger: this.opts.logger,
            maxQueuedBytes: this.opts.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES,
            onUnreachable: (peer) => this.opts.sink.unreachable(peer),
            onRemoved: () => this.opts.onRemoved?.(),
          }),
        );
    }
  }

  /** Whether the link to a peer is up (for metrics and tests). */
  isConnected(peer: NodeId): boolean {
    return this.links.get(peer)?.connected ?? false;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const link of this.links.values()) link.close();
    this.links.clear();
  }

  private linkTo(to: NodeId): PeerLink | undefined {
    const link = this.links.get(to);
    if (link === undefined) this.opts.sink.unreachable(to);
    return link;
  }
}
