// One outbound link to one peer: an HTTP/2 session with a long-lived POST /raft/stream whose body
// is a sequence of frames, each one Batch of raft messages. Connects on first use, reconnects with
// exponential backoff (rotating through the peer's URLs), and drops messages instead of queueing
// without bound: raft retransmits, and the member is told the peer is unreachable so the leader
// goes back to probing it.
import http2 from "node:http2";
import type { Message, NodeId } from "../raft/index.js";
import { connectPeer } from "./dial.js";
import { encodeMessages } from "./message-codec.js";
import { frame } from "./frames.js";
import { PEER_HEADERS, RAFT_STREAM_PATH, type PeerClientTls, type TransportLogger } from "./protocol.js";

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
  private session: http2.ClientHttp2Session | undefined;
  private stream: http2.ClientHttp2Stream | undefined;
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
    const stream = this.stream;
    if (this.state !== "open" && this.state !== "connecting") return this.drop(messages);
    if (stream === undefined || stream.destroyed || stream.writableLength > this.opts.maxQueuedBytes) {
      return this.drop(messages);
    }
    stream.write(frame(encodeMessages(messages)));
    this.sentFrames++;
  }

  close(): void {
    this.state = "closed";
    clearTimeout(this.retryTimer);
    this.teardown();
  }

  private drop(messages: readonly Message[]): void {
    this.droppedMessages += messages.length;
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
    const tls = this.opts.tls;
    const session = connectPeer(url, tls, { initialWindowSize: 4 * 1024 * 1024 });
    this.session = session;
    session.on("error", (err: Error) => this.failed(session, `${url}: ${err.message}`));
    session.on("close", () => this.failed(session, `${url}: connection closed`));
    session.on("goaway", () => this.failed(session, `${url}: peer is going away`));
    const stream = session.request(
      {
        ":method": "POST",
        ":path": RAFT_STREAM_PATH,
        "content-type": "application/octet-stream",
        [PEER_HEADERS.clusterId]: this.opts.clusterId.toString(16),
        [PEER_HEADERS.from]: this.opts.self,
        [PEER_HEADERS.to]: this.opts.peer,
      },
      { endStream: false },
    );
    this.stream = stream;
    stream.on("response", (headers) => {
      const status = Number(headers[":status"]);
      if (status === 410) {
        // This member was removed from the cluster: the peer will never take its traffic again.
        this.opts.onRemoved?.();
      }
      if (status !== 200) {
        let body = "";
        stream.setEncoding("utf8");
        stream.on("data", (c: string) => (body += c));
        stream.on("end", () =>
          this.failed(session, `${url} refused the raft stream (${status}): ${body.trim()}`),
        );
        return;
      }
      if (this.session !== session) return;
      this.state = "open";
      this.backoffMs = this.opts.minBackoffMs ?? 50;
      if (this.lastError !== "") {
        this.opts.logger.info({ peer: this.opts.peer, url }, "peer link restored");
        this.lastError = "";
      } else {
        this.opts.logger.debug({ peer: this.opts.peer, url }, "peer link established");
      }
      // The peer sends nothing back on this stream; reading keeps flow control moving.
      stream.resume();
    });
    stream.on("error", (err: Error) => this.failed(session, `${url}: ${err.message}`));
    stream.on("close", () => this.failed(session, `${url}: stream closed`));
  }

  private failed(session: http2.ClientHttp2Session, reason: string): void {
    if (this.session !== session || this.state === "closed") return;
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
    const session = this.session;
    const stream = this.stream;
    this.session = undefined;
    this.stream = undefined;
    stream?.destroy();
    session?.destroy();
  }
}
