// Requests from one member to another over the peer port, for what a follower must ask the
// leader (lease keep-alives and time-to-live, as etcd forwards them): POST /rpc/<method> with a
// JSON body, answered with {"ok": value} or {"error": {"message", "code"}} (etcd's error text and
// gRPC code, so the follower can hand the leader's answer to its client unchanged). Sessions are
// kept per peer URL and dropped on error; each call is bounded in time.
import http2 from "node:http2";
import type { NodeId } from "../raft/index.js";
import { connectPeer } from "./dial.js";
import type { PeerFaults } from "./faults.js";
import { PEER_HEADERS, type PeerClientTls } from "./protocol.js";
import type { PeerCaller } from "./types.js";

export const RPC_PATH_PREFIX = "/rpc/";
/** Request and answer bodies above this are refused. */
export const MAX_RPC_BYTES = 16 * 1024 * 1024;

/** An error the remote member answered with (etcd message and gRPC code name). */
export class PeerRpcError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = "PeerRpcError";
  }
}

/** The peer could not be reached or did not answer in time. */
export class PeerUnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PeerUnreachableError";
  }
}

export interface PeerRpcClientOptions {
  self: NodeId;
  clusterId: () => bigint;
  /** Current peer URLs of a member. */
  urlsOf: (peer: NodeId) => readonly string[] | undefined;
  tls?: PeerClientTls;
  /** Test-only fault injection: calls to peers in dropTo fail as unreachable. */
  faults?: PeerFaults;
}

export class PeerRpcClient implements PeerCaller {
  private readonly sessions = new Map<string, http2.ClientHttp2Session>();
  private closed = false;

  constructor(private readonly opts: PeerRpcClientOptions) {}

  async call(peer: NodeId, method: string, body: unknown, timeoutMs: number): Promise<unknown> {
    if (this.closed) throw new PeerUnreachableError("peer client closed");
    if (this.opts.faults?.dropTo.has(peer) === true) {
      this.opts.faults.droppedOut++;
      throw new PeerUnreachableError(`member ${peer} is unreachable (fault injection)`);
    }
    const url = this.opts.urlsOf(peer)?.[0];
    if (url === undefined) throw new PeerUnreachableError(`no peer URL for member ${peer}`);
    const session = this.session(url);
    return new Promise<unknown>((resolve, reject) => {
      const stream = session.request({
        ":method": "POST",
        ":path": `${RPC_PATH_PREFIX}${method}`,
        "content-type": "application/json",
        [PEER_HEADERS.clusterId]: this.opts.clusterId().toString(16),
        [PEER_HEADERS.from]: this.opts.self,
        [PEER_HEADERS.to]: peer,
      });
      const timer = setTimeout(() => {
        stream.close(http2.constants.NGHTTP2_CANCEL);
        reject(new PeerUnreachableError(`member ${peer} did not answer ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      let text = "";
      let status = 0;
      stream.setEncoding("utf8");
      stream.on("response", (h) => (status = Number(h[":status"])));
      stream.on("data", (c: string) => {
        text += c;
        if (text.length > MAX_RPC_BYTES) stream.close(http2.constants.NGHTTP2_CANCEL);
      });
      stream.on("error", (err: Error) => {
        clearTimeout(timer);
        reject(new PeerUnreachableError(`${method} to member ${peer}: ${err.message}`));
      });
      stream.on("end", () => {
        clearTimeout(timer);
        let answer: { ok?: unknown; error?: { message?: string; code?: string } };
        try {
          answer = JSON.parse(text) as typeof answer;
        } catch {
          reject(
            new PeerUnreachableError(`${method} to member ${peer}: status ${status}, ${text.slice(0, 200)}`),
          );
          return;
        }
        if (answer.error !== undefined) {
          reject(new PeerRpcError(answer.error.message ?? "unknown error", answer.error.code ?? "UNKNOWN"));
        } else resolve(answer.ok);
      });
      stream.end(JSON.stringify(body));
    });
  }

  close(): void {
    this.closed = true;
    for (const s of this.sessions.values()) s.destroy();
    this.sessions.clear();
  }

  private session(url: string): http2.ClientHttp2Session {
    const cached = this.sessions.get(url);
    if (cached !== undefined && !cached.closed && !cached.destroyed) return cached;
    const session = connectPeer(url, this.opts.tls);
    const forget = () => {
      if (this.sessions.get(url) === session) this.sessions.delete(url);
    };
    session.on("error", forget);
    session.on("close", forget);
    session.on("goaway", forget);
    session.unref();
    this.sessions.set(url, session);
    return session;
  }
}

/** GET a JSON document from a peer URL (used before a member has an identity: no cluster check). */
export async function fetchPeerJson(
  url: string,
  path: string,
  peerTls: PeerClientTls | undefined,
  timeoutMs: number,
): Promise<unknown> {
  const session = connectPeer(url, peerTls);
  try {
    return await new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new PeerUnreachableError(`${url}${path}: no answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
      session.on("error", (err: Error) => {
        clearTimeout(timer);
        reject(new PeerUnreachableError(`${url}${path}: ${err.message}`));
      });
      const stream = session.request({ ":method": "GET", ":path": path });
      let status = 0;
      let text = "";
      stream.setEncoding("utf8");
      stream.on("response", (h) => (status = Number(h[":status"])));
      stream.on("data", (c: string) => (text += c));
      stream.on("error", (err: Error) => {
        clearTimeout(timer);
        reject(new PeerUnreachableError(`${url}${path}: ${err.message}`));
      });
      stream.on("end", () => {
        clearTimeout(timer);
        if (status !== 200) {
          reject(new PeerUnreachableError(`${url}${path}: status ${status} ${text.slice(0, 200)}`));
          return;
        }
        try {
          resolve(JSON.parse(text) as unknown);
        } catch {
          reject(new PeerUnreachableError(`${url}${path}: not JSON`));
        }
      });
      stream.end();
    });
  } finally {
    session.destroy();
  }
}
