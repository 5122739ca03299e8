// One outbound link to one peer: a connection of its own (TCP, or TLS with ALPN kvorum-raft) that
// opens with RAFT_MAGIC and a hello frame, waits for the peer's answer frame, then carries frames
// one way, each one Batch of raft messages. Not an HTTP/2 stream: Node's HTTP/2 hands a stream's
// data to the socket a loop turn after the write, and that delay sat on every append and every
// acknowledgement. Connects on first use, reconnects with exponential backoff (rotating through the
// peer's URLs), and drops messages instead of queueing without bound: raft retransmits, and the
// member is told the peer is unreachable so the leader goes back to probing it.
import { addTo, counts, peerCounts } from "../common/etcd-counts.js";
import type net from "node:net";
import { MessageType, type Message, type NodeId } from "../raft/index.js";
import { dialPeer } from "./dial.js";
import { encodeMessages } from "./message-codec.js";
import { frame, FrameReader } from "./frames.js";
import {
  MAX_HELLO_BYTES,
  RAFT_ALPN,
  RAFT_MAGIC,
  type PeerClientTls,
  type RaftHello,
  type RaftHelloAnswer,
  type TransportLogger,
} from "./protocol.js";

export interface PeerLinkOptions {
  self: NodeId;
  peer: NodeId;
  clusterId: bigint;
  urls: readonly string[];
  tls?: PeerClientTls;
  logger: TransportLogger;
  /** Bytes a link may hold unsent before it drops messages (backpressure). */
  maxQueuedBytes: number;
  onUnreachable(peer: NodeId): void;
  /** A peer answered 410: this member has been removed from the cluster. */
  onRemoved?(): void;
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

type LinkState = "idle" | "connecting" | "open" | "backoff" | "closed";

export class PeerLink {
  private state: LinkState = "idle";
  private socket: net.Socket | undefined;
  private urls: readonly string[];
  private urlIndex = 0;
  private backoffMs: number;
  private retryTimer: NodeJS.Timeout | undefined;
  private lastError = "";
  /** Counters, for metrics and tests. */
  sentFrames = 0;
  droppedMessages = 0;

  constructor(private readonly opts: PeerLinkOptions) {
    this.urls = opts.urls;
    this.backoffMs = opts.minBackoffMs ?? 50;
  }

  get connected(): boolean {
    return this.state === "open";
  }

  /** New URLs for this peer (MemberUpdate): reconnect to them. */
  setUrls(urls: readonly string[]): void {
    if (urls.join(",") === this.urls.join(",")) return;
    this.urls = urls;
    this.urlIndex = 0;
    this.reset("peer URLs changed");
  }

  send(messages: readonly Message[]): void {
    if (this.state === "closed") return;
    if (this.state === "idle") this.connect();
    const socket = this.socket;
    if (this.state !== "open" && this.state !== "connecting") return this.drop(messages);
    if (socket === undefined || socket.destroyed || socket.writableLength > this.opts.maxQueuedBytes) {
      return this.drop(messages);
    }
    // Written now: the socket tries the send at once instead of at the end of the loop turn.
    const bytes = frame(encodeMessages(messages));
    socket.write(bytes);
    addTo(peerCounts.sentBytes, this.opts.peer, bytes.length);
    this.sentFrames++;
  }

  close(): void {
    this.state = "closed";
    clearTimeout(this.retryTimer);
    this.teardown();
  }

  private drop(messages: readonly Message[]): void {
    this.droppedMessages += messages.length;
    for (const m of messages) if (m.type === MessageType.Heartbeat) counts.heartbeatSendFailures++;
    this.opts.onUnreachable(this.opts.peer);
  }

  private connect(): void {
    if (this.urls.length === 0) {
      this.state = "backoff";
      this.scheduleRetry("no peer URL known");
      return;
    }
    this.state = "connecting";
    const url = this.urls[this.urlIndex % this.urls.length] as string;
    const socket = dialPeer(url, this.opts.tls, [RAFT_ALPN]);
    this.socket = socket;
    socket.on("error", (err: Error) => this.failed(socket, `${url}: ${err.message}`));
    socket.on("close", () => this.failed(socket, `${url}: connection closed`));
    // The peer sends one answer frame and nothing after it.
    const reader = new FrameReader(MAX_HELLO_BYTES);
    socket.on("data", (chunk: Buffer) => {
      if (this.socket !== socket) return;
      let answers: Buffer[];
      try {
        answers = reader.push(chunk);
      } catch (err) {
        return this.failed(socket, `${url}: ${(err as Error).message}`);
      }
      for (const a of answers) this.answered(socket, url, a);
    });
    const hello: RaftHello = {
      cluster: this.opts.clusterId.toString(16),
      from: this.opts.self,
      to: this.opts.peer,
    };
    socket.write(Buffer.concat([RAFT_MAGIC, frame(Buffer.from(JSON.stringify(hello)))]));
  }

  private answered(socket: net.Socket, url: string, payload: Buffer): void {
    if (this.state !== "connecting") {
      return this.failed(socket, `${url}: the peer sent data after its answer`);
    }
    let answer: RaftHelloAnswer;
    try {
      answer = JSON.parse(payload.toString("utf8")) as RaftHelloAnswer;
    } catch {
      return this.failed(socket, `${url}: the peer's answer to the raft stream hello is not JSON`);
    }
    if (answer.status !== 200) {
      // 410: this member was removed from the cluster; the peer will never take its traffic again.
      if (answer.status === 410) this.opts.onRemoved?.();
      return this.failed(
        socket,
        `${url} refused the raft stream (${answer.status}): ${String(answer.reason ?? "").trim()}`,
      );
    }
    this.state = "open";
    peerCounts.active.set(this.opts.peer, 1);
    this.backoffMs = this.opts.minBackoffMs ?? 50;
    if (this.lastError !== "") {
      this.opts.logger.info({ peer: this.opts.peer, url }, "peer link restored");
      this.lastError = "";
    } else {
      this.opts.logger.debug({ peer: this.opts.peer, url }, "peer link established");
    }
  }

  private failed(socket: net.Socket, reason: string): void {
    if (this.socket !== socket || this.state === "closed") return;
    this.teardown();
    this.state = "backoff";
    this.urlIndex++;
    if (reason !== this.lastError) {
      this.opts.logger.warn({ peer: this.opts.peer, reason }, "peer link down; retrying");
      this.lastError = reason;
    }
    this.opts.onUnreachable(this.opts.peer);
    this.scheduleRetry(reason);
  }

  private reset(reason: string): void {
    if (this.state === "closed") return;
    this.teardown();
    clearTimeout(this.retryTimer);
    this.state = "idle";
    this.opts.logger.debug({ peer: this.opts.peer, reason }, "peer link reset");
  }

  private scheduleRetry(_reason: string): void {
    clearTimeout(this.retryTimer);
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.opts.maxBackoffMs ?? 1000);
    this.retryTimer = setTimeout(() => {
      if (this.state === "backoff") this.connect();
    }, delay);
    this.retryTimer.unref();
  }

  private teardown(): void {
    peerCounts.active.delete(this.opts.peer);
    const socket = this.socket;
    this.socket = undefined;
    socket?.destroy();
  }
}
