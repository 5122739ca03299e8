// Constants and shared shapes of Kvorum's peer protocol, on the peer URLs:
//   the raft stream      a connection of its own, not HTTP/2: RAFT_MAGIC, then a hello frame
//                        (JSON: cluster ID, sender, addressed member), then one answer frame back
//                        (JSON: status 200, or 412/410 with the reason), then frames one way, each a
//                        Batch of raft messages (peer.proto). Under TLS its ALPN name is RAFT_ALPN.
//   POST /raft/snapshot  (HTTP/2) a snapshot message frame, then the backend's data.
//   POST /rpc/<method>   (HTTP/2) peer requests (membership, leader transfer...), JSON both ways.
//   GET  /members        (HTTP/2) the cluster's members as JSON (for a member joining a cluster).
//   GET  /version        (HTTP/2) {"etcdserver", "etcdcluster"} as etcd's peer port answers.
// The listener tells a raft stream from HTTP/2 by its first bytes (HTTP/2 opens with "PRI * ").
import type { CertIdentityRule, TlsGate } from "../common/tls-gate.js";

/** The first bytes of a raft stream connection. */
export const RAFT_MAGIC = Buffer.from("KVRAFT1\n", "latin1");
/** The ALPN protocol name a raft stream connection asks for under TLS (HTTP/2 asks for "h2"). */
export const RAFT_ALPN = "kvorum-raft";
/** A raft stream's hello and its answer are at most this long. */
export const MAX_HELLO_BYTES = 4096;

/** What a raft stream connection says first: who sends, to whom, in which cluster (hex). */
export interface RaftHello {
  cluster: string;
  from: string;
  to: string;
}

/** The listener's answer to a hello: 200, or 412 (wrong cluster or member) / 410 (removed). */
export interface RaftHelloAnswer {
  status: number;
  reason?: string;
}
export const RAFT_SNAPSHOT_PATH = "/raft/snapshot";

export const PEER_HEADERS = {
  clusterId: "x-kvorum-cluster-id",
  from: "x-kvorum-from",
  to: "x-kvorum-to",
} as const;

/** Frames above this are refused (a raft message is at most max-request-bytes plus its envelope). */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024;
/** Unsent bytes a link may hold before dropping messages. */
export const DEFAULT_MAX_QUEUED_BYTES = 32 * 1024 * 1024;

/** TLS for outgoing peer connections. */
export interface PeerClientTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** False with --peer-auto-tls (self-signed certificates), as etcd does. */
  rejectUnauthorized: boolean;
  /** --peer-cert-allowed-cn / --peer-cert-allowed-hostname, held against the peer's server certificate too. */
  identity?: CertIdentityRule;
}

/** TLS for the peer listener. */
export interface PeerServerTls {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
  /** --peer-client-cert-auth: a peer must present a certificate signed by `ca`. */
  clientCertAuth: boolean;
  /** Checks after the handshake (CRL, allowed CN/hostname) and logging of refusals. */
  gate?: TlsGate;
}

export interface TransportLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}
