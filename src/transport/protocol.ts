// Constants and shared shapes of Kvorum's peer protocol (HTTP/2 on the peer URLs):
//   POST /raft/stream    a long-lived body of frames, each a Batch of raft messages (peer.proto);
//                        the server answers 200 at once, or 412 when the cluster ID or the
//                        addressed member does not match, with the reason as text.
//   GET  /members        the cluster's members as JSON (for a member joining an existing cluster).
//   GET  /version        {"etcdserver", "etcdcluster"} as etcd's peer port answers.
export const RAFT_STREAM_PATH = "/raft/stream";
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
}

/** TLS for the peer listener. */
export interface PeerServerTls {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
  /** --peer-client-cert-auth: a peer must present a certificate signed by `ca`. */
  clientCertAuth: boolean;
}

export interface TransportLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}
