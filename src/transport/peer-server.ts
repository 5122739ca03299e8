// The peer listener on each --listen-peer-urls address (TCP, or TLS with --peer-cert-file or
// --peer-auto-tls). A connection that opens with RAFT_MAGIC is a raft stream; anything else is
// HTTP/2 (snapshots, peer requests, and a few read-only paths for members that are joining).
// Raft streams are taken from members of this cluster only (cluster ID and addressed member
// checked in the hello); frames above the size limit or that do not decode close the connection.
import { addTo, peerCounts } from "../common/etcd-counts.js";
import http2 from "node:http2";
import net from "node:net";
import tls from "node:tls";
import { PassThrough } from "node:stream";
import type { Message, NodeId } from "../raft/index.js";
import { admitThen } from "../common/tls-gate.js";
import { isSecureUrl, isUnixUrl, prepareUnixSocket, unixSocketPath } from "../common/unix-socket.js";
import { decodeMessages } from "./message-codec.js";
import { FAULTS_PATH, type PeerFaults } from "./faults.js";
import { frame, FrameReader } from "./frames.js";
import { MAX_RPC_BYTES, RPC_PATH_PREFIX } from "./peer-rpc.js";
import {
  DEFAULT_MAX_FRAME_BYTES,
  MAX_HELLO_BYTES,
  PEER_HEADERS,
  RAFT_ALPN,
  RAFT_MAGIC,
  RAFT_SNAPSHOT_PATH,
  type PeerServerTls,
  type RaftHello,
  type RaftHelloAnswer,
  type TransportLogger,
} from "./protocol.js";
import type { PeerSink } from "./types.js";

export interface PeerServerOptions {
  self: NodeId;
  /** The cluster ID streams must carry (a function: it is learnt when joining). */
  clusterId: () => bigint;
  sink: PeerSink;
  logger: TransportLogger;
  maxFrameBytes?: number;
  /** Extra read-only routes (GET path → JSON body). */
  routes?: Record<string, () => unknown>;
  /** Answers POST /rpc/<method> from other members of this cluster (resolve = ok, throw = error). */
  rpc?: (method: string, body: unknown) => Promise<unknown>;
  /** Members removed from the cluster: their streams and requests get 410 Gone. */
  isRemoved?: (from: NodeId) => boolean;
  /** Test-only fault injection: PUT /test/faults, and messages from listed peers dropped. */
  faults?: PeerFaults;
}

export interface PeerListener {
  url: string;
  /** The bound TCP port (0 for a unix socket). */
  port: number;
  close(): Promise<void>;
}

/** What the peer port does with a connection: a raft stream, or HTTP/2 streams. */
export interface PeerHandler {
  /** A raft stream connection, read from just after RAFT_MAGIC. */
  raftConnection(socket: net.Socket): void;
  /** One HTTP/2 stream. */
  stream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void;
}

export function createPeerHandler(opts: PeerServerOptions): PeerHandler {
  return {
    raftConnection: (socket) => serveRaftConnection(socket, opts),
    stream: createStreamHandler(opts),
  };
}

/** Handles one HTTP/2 stream of the peer port. */
function createStreamHandler(
  opts: PeerServerOptions,
): (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void {
  const maxFrame = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  return (stream, headers) => {
    stream.on("error", () => {});
    const path = String(headers[":path"] ?? "");
    const method = String(headers[":method"] ?? "");
    const route = method === "GET" ? opts.routes?.[path] : undefined;
    if (route !== undefined) {
      Promise.resolve()
        .then(route)
        .then(
          (body) => {
            if (stream.destroyed) return;
            stream.respond({ ":status": 200, "content-type": "application/json" });
            stream.end(JSON.stringify(body));
          },
          (err: unknown) => {
            if (stream.destroyed) return;
            stream.respond({ ":status": 503, "content-type": "application/json" });
            stream.end(JSON.stringify({ error: (err as Error).message }));
          },
        );
      return;
    }
    const faults = opts.faults;
    if (faults !== undefined && path === FAULTS_PATH) {
      serveFaults(stream, method, faults);
      return;
    }
    if (method === "POST" && path.startsWith(RPC_PATH_PREFIX) && opts.rpc !== undefined) {
      const refusal = refuseHeaders(opts, headers);
      if (refusal !== "") {
        stream.respond({ ":status": 412, "content-type": "text/plain" });
        stream.end(`${refusal}\n`);
        return;
      }
      if (faults !== undefined && faults.dropFrom.has(String(headers[PEER_HEADERS.from] ?? ""))) {
        faults.droppedIn++;
        stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
        return;
      }
      serveRpc(stream, path.slice(RPC_PATH_PREFIX.length), opts.rpc);
      return;
    }
    if (method === "POST" && path === RAFT_SNAPSHOT_PATH) {
      const refusal = refuseHeaders(opts, headers);
      const from = String(headers[PEER_HEADERS.from] ?? "");
      if (refusal !== "" || opts.sink.receiveSnapshot === undefined) {
        stream.respond({ ":status": 412, "content-type": "text/plain" });
        stream.end(`${refusal || "this member does not take snapshots"}\n`);
        return;
      }
      if (faults !== undefined && faults.dropFrom.has(from)) {
        faults.droppedIn++;
        stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
        return;
      }
      serveSnapshot(stream, from, opts, maxFrame);
      return;
    }
    stream.respond({ ":status": 404, "content-type": "text/plain" });
    stream.end("404 page not found\n");
  };
}

/**
 * Reads a raft stream: the hello (answered 200, or 412/410 and closed), then frames of messages,
 * each handed to the sink if it is from the hello's sender to this member.
 */
function serveRaftConnection(socket: net.Socket, opts: PeerServerOptions): void {
  const reader = new FrameReader(MAX_HELLO_BYTES);
  let from: string | undefined;
  const faults = opts.faults;
  const answer = (a: RaftHelloAnswer) => frame(Buffer.from(JSON.stringify(a)));
  const drop = (reason: string) => {
    opts.logger.warn({ from, reason }, "dropping a malformed raft stream from a peer");
    socket.destroy();
  };
  socket.on("error", () => {});
  socket.on("data", (chunk: Buffer) => {
    if (socket.destroyed) return;
    reader.add(chunk);
    for (;;) {
      let payload: Buffer | undefined;
      try {
        payload = reader.next();
      } catch (err) {
        return drop((err as Error).message);
      }
      if (payload === undefined) return;
      if (from === undefined) {
        let hello: RaftHello;
        try {
          hello = JSON.parse(payload.toString("utf8")) as RaftHello;
        } catch {
          return drop("the hello is not JSON");
        }
        const sender = String(hello.from ?? "");
        const refusal = refuse(opts, {
          cluster: String(hello.cluster ?? ""),
          from: sender,
          to: String(hello.to ?? ""),
        });
        if (refusal !== "") {
          opts.logger.warn({ from: sender, reason: refusal }, "refused a raft stream from a peer");
          // Half-closed and no longer read, so the answer reaches the peer before the connection
          // goes; the peer closes it (or the timeout does).
          socket.end(answer({ status: refusal === REMOVED_REASON ? 410 : 412, reason: refusal }));
          socket.pause();
          socket.setTimeout(5_000, () => socket.destroy());
          return;
        }
        from = sender;
        addTo(peerCounts.inbound, sender, 1);
        socket.once("close", () => addTo(peerCounts.inbound, sender, -1));
        reader.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
        socket.write(answer({ status: 200 }));
        continue;
      }
      addTo(peerCounts.receivedBytes, from, payload.length + 4);
      let messages: Message[];
      try {
        messages = decodeMessages(payload);
      } catch (err) {
        return drop((err as Error).message);
      }
      for (const m of messages) {
        if (m.from !== from || m.to !== opts.self) continue;
        if (faults !== undefined && faults.dropFrom.has(from)) {
          faults.droppedIn++;
          continue;
        }
        try {
          opts.sink.receive(m);
        } catch (err) {
          opts.logger.error({ from, type: m.type, err }, "the member failed to take a raft message");
        }
      }
    }
  });
  socket.resume();
}

export const REMOVED_REASON = "the member has been permanently removed from the cluster";

/** Why an HTTP/2 request from a peer is refused ("" when it is from a member of this cluster, to us). */
function refuseHeaders(opts: PeerServerOptions, headers: http2.IncomingHttpHeaders): string {
  return refuse(opts, {
    cluster: String(headers[PEER_HEADERS.clusterId] ?? ""),
    from: String(headers[PEER_HEADERS.from] ?? ""),
    to: String(headers[PEER_HEADERS.to] ?? ""),
  });
}

/** Why a peer is refused ("" when it is from a member of this cluster, to us). */
function refuse(opts: PeerServerOptions, { cluster, from, to }: RaftHello): string {
  if (opts.isRemoved?.(from) === true) return REMOVED_REASON;
  const ours = opts.clusterId().toString(16);
  if (cluster !== ours) {
    return `cluster ID mismatch: this member is in cluster ${ours}, the peer in ${cluster || "none"}`;
  }
  if (to !== opts.self) return `member ${to || "(none)"} is not this member (${opts.self})`;
  return "";
}

function serveRpc(
  stream: http2.ServerHttp2Stream,
  method: string,
  rpc: (method: string, body: unknown) => Promise<unknown>,
): void {
  let text = "";
  stream.setEncoding("utf8");
  stream.on("data", (c: string) => {
    text += c;
    if (text.length > MAX_RPC_BYTES) stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
  });
  stream.on("end", () => {
    const answer = (body: unknown) => {
      if (stream.destroyed) return;
      stream.respond({ ":status": 200, "content-type": "application/json" });
      stream.end(JSON.stringify(body));
    };
    let body: unknown;
    try {
      body = JSON.parse(text) as unknown;
    } catch {
      answer({ error: { message: "malformed request body", code: "INVALID_ARGUMENT" } });
      return;
    }
    rpc(method, body).then(
      (ok) => answer({ ok }),
      (err: unknown) => {
        const e = err as { message?: string; code?: unknown; grpcCode?: unknown };
        const code = typeof e.code === "string" ? e.code : "UNKNOWN";
        answer({ error: { message: e.message ?? String(err), code } });
      },
    );
  });
}

/** Receives POST /raft/snapshot: the message frame first, then the data, handed to the sink. */
function serveSnapshot(
  stream: http2.ServerHttp2Stream,
  from: string,
  opts: PeerServerOptions,
  maxFrame: number,
): void {
  const receive = opts.sink.receiveSnapshot as NonNullable<PeerSink["receiveSnapshot"]>;
  const data = new PassThrough();
  let head: Buffer = Buffer.alloc(0);
  let started = false;
  const fail = (status: number, reason: string) => {
    data.destroy();
    if (stream.destroyed) return;
    if (!stream.headersSent) stream.respond({ ":status": status, "content-type": "text/plain" });
    stream.end(`${reason}\n`);
  };
  const start = (m: Message) => {
    started = true;
    receive(m, data).then(
      () => {
        if (stream.destroyed) return;
        stream.respond({ ":status": 200, "content-type": "text/plain" });
        stream.end("ok\n");
      },
      (err: unknown) => {
        opts.logger.warn({ from, err: (err as Error).message }, "receiving a snapshot failed");
        fail(500, (err as Error).message);
      },
    );
  };
  stream.on("data", (chunk: Buffer) => {
    if (started) {
      if (!data.write(chunk)) {
        stream.pause();
        data.once("drain", () => stream.resume());
      }
      return;
    }
    head = Buffer.concat([head, chunk]);
    if (head.length < 4) return;
    const size = head.readUInt32BE(0);
    if (size > maxFrame) return fail(413, `snapshot message of ${size} bytes is too large`);
    if (head.length < 4 + size) return;
    let messages: Message[];
    try {
      messages = decodeMessages(head.subarray(4, 4 + size));
    } catch (err) {
      return fail(400, `malformed snapshot message: ${(err as Error).message}`);
    }
    const m = messages[0];
    if (
      messages.length !== 1 ||
      m === undefined ||
      m.snapshot === undefined ||
      m.from !== from ||
      m.to !== opts.self
    ) {
      return fail(400, "the snapshot frame must hold one snapshot message from the sender to this member");
    }
    const rest = head.subarray(4 + size);
    head = Buffer.alloc(0);
    start(m);
    if (rest.length > 0) data.write(rest);
  });
  stream.on("end", () => data.end());
  stream.on("aborted", () => data.destroy(new Error("the sender went away")));
}

function serveFaults(stream: http2.ServerHttp2Stream, method: string, faults: PeerFaults): void {
  const answer = (status: number, body: unknown) => {
    stream.respond({ ":status": status, "content-type": "application/json" });
    stream.end(JSON.stringify(body));
  };
  if (method === "GET") return answer(200, faults.state());
  if (method !== "PUT") return answer(405, { error: "use GET or PUT" });
  let text = "";
  stream.setEncoding("utf8");
  stream.on("data", (c: string) => {
    text += c;
    if (text.length > 1 << 20) stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
  });
  stream.on("end", () => {
    try {
      faults.apply(JSON.parse(text) as unknown);
      answer(200, faults.state());
    } catch (err) {
      answer(400, { error: (err as Error).message });
    }
  });
}

/** A connection must show what it is (raft stream or HTTP/2) within this long, by default. */
const SNIFF_TIMEOUT_MS = 10_000;

/**
 * Tells a raft stream (RAFT_MAGIC) from HTTP/2 by the connection's first bytes; the bytes read
 * are put back for whichever side takes the connection.
 */
function sniff(
  socket: net.Socket,
  timeoutMs: number,
  onRaft: (s: net.Socket) => void,
  onHttp2: (s: net.Socket) => void,
): void {
  let head: Buffer = Buffer.alloc(0);
  socket.setTimeout(timeoutMs, () => socket.destroy());
  const onData = (chunk: Buffer) => {
    head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
    const n = Math.min(head.length, RAFT_MAGIC.length);
    const raft = head.subarray(0, n).equals(RAFT_MAGIC.subarray(0, n));
    if (raft && head.length < RAFT_MAGIC.length) return;
    socket.off("data", onData);
    socket.pause();
    socket.setTimeout(0);
    if (raft) {
      const rest = head.subarray(RAFT_MAGIC.length);
      if (rest.length > 0) socket.unshift(rest);
      onRaft(socket);
    } else {
      socket.unshift(head);
      onHttp2(socket);
    }
  };
  socket.on("data", onData);
  socket.on("error", () => {});
}

/** Listens on one peer URL (http, https, unix or unixs). Port 0 picks a free TCP port. */
export async function listenPeerUrl(
  url: string,
  handler: PeerHandler,
  tlsOpts: PeerServerTls | undefined,
  opts: { sniffTimeoutMs?: number } = {},
): Promise<PeerListener> {
  const u = new URL(url);
  const secure = isSecureUrl(url);
  if (secure && tlsOpts === undefined) {
    throw new Error(
      "TLS key/cert (--peer-cert-file, --peer-key-file) must be provided for peer url with HTTPS scheme",
    );
  }
  // HTTP/2 sessions are handed their (already TLS-terminated) connection by the sniffer.
  const h2 = http2.createServer();
  h2.on("stream", handler.stream);
  h2.on("sessionError", () => {});
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  };
  const accept = (s: net.Socket) => {
    track(s);
    sniff(
      s,
      opts.sniffTimeoutMs ?? SNIFF_TIMEOUT_MS,
      (raft) => handler.raftConnection(raft),
      (other) => h2.emit("connection", other),
    );
  };
  const server: net.Server = secure
    ? tls.createServer(
        {
          cert: tlsOpts?.cert,
          key: tlsOpts?.key,
          ca: tlsOpts?.ca,
          requestCert: tlsOpts?.clientCertAuth === true,
          rejectUnauthorized: tlsOpts?.clientCertAuth === true,
          ALPNProtocols: ["h2", RAFT_ALPN],
        },
        (s: tls.TLSSocket) => admitThen(tlsOpts?.gate, s, accept),
      )
    : net.createServer({ noDelay: true }, accept);
  server.on("connection", (s: net.Socket) => {
    s.setNoDelay(true);
    track(s);
  });
  server.on("tlsClientError", (err: Error, s: tls.TLSSocket) => tlsOpts?.gate?.logRejected(s, err.message));
  if (isUnixUrl(url)) {
    const path = unixSocketPath(url);
    await prepareUnixSocket(path);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(path, () => {
        server.off("error", reject);
        resolve();
      });
    });
    return { url, port: 0, close: closer(server, h2, sockets) };
  }
  const host = u.hostname.replace(/^\[(.*)\]$/, "$1");
  const bindHost = host === "localhost" ? "127.0.0.1" : host;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(Number(u.port || (secure ? 443 : 80)), bindHost, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : Number(u.port);
  u.port = String(port);
  return {
    url: u.toString().replace(/\/$/, ""),
    port,
    close: closer(server, h2, sockets),
  };
}

/** Stops accepting (a unix socket's file goes with it) and drops every open connection. */
function closer(server: net.Server, h2: http2.Http2Server, sockets: Set<net.Socket>): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      h2.close();
      for (const s of sockets) s.destroy();
    });
}
