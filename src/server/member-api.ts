// The contract between the member (src/server) and the API layer (src/api): everything a client
// request can ask of one member, in domain types (camelCase, Uint8Array keys, bigint lease and
// member IDs). The API layer converts protobuf messages to and from these and maps EtcdError codes
// to gRPC status codes; it holds no business logic.
import type { WatchSink, WatchStream } from "../mvcc/watch/index.js";
import type {
  CompactionRequest,
  CompactionResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  LeaseId,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  TxnRequest,
  TxnResponse,
} from "../mvcc/types.js";

/** What every etcd ResponseHeader carries besides the revision. */
export interface HeaderInfo {
  clusterId: bigint;
  memberId: bigint;
  raftTerm: number;
}

/** Per-request options from the API layer. */
export interface RequestOptions {
  /** Aborted when the client goes away or its deadline passes; the member stops waiting. */
  signal?: AbortSignal;
  /** gRPC metadata hasleader=true: fail with "etcdserver: no leader" when there is none. */
  requireLeader?: boolean;
}

export interface LeaseGrantResult {
  id: LeaseId;
  /** The granted TTL (the request raised to the minimum TTL). */
  ttl: number;
  revision: number;
}

export interface LeaseTimeToLiveResult {
  id: LeaseId;
  /** Seconds left; -1 for an unknown lease. */
  ttl: number;
  grantedTtl: number;
  keys: Uint8Array[];
  revision: number;
}

export interface StatusInfo {
  /** etcd server version string reported to clients (etcd 3.4 API level). */
  version: string;
  dbSize: number;
  dbSizeInUse: number;
  leader: bigint;
  raftIndex: number;
  raftTerm: number;
  raftAppliedIndex: number;
  errors: string[];
  isLearner: boolean;
  revision: number;
}

export interface MemberInfo {
  id: bigint;
  name: string;
  peerUrls: string[];
  clientUrls: string[];
  isLearner: boolean;
}

/** etcdserverpb.AlarmType. */
export enum AlarmType {
  NONE = 0,
  NOSPACE = 1,
  CORRUPT = 2,
}

/** etcdserverpb.AlarmRequest.AlarmAction. */
export enum AlarmAction {
  GET = 0,
  ACTIVATE = 1,
  DEACTIVATE = 2,
}

export interface AlarmMember {
  memberId: bigint;
  alarm: AlarmType;
}

export interface SnapshotStream {
  /** Total bytes the stream will deliver (etcd reports remaining_bytes per chunk). */
  size: number;
  chunks: AsyncIterable<Uint8Array>;
}

export interface MemberApi {
  /** Cluster ID, this member's ID and the current raft term, for response headers. */
  header(): HeaderInfo;

  /** Linearizable unless req.serializable (then served from local state at once). */
  range(req: RangeRequest, opts?: RequestOptions): Promise<RangeResponse>;
  put(req: PutRequest, opts?: RequestOptions): Promise<PutResponse>;
  deleteRange(req: DeleteRangeRequest, opts?: RequestOptions): Promise<DeleteRangeResponse>;
  /** A read-only Txn is served like a linearizable Range (no raft entry); others go through raft. */
  txn(req: TxnRequest, opts?: RequestOptions): Promise<TxnResponse>;
  /** Resolves once applied; with physical=true only after the backend compaction finished. */
  compact(req: CompactionRequest, opts?: RequestOptions): Promise<CompactionResponse>;

  /** id 0n: the member picks one. */
  leaseGrant(req: { id: LeaseId; ttl: number }, opts?: RequestOptions): Promise<LeaseGrantResult>;
  leaseRevoke(id: LeaseId, opts?: RequestOptions): Promise<{ revision: number }>;
  /** Keep-alive: the granted TTL; throws EtcdError leaseNotFound for an unknown lease. */
  leaseRenew(id: LeaseId, opts?: RequestOptions): Promise<{ ttl: number; revision: number }>;
  leaseTimeToLive(id: LeaseId, keys: boolean, opts?: RequestOptions): Promise<LeaseTimeToLiveResult>;
  leaseLeases(opts?: RequestOptions): Promise<{ ids: LeaseId[]; revision: number }>;

  /** A client watch stream; the caller closes it when the client stream ends. */
  openWatchStream(sink: WatchSink): WatchStream;

  status(): Promise<StatusInfo>;
  hash(): Promise<{ hash: number; revision: number }>;
  hashKV(revision: number): Promise<{ hash: number; compactRevision: number; revision: number }>;
  /** GET lists alarms (memberId 0n and AlarmType.NONE = all); ACTIVATE/DEACTIVATE go through raft. */
  alarm(
    req: { action: AlarmAction; memberId: bigint; alarm: AlarmType },
    opts?: RequestOptions,
  ): Promise<{ alarms: AlarmMember[]; revision: number }>;
  defragment(): Promise<void>;
  /** A consistent copy of the backend, streamed in chunks. */
  snapshot(): Promise<SnapshotStream>;
  memberList(opts?: RequestOptions): Promise<MemberInfo[]>;
  /** Leadership transfer; a single member answers at once when target is itself. */
  moveLeader(targetId: bigint, opts?: RequestOptions): Promise<void>;
  /** Membership changes (run on the leader; answered once applied on this member). */
  memberAdd(
    peerUrls: string[],
    isLearner: boolean,
    opts?: RequestOptions,
  ): Promise<{ member: MemberInfo; members: MemberInfo[] }>;
  memberRemove(id: bigint, opts?: RequestOptions): Promise<MemberInfo[]>;
  memberUpdate(id: bigint, peerUrls: string[], opts?: RequestOptions): Promise<MemberInfo[]>;
  memberPromote(id: bigint, opts?: RequestOptions): Promise<MemberInfo[]>;
  /** A learner serves only Status and serializable Range (etcd: "rpc not supported for learner"). */
  isLearner(): boolean;
  /** The leader this member knows of, 0n when it has none (streams requiring a leader end then). */
  leaderId(): bigint;
}

/**
 * Observers of disk latency, in seconds: each WAL fdatasync, each backend batch commit. The
 * member reports to them; the metrics layer turns them into etcd's disk histograms.
 */
export interface DiskTimings {
  walFsync(seconds: number): void;
  backendCommit(seconds: number): void;
}
