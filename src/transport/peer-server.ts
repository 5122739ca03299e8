// The peer listener: an HTTP/2 server (h2c, or TLS with --peer-cert-file/--peer-auto-tls) on each
// --listen-peer-urls address. It accepts raft streams from members of this cluster only (cluster
// ID and addressed member checked on every stream) and serves a few read-only paths for members
// that are joining. Frames above the size limit or that do not decode close the stream.
import http2 from "node:http2";
import type net from "node:net";
import { PassThrough } from "node:stream";
import type { Message, NodeId } from "../raft/index.js";
import { decodeMessages } from "./message-codec.js";
import { FAULTS_PATH, type PeerFaults } from "./faults.js";
import { FrameReader } from "./frames.js";
import { MAX_RPC_BYTES, RPC_PATH_PREFIX } from "./peer-rpc.js";
import {
  DEFAULT_MAX_FRAME_BYTES,
  PEER_HEADERS,
  RAFT_SNAPSHOT_PATH,
  RAFT_STREAM_PATH,
  type PeerServerTls,
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
  port: number;
  close(): Promise<void>;
}

/** Handles one HTTP/2 stream of the peer port. */
export function createPeerStreamHandler(
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
      const refusal = refuse(opts, headers);
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
      const refusal = refuse(opts, headers);
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
    if (method !== "POST" || path !== RAFT_STREAM_PATH) {
      stream.respond({ ":status": 404, "content-type": "text/plain" });
      stream.end("404 page not found\n");
      return;
    }
    const from = String(headers[PEER_HEADERS.from] ?? "");
    const refusal = refuse(opts, headers);
    if (refusal !== "") {
      opts.logger.warn({ from, reason: refusal }, "refused a raft stream from a peer");
      stream.respond({ ":status": refusal === REMOVED_REASON ? 410 : 412, "content-type": "text/plain" });
      stream.end(`${refusal}\n`);
      return;
    }
    stream.respond({ ":status": 200, "content-type": "application/octet-stream" });
    const reader = new FrameReader(maxFrame);
    stream.on("data", (chunk: Buffer) => {
      const messages: Message[] = [];
      try {
        for (const payload of reader.push(chunk)) messages.push(...decodeMessages(payload));
      } catch (err) {
        opts.logger.warn(
          { from, err: (err as Error).message },
          "dropping a malformed raft stream from a peer",
        );
        stream.close(http2.constants.NGHTTP2_PROTOCOL_ERROR);
        return;
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
    });
    stream.on("end", () => stream.end());
  };
}

export const REMOVED_REASON = "the member has been permanently removed from the cluster";

/** Why a request from a peer is refused ("" when it is from a member of this cluster, to us). */
function refuse(opts: PeerServerOptions, headers: http2.IncomingHttpHeaders): string {
  const to = String(headers[PEER_HEADERS.to] ?? "");
  const from = String(headers[PEER_HEADERS.from] ?? "");
  if (opts.isRemoved?.(from) === true) return REMOVED_REASON;
  const cluster = String(headers[PEER_HEADERS.clusterId] ?? "");
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

/** Listens on one peer URL (http:// or https://). Port 0 picks a free port. */
export async function listenPeerUrl(
  url: string,
  onStream: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void,
  tls: PeerServerTls | undefined,
): Promise<PeerListener> {
  const u = new URL(url);
  const secure = u.protocol === "https:";
  if (secure && tls === undefined) {
    throw new Error(
      "TLS key/cert (--peer-cert-file, --peer-key-file) must be provided for peer url with HTTPS scheme",
    );
  }
  const server = secure
    ? http2.createSecureServer({
        cert: tls?.cert,
        key: tls?.key,
        ca: tls?.ca,
        requestCert: tls?.clientCertAuth === true,
        rejectUnauthorized: tls?.clientCertAuth === true,
      })
    : http2.createServer();
  const sockets = new Set<net.Socket>();
  server.on("connection", (s: net.Socket) => {
    s.setNoDelay(true);
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("secureConnection", (s: net.Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("stream", onStream);
  server.on("sessionError", () => {});
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
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
