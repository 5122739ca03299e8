// One Kvorum member: the raft node, its log storage, the MVCC store with leases and watches, and
// the loop that drives them. Every write is an envelope (envelope.ts) proposed through raft and
// answered when its entry is applied; linearizable reads wait for a batched ReadIndex. The loop
// handles one Ready at a time, strictly: persist (resolves after fsync) → send → apply (one backend
// write transaction per Ready, each entry's raft index stored with its effects) → advance.
// Nothing here special-cases a single member except the start-up campaign.
import { counts, observe, timed } from "../common/etcd-counts.js";
import { countSlowApply, defragmenting, whileApplyingSnapshot } from "./member-metrics.js";
import type { ServerConfig } from "../config/server-config.js";
import { ETCD_API_VERSION } from "../version.js";
import { EtcdError } from "../mvcc/errors.js";
import {
  MemoryBackend,
  MvccStore,
  openLmdbBackend,
  type Backend,
  type LmdbBackendOptions,
} from "../mvcc/index.js";
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
  RequestOp,
  TxnRequest,
  TxnResponse,
} from "../mvcc/types.js";
import {
  DEFAULT_PROGRESS_INTERVAL_MS,
  WatchHub,
  type WatchSink,
  type WatchSource,
  type WatchStream,
} from "../mvcc/watch/index.js";
import {
  BackendLeaseStore,
  LeaseIdGenerator,
  LeaseNotPrimaryError,
  Lessor,
  minLeaseTtlSeconds,
  revokeLease,
  grantLease,
  keepAlive,
  renewLease,
  systemClock,
  type Clock,
} from "../lease/index.js";
import { applyLeaseCheckpoint, checkpointIntervalOf, proposeDueCheckpoints } from "../lease/checkpoint.js";
import {
  decodeConfChange,
  ConfChangeType,
  EntryType,
  MessageType,
  ProposalDroppedError,
  type SnapshotMetadata,
  type ConfChange,
  RawNode,
  type ConfState,
  type Entry,
  type Message,
  type ReadState,
  type Ready,
  type SoftState,
} from "../raft/index.js";
import { DurableLogStore, MemoryRaftLogStore, type RaftLogStore } from "../storage/index.js";
import { MemberTable } from "./members.js";
import { forceNewCluster, forceSelf, hasWal } from "./force-new-cluster.js";
import {
  applyToTable,
  decodeContext,
  planAdd,
  planPromote,
  planRemove,
  planUpdate,
  type ClusterHealth,
} from "./membership.js";
import { AutoCompactor } from "./auto-compactor.js";
import { dataDirLayout, prepareDataDir } from "./data-dir.js";
import { decodeEnvelope, encodeEnvelope, RequestKind, type InternalRequest } from "./envelope.js";
import { ServerErrors } from "./errors.js";
import { decodeMemorySnapshot, snapshotBackend } from "./maintenance/backend-snapshot.js";
import { bboltSnapshot } from "./maintenance/bbolt-snapshot.js";
import { quotaRequestOf, SpaceGuard } from "./maintenance/space-guard.js";
import { statusErrors } from "./maintenance/status.js";
import {
  recoverBackendSwap,
  recoverLogSnapshot,
  removeInstallMarker,
  storeSnapshotData,
  swapInBackendFile,
  writeInstallMarker,
  type ReceivedSnapshot,
} from "./snapshot-install.js";
import { identityFromConfig, memberIdOf, nodeIdOf, type MemberIdentity } from "./identity.js";
import {
  AlarmAction,
  AlarmType,
  type AlarmMember,
  type DiskTimings,
  type HeaderInfo,
  type LeaseGrantResult,
  type LeaseTimeToLiveResult,
  type MemberApi,
  type MemberInfo,
  type RequestOptions,
  type SnapshotStream,
  type StatusInfo,
} from "./member-api.js";
import { NoPeerTransport, PeerRpcError, type PeerCaller, type RaftTransport } from "./transport.js";
import { answerHashKV, HASHKV_METHOD, type CorruptionMonitor } from "./corruption-check.js";
import { startMemberCorruptionMonitor } from "./corruption-host.js";

/** pino-compatible logger. */
export interface MemberLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface MemberOptions {
  config: ServerConfig;
  logger?: MemberLogger;
  /** "disk" (default): WAL + LMDB under config.dataDir. "memory": nothing touches the disk. */
  storage?: "disk" | "memory";
  /** Lease clock (tests inject a ManualClock). */
  clock?: Clock;
  /** Raft message transport; defaults to one with no peers. */
  transport?: RaftTransport;
  /** Requests to other members (a follower forwarding lease keep-alives to the leader). */
  peerCaller?: PeerCaller;
  /** Tests only: the lease checkpoint interval in ms when checkpointing is enabled. */
  leaseCheckpointIntervalMs?: number;
  /** Who this member is (default: derived from the config for a new cluster). */
  identity?: MemberIdentity;
  /** Joining an existing cluster: its members (this one included) to start from. */
  initialMembers?: MemberInfo[];
  /**
   * Tests of the chaos checker only: answer linearizable reads from local state without ReadIndex,
   * which is wrong (a partitioned member serves stale data). Set by KVORUM_UNSAFE_STALE_READS=1.
   */
  unsafeStaleReads?: boolean;
  /** Called once when an applied change removed this member from the cluster (it then stops). */
  onRemoved?: () => void;
  /** Told how long disk flushes take (the etcd_disk_* histograms); see DiskTimings. */
  diskTimings?: DiskTimings;
  /** Runs after storage is open and before raft starts (the initial corruption check). */
  beforeBegin?: (member: Member) => Promise<void>;
}

const silentLogger: MemberLogger = { info() {}, warn() {}, error() {}, debug() {} };

/** How often an unanswered ReadIndex is asked again (etcd's readIndexRetryTime). */
const READ_INDEX_RETRY_MS = 500;
/** Longest run of Readys handled before the loop lets timers and I/O in; see runLoop. */
const LOOP_SLICE_MS = 5;
/** Committed entries applied (and answered) per event-loop turn; see applyInChunks. */
const APPLY_CHUNK = 8;

/** A caller waiting for an answer; settles once, then unhooks its timer and abort listener. */
class Pending<T> {
  done = false;
  private timer: NodeJS.Timeout | undefined;
  private signal: AbortSignal | undefined;
  private readonly onAbort = () => this.reject(abortReason(this.signal));

  constructor(
    private readonly res: (v: T) => void,
    private readonly rej: (e: unknown) => void,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    private readonly onSettle?: () => void,
    private readonly onFailed?: () => void,
  ) {
    this.timer = setTimeout(() => this.reject(ServerErrors.timeout()), timeoutMs);
    if (signal !== undefined) {
      this.signal = signal;
      signal.addEventListener("abort", this.onAbort, { once: true });
    }
  }

  resolve(v: T): void {
    if (this.finish()) this.res(v);
  }

  /** `applied`: the error is the applied request's answer, not a failure to get it applied. */
  reject(e: unknown, applied = false): void {
    if (!this.finish()) return;
    if (!applied) this.onFailed?.();
    this.rej(e);
  }

  private finish(): boolean {
    if (this.done) return false;
    this.done = true;
    clearTimeout(this.timer);
    this.signal?.removeEventListener("abort", this.onAbort);
    this.onSettle?.();
    return true;
  }
}

function abortReason(signal: AbortSignal | undefined): unknown {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason : new Error("request canceled");
}

function deferred(): { promise: Promise<void>; resolve: () => void; done: boolean } {
  const d = { done: false, resolve: () => {}, promise: Promise.resolve() };
  d.promise = new Promise<void>((resolve) => {
    d.resolve = () => {
      d.done = true;
      resolve();
    };
  });
  return d;
}

/** What an applied entry answers: a value or an etcd error (after raising NOSPACE when `raise`). */
type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown; raise?: boolean };

interface QueuedProposal {
  seq: number;
  data: Uint8Array;
}

interface ReadBatch {
  waiters: Pending<void>[];
  sentAt: number;
}

/** A read-only Txn (only ranges, no nested Txn) is served without a raft entry, as etcd does. */
function isReadOnlyTxn(req: TxnRequest): boolean {
  const ranges = (ops: RequestOp[]) => ops.every((op) => "requestRange" in op);
  return ranges(req.success) && ranges(req.failure);
}

function isSerializableTxn(req: TxnRequest): boolean {
  const serial = (ops: RequestOp[]) =>
    ops.every((op) => "requestRange" in op && op.requestRange.serializable === true);
  return serial(req.success) && serial(req.failure);
}

export class Member implements MemberApi {
  readonly config: ServerConfig;
  private readonly diskTimings: DiskTimings | undefined;
  readonly clientUrls: string[];
  readonly identity: MemberIdentity;
  private readonly logger: MemberLogger;
  private readonly nodeId: string;
  private readonly requestTimeoutMs: number;
  private readonly epoch = Date.now() + Math.random();
  private seq = 0;

  // state machine
  private store: MvccStore;
  private readonly lessor: Lessor;
  private readonly leaseIds: LeaseIdGenerator;
  private readonly hub: WatchHub;
  private readonly space: SpaceGuard;
  private members: MemberTable;
  private publishing = false;
  /** Resolved once this start's publish is applied (etcd's ReadyNotify); see whenPublished. */
  private readonly published = deferred();
  /** Membership changes proposed here, waiting to be applied (by the request ID in their context). */
  private readonly confWaiters = new Map<string, Pending<number>>();
  private confAnswers: Array<[string, number]> = [];
  private removedFromCluster = false;
  private readonly onRemoved: (() => void) | undefined;
  private readonly unsafeStaleReads: boolean;

  // raft
  private readonly node: RawNode;
  private term = 0;
  /** The vote in `term` as last persisted. */
  private vote = "";
  private lead = "";
  private isLeader = false;
  private corruptMonitor: CorruptionMonitor | undefined;
  private committedIndex = 0;
  private appliedIndex: number;
  private confState: ConfState;
  private snapshotIndex: number;
  private snapshotting = false;

  // callers
  private readonly waiters = new Map<number, Pending<unknown>>();
  private readonly queuedProposals: QueuedProposal[] = [];
  private readQueue: Pending<void>[] = [];
  private readFlushScheduled = false;
  private readonly readsInFlight = new Map<number, ReadBatch>();
  private readCtx = 0;
  /** Waiting for appliedIndex to reach an index, in index order of arrival (small). */
  private applyWaiters: Array<{ index: number; waiters: Pending<void>[] }> = [];

  // loop
  private loopScheduled = false;
  private loopRunning: Promise<void> | null = null;
  private backgroundSave: Promise<void> = Promise.resolve();
  private compaction: Promise<void> | null = null;
  private tickTimer: NodeJS.Timeout | undefined;
  private autoCompactTimer: NodeJS.Timeout | undefined;
  private readonly autoCompactor: AutoCompactor | undefined;
  private lastTickAt: number;
  private readonly heartbeatMs: number;
  private stopping = false;
  private stopped: Promise<void> | null = null;
  /** Where backend snapshot copies are made: the data dir's file system (undefined: os.tmpdir()). */
  private readonly snapshotTempDir: string | undefined;
  private readonly peerCaller: PeerCaller | undefined;
  private incomingSnapshot: ReceivedSnapshot | undefined;

  private constructor(
    opts: MemberOptions,
    private backend: Backend,
    private readonly logStore: RaftLogStore,
    private readonly transport: RaftTransport,
    private readonly releaseDataDir: () => void,
  ) {
    const config = opts.config;
    this.config = config;
    this.diskTimings = opts.diskTimings;
    this.peerCaller = opts.peerCaller;
    this.onRemoved = opts.onRemoved;
    this.unsafeStaleReads = opts.unsafeStaleReads === true;
    this.snapshotTempDir = (opts.storage ?? "disk") === "disk" ? config.dataDir : undefined;
    this.clientUrls = [...config.advertiseClientUrls];
    this.logger = opts.logger ?? silentLogger;
    this.identity = opts.identity ?? identityFromConfig(config);
    this.nodeId = nodeIdOf(this.identity.memberId);
    this.heartbeatMs = config.heartbeatIntervalMs;
    const electionTick = Math.max(2, Math.round(config.electionTimeoutMs / config.heartbeatIntervalMs));
    // etcd: 5 s + 2 × election timeout.
    this.requestTimeoutMs = 5000 + 2 * config.electionTimeoutMs;

    this.lessor = new Lessor({
      store: new BackendLeaseStore(backend),
      clock: opts.clock ?? systemClock,
      minTtlSeconds: minLeaseTtlSeconds(electionTick, config.heartbeatIntervalMs),
      expiredRetryMs: this.requestTimeoutMs,
      checkpointIntervalMs: checkpointIntervalOf(config.experimentalEnableLeaseCheckpoint, opts),
      checkpointPersist: config.experimentalEnableLeaseCheckpointPersist,
    });
    // Unlimited here: the API layer enforces --max-txn-ops; a lease revocation is one big Txn.
    this.store = MvccStore.open(backend, { leases: this.lessor, maxTxnOps: Number.MAX_SAFE_INTEGER });
    this.lessor.restore(new BackendLeaseStore(backend), this.store.leasedKeys());
    this.leaseIds = new LeaseIdGenerator(this.identity.memberId, Date.now());
    this.space = new SpaceGuard({
      backend,
      quotaBackendBytes: config.quotaBackendBytes,
      memberId: this.identity.memberId,
      logger: this.logger,
      proposeAlarm: (req) => this.propose({ kind: RequestKind.Alarm, req }),
      stopping: () => this.stopping,
    });
    this.members = new MemberTable(backend);
    if (this.members.size === 0) this.seedMembers(opts.initialMembers);
    const progress = config.experimentalWatchProgressNotifyIntervalMs;
    // The hub reads through this view, so a snapshot install can swap the store underneath it.
    const source: WatchSource = {
      currentRevision: () => this.store.currentRevision(),
      compactRevision: () => this.store.compactRevision(),
      subscribe: (listener) => this.store.subscribe(listener),
      readEvents: (from, to, max) => this.store.readEvents(from, to, max),
      valueBefore: (key, revision) => this.store.valueBefore(key, revision),
    };
    this.hub = new WatchHub(source, {
      progressIntervalMs: progress > 0 ? progress : DEFAULT_PROGRESS_INTERVAL_MS,
      maxResponseBytes: config.maxRequestBytes,
    });

    const initial = logStore.initialState();
    this.confState = initial.confState;
    this.term = initial.hardState.term;
    this.vote = initial.hardState.vote;
    this.committedIndex = initial.hardState.commit;
    const storedApplied = this.store.appliedIndex();
    if (storedApplied > logStore.lastIndex()) {
      throw new Error(
        `backend applied index ${storedApplied} is beyond the raft log (last index ${logStore.lastIndex()}): the WAL does not belong to this database`,
      );
    }
    // Raft starts from the last snapshot and re-hands every entry after it. Membership changes
    // after the snapshot must reach raft again (its configuration is the snapshot's plus those);
    // the backend already has the other effects up to its applied index and skips them by index.
    // (Starting at the backend's applied index instead lost membership changes on restart.)
    this.snapshotIndex = logStore.snapshot().metadata.index;
    if (storedApplied < this.snapshotIndex) {
      // The WAL keeps entries after its snapshot only; the backend must have everything before.
      throw new Error(
        `backend applied index ${storedApplied} is behind the raft snapshot at ${this.snapshotIndex}: the entries between are no longer in the WAL`,
      );
    }
    const applied = Math.max(
      logStore.firstIndex() - 1,
      Math.min(this.snapshotIndex, initial.hardState.commit),
    );
    this.appliedIndex = applied;
    this.node = new RawNode({
      id: this.nodeId,
      electionTick,
      heartbeatTick: 1,
      storage: logStore,
      applied,
      maxSizePerMsg: 1024 * 1024,
      maxInflightMsgs: 512,
      checkQuorum: true,
      preVote: true,
      readOnlyOption: "safe",
      disableProposalForwarding: false,
      random: Math.random,
    });
    this.lastTickAt = performance.now();
    if (config.autoCompactionRetentionValue > 0) {
      this.autoCompactor = new AutoCompactor({
        mode: config.autoCompactionMode,
        retention: config.autoCompactionRetentionValue,
        currentRevision: () => this.store.currentRevision(),
        compact: (revision) => this.compact({ revision }),
        now: () => performance.now(),
      });
    }
  }

  /** Opens storage and starts the member (see startMember). */
  static async start(opts: MemberOptions): Promise<Member> {
    const config = opts.config;
    const identity = opts.identity ?? identityFromConfig(config);
    const self = nodeIdOf(identity.memberId);
    const bootstrap: ConfState =
      opts.initialMembers !== undefined
        ? {
            voters: opts.initialMembers.filter((m) => !m.isLearner).map((m) => nodeIdOf(m.id)),
            learners: opts.initialMembers.filter((m) => m.isLearner).map((m) => nodeIdOf(m.id)),
          }
        : { voters: [...identity.members.values()].map(nodeIdOf), learners: [] };
    if (!bootstrap.voters.includes(self) && !bootstrap.learners.includes(self)) bootstrap.voters.push(self);
    let backend: Backend | undefined;
    let onBackendFailure = (err: unknown): void => opts.logger?.error({ err }, "backend commit failed");
    let logStore: RaftLogStore | undefined;
    let release = () => {};
    try {
      if ((opts.storage ?? "disk") === "disk") {
        const forced = config.forceNewCluster && hasWal(config.dataDir);
        const dir = prepareDataDir(config.dataDir);
        release = dir.release;
        // A snapshot install a crash interrupted is finished first (snapshot-install.ts).
        const marker = await recoverBackendSwap(config.dataDir);
        logStore = await DurableLogStore.open(config.dataDir, {
          bootstrap,
          catchUpEntries: config.experimentalSnapshotCatchupEntries,
          logger: { warn: (m: string) => opts.logger?.warn({}, m) },
          ...(opts.diskTimings !== undefined
            ? { onWalSync: (s: number) => opts.diskTimings?.walFsync(s) }
            : {}),
        });
        await recoverLogSnapshot(config.dataDir, marker, logStore);
        if (forced) await forceNewCluster(logStore, forceSelf(config, identity), opts.logger ?? silentLogger);
        backend = openLmdbBackend(dir.layout.db, {
          batch: backendBatching(config, (err) => onBackendFailure(err), opts.diskTimings),
        });
      } else {
        logStore = new MemoryRaftLogStore(bootstrap, {
          catchUpEntries: config.experimentalSnapshotCatchupEntries,
        });
        backend = new MemoryBackend();
      }
      const member = new Member(opts, backend, logStore, opts.transport ?? new NoPeerTransport(), release);
      onBackendFailure = (err) => member.fail(err);
      await opts.beforeBegin?.(member);
      member.begin();
      return member;
    } catch (err) {
      await backend?.close().catch(() => {});
      await logStore?.close().catch(() => {});
      release();
      throw err;
    }
  }

  private begin(): void {
    if (this.members.get(this.identity.memberId) === undefined) {
      throw new Error("the member has been permanently removed from the cluster");
    }
    const cs = this.confState;
    // Alone in the configuration: no one else can elect us, so campaign now, unless
    // --initial-election-tick-advance=false asks to wait out the election timeout as etcd then does.
    // (etcd also advances ticks in larger clusters once peers answer; Kvorum does not.)
    const alone = cs.voters.length === 1 && cs.voters[0] === this.nodeId && cs.learners.length === 0;
    if (alone && this.config.initialElectionTickAdvance) {
      this.node.campaign();
    }
    this.tickTimer = setInterval(() => this.onTickTimer(), this.heartbeatMs);
    const compactor = this.autoCompactor;
    if (compactor !== undefined) {
      // Only the leader compacts; the compaction itself goes through raft like a client's.
      this.autoCompactTimer = setInterval(() => {
        if (this.isLeader && !this.stopping) {
          compactor.check().catch((err: unknown) => this.logger.warn({ err }, "auto compaction failed"));
        }
      }, compactor.intervalMs);
    }
    this.logger.info(
      {
        memberId: this.nodeId,
        clusterId: this.identity.clusterId.toString(16),
        appliedIndex: this.appliedIndex,
        revision: this.store.currentRevision(),
      },
      "member started",
    );
    this.scheduleLoop();
    this.corruptMonitor = startMemberCorruptionMonitor(this, this.peerCaller, this.logger);
  }

  /** A new cluster's member table is --initial-cluster (identical on every member of it). */
  private seedMembers(initial: MemberInfo[] | undefined): void {
    if (initial !== undefined) {
      for (const m of initial) this.members.set(m);
      return;
    }
    for (const [name, id] of this.identity.members) {
      this.members.set({
        id,
        name,
        peerUrls: [...(this.config.initialCluster[name] ?? this.config.initialAdvertisePeerUrls)],
        clientUrls: [],
        isLearner: false,
      });
    }
  }

  /**
   * Resolves once this member's attributes, published on this start, are applied here: as in
   * etcd, clients are served (and "ready to serve client requests" logged) only from then on.
   */
  whenPublished(): Promise<void> {
    return this.published.promise;
  }

  /**
   * Publishes this member's name and client URLs through raft once there is a leader (etcd's
   * publish), so every member lists them: on every start, like etcd, even when the table already
   * shows them; afterwards again whenever the table does not show them.
   */
  private maybePublish(): void {
    if (this.publishing || this.stopping || this.lead === "") return;
    const self = this.members.get(this.identity.memberId);
    if (self === undefined) return;
    const shown = self.name === this.config.name && self.clientUrls.join(",") === this.clientUrls.join(",");
    if (shown && this.published.done) return;
    this.publishing = true;
    this.propose<unknown>({
      kind: RequestKind.Publish,
      req: { memberId: this.identity.memberId, name: this.config.name, clientUrls: [...this.clientUrls] },
    })
      .then(
        () => {
          this.logger.info(
            { memberId: this.nodeId, clientUrls: this.clientUrls },
            "published member attributes",
          );
          this.published.resolve();
        },
        (err: unknown) => this.logger.warn({ err }, "publishing member attributes failed; retrying"),
      )
      .finally(() => {
        this.publishing = false;
        if (!this.stopping) setTimeout(() => this.maybePublish(), 500).unref();
      });
  }

  // ---- MemberApi: identity -------------------------------------------------------------------

  header(): HeaderInfo {
    return { clusterId: this.identity.clusterId, memberId: this.identity.memberId, raftTerm: this.term };
  }

  /** The current leader's member ID, 0n when none is known. */
  leaderId(): bigint {
    return memberIdOf(this.lead);
  }

  // ---- MemberApi: KV -------------------------------------------------------------------------

  async range(req: RangeRequest, opts?: RequestOptions): Promise<RangeResponse> {
    this.checkRunning(opts);
    if (req.serializable !== true) await this.linearizableBarrier(opts);
    return this.store.range(req);
  }

  async put(req: PutRequest, opts?: RequestOptions): Promise<PutResponse> {
    await this.space.admit({ kind: "put", req });
    return this.propose({ kind: RequestKind.Put, req }, opts);
  }

  deleteRange(req: DeleteRangeRequest, opts?: RequestOptions): Promise<DeleteRangeResponse> {
    return this.propose({ kind: RequestKind.DeleteRange, req }, opts);
  }

  async txn(req: TxnRequest, opts?: RequestOptions): Promise<TxnResponse> {
    if (isReadOnlyTxn(req)) {
      this.checkRunning(opts);
      if (!isSerializableTxn(req)) await this.linearizableBarrier(opts);
      // Only ranges: evaluating it writes nothing (no raft index, no revision).
      return this.store.txn(req);
    }
    await this.space.admit({ kind: "txn", req });
    return this.propose({ kind: RequestKind.Txn, req }, opts);
  }

  async compact(req: CompactionRequest, opts?: RequestOptions): Promise<CompactionResponse> {
    const res = await this.propose<CompactionResponse>({ kind: RequestKind.Compact, req }, opts);
    if (req.physical === true) await this.runCompaction();
    return res;
  }

  // ---- MemberApi: leases ---------------------------------------------------------------------

  async leaseGrant(req: { id: LeaseId; ttl: number }, opts?: RequestOptions): Promise<LeaseGrantResult> {
    await this.space.admit({ kind: "leaseGrant" });
    const id = req.id !== 0n ? req.id : this.leaseIds.next((candidate) => this.lessor.exists(candidate));
    return this.propose({ kind: RequestKind.LeaseGrant, req: { id, ttl: req.ttl } }, opts);
  }

  leaseRevoke(id: LeaseId, opts?: RequestOptions): Promise<{ revision: number }> {
    return this.propose({ kind: RequestKind.LeaseRevoke, req: { id } }, opts);
  }

  async leaseRenew(id: LeaseId, opts?: RequestOptions): Promise<{ ttl: number; revision: number }> {
    this.checkRunning(opts);
    // A follower asks the leader, which alone keeps lease deadlines, as etcd does.
    const askLeader = async () =>
      ((await this.askLeader("lease-renew", { id: id.toString() }, opts)) as { ttl: number }).ttl;
    return keepAlive(this.lessor, id, this.store.currentRevision(), askLeader);
  }

  async leaseTimeToLive(id: LeaseId, keys: boolean, opts?: RequestOptions): Promise<LeaseTimeToLiveResult> {
    this.checkRunning(opts);
    if (!this.isLeader && this.peerCaller !== undefined) {
      // The remaining TTL is known on the leader only.
      const t = (await this.askLeader("lease-ttl", { id: id.toString(), keys }, opts)) as {
        ttl: number;
        grantedTtl: number;
        keys: string[];
      };
      return {
        id,
        ttl: t.ttl,
        grantedTtl: t.grantedTtl,
        keys: t.keys.map((k) => new Uint8Array(Buffer.from(k, "base64"))),
        revision: this.store.currentRevision(),
      };
    }
    await this.linearizableBarrier(opts);
    const t = this.lessor.timeToLive(id, { keys });
    return { ...t, revision: this.store.currentRevision() };
  }

  /**
   * Sends a request to the leader and returns its answer; the leader's etcd errors come back
   * unchanged. Retried while leadership moves, until the request timeout.
   */
  private async askLeader(method: string, body: unknown, opts?: RequestOptions): Promise<unknown> {
    const caller = this.peerCaller;
    const deadline = performance.now() + this.requestTimeoutMs;
    for (;;) {
      this.checkRunning(opts);
      const lead = this.lead;
      if (caller === undefined) {
        // No way to reach other members (an in-process member without a peer caller).
        throw lead === "" ? ServerErrors.noLeader() : ServerErrors.notLeader();
      }
      if (lead === "") {
        if (performance.now() > deadline) throw ServerErrors.noLeader();
      } else if (lead === this.nodeId) {
        return this.answerPeer(method, body);
      } else {
        try {
          return await caller.call(lead, method, body, Math.max(100, deadline - performance.now()));
        } catch (err) {
          if (err instanceof PeerRpcError && err.message !== ServerErrors.notLeader().message) {
            throw new EtcdError(err.message, err.code as EtcdError["code"]);
          }
          if (performance.now() > deadline) throw ServerErrors.timeout();
        }
      }
      await new Promise((r) => setTimeout(r, Math.min(100, this.heartbeatMs)));
    }
  }

  private async answerMembership(method: string, body: unknown): Promise<unknown> {
    const b = body as { id?: unknown; peerUrls?: unknown; isLearner?: unknown };
    const id = (): bigint => {
      if (typeof b.id !== "string" || !/^[0-9a-f]{1,16}$/.test(b.id)) throw ServerErrors.memberNotFound();
      return memberIdOf(b.id);
    };
    const urls = (): string[] =>
      Array.isArray(b.peerUrls) ? b.peerUrls.filter((u): u is string => typeof u === "string") : [];
    switch (method) {
      case "member-add": {
        let added = "";
        const index = await this.changeMembership((health, requestId) => {
          const cc = planAdd(this.members, urls(), b.isLearner === true, health, requestId);
          added = cc.nodeId;
          return cc;
        });
        return { index, id: added };
      }
      case "member-remove":
        return { index: await this.changeMembership((h, r) => planRemove(this.members, id(), h, r)) };
      case "member-update":
        return { index: await this.changeMembership((_h, r) => planUpdate(this.members, id(), urls(), r)) };
      case "member-promote": {
        const status = this.node.status();
        const target = id();
        const learnerMatch = status.progress?.get(nodeIdOf(target))?.match ?? 0;
        const index = await this.changeMembership((_h, r) =>
          planPromote(this.members, target, learnerMatch, status.lastIndex, r),
        );
        counts.learnerPromotions++;
        return { index };
      }
      default:
        throw new EtcdError(`unknown peer request ${method}`, "INVALID_ARGUMENT");
    }
  }

  /** Answers another member's request (see askLeader). */
  async answerPeer(method: string, body: unknown): Promise<unknown> {
    this.checkRunning();
    if (method.startsWith("member-")) return this.answerMembership(method, body);
    if (method === HASHKV_METHOD) return answerHashKV((rev) => this.hashKV(rev), body);
    const b = body as { id?: unknown; keys?: unknown };
    if (typeof b.id !== "string" || !/^-?\d+$/.test(b.id))
      throw new EtcdError("bad lease id", "INVALID_ARGUMENT");
    const id = BigInt(b.id);
    switch (method) {
      case "lease-renew": {
        try {
          return { ttl: await renewLease(this.lessor, id) };
        } catch (err) {
          if (err instanceof LeaseNotPrimaryError) throw ServerErrors.notLeader();
          throw err;
        }
      }
      case "lease-ttl": {
        if (!this.isLeader) throw ServerErrors.notLeader();
        await this.linearizableBarrier();
        const t = this.lessor.timeToLive(id, { keys: b.keys === true });
        return {
          ttl: t.ttl,
          grantedTtl: t.grantedTtl,
          keys: t.keys.map((k) => Buffer.from(k).toString("base64")),
        };
      }
      default:
        throw new EtcdError(`unknown peer request ${method}`, "INVALID_ARGUMENT");
    }
  }

  async leaseLeases(opts?: RequestOptions): Promise<{ ids: LeaseId[]; revision: number }> {
    this.checkRunning(opts);
    await this.linearizableBarrier(opts);
    return { ids: this.lessor.leases().map((l) => l.id), revision: this.store.currentRevision() };
  }

  // ---- MemberApi: watch ----------------------------------------------------------------------

  openWatchStream(sink: WatchSink): WatchStream {
    if (this.stopping) throw ServerErrors.stopped();
    return this.hub.openStream(sink);
  }

  // ---- MemberApi: maintenance ----------------------------------------------------------------

  async status(): Promise<StatusInfo> {
    this.checkRunning();
    const size = SpaceGuard.dbSize(this.backend);
    return {
      version: ETCD_API_VERSION,
      dbSize: size.dbSize,
      dbSizeInUse: size.dbSizeInUse,
      leader: memberIdOf(this.lead),
      raftIndex: this.committedIndex,
      raftTerm: this.term,
      raftAppliedIndex: this.appliedIndex,
      errors: statusErrors(memberIdOf(this.lead), this.space),
      isLearner: this.confState.learners.includes(this.nodeId),
      revision: this.store.currentRevision(),
    };
  }

  async hash(): Promise<{ hash: number; revision: number }> {
    this.checkRunning();
    return this.store.hash();
  }

  /** Resolves once this member has applied what was committed when called (a ReadIndex). */
  linearizableRead(): Promise<void> {
    return this.linearizableBarrier();
  }

  async hashKV(revision: number): Promise<{ hash: number; compactRevision: number; revision: number }> {
    this.checkRunning();
    return this.store.hashKV(revision);
  }

  async alarm(
    req: { action: AlarmAction; memberId: bigint; alarm: AlarmType },
    opts?: RequestOptions,
  ): Promise<{ alarms: AlarmMember[]; revision: number }> {
    if (req.action === AlarmAction.GET) {
      this.checkRunning(opts);
      return { alarms: this.space.list(req.alarm), revision: this.store.currentRevision() };
    }
    return this.propose(
      { kind: RequestKind.Alarm, req: { action: req.action, memberId: req.memberId, alarm: req.alarm } },
      opts,
    );
  }

  async defragment(): Promise<void> {
    this.checkRunning();
    // LMDB reuses freed pages itself and cannot shrink its file while open: finishing a pending
    // compaction is what frees pages (the in-use size the space quota compares drops).
    await defragmenting(() => this.runCompaction());
  }

  async snapshot(): Promise<SnapshotStream> {
    this.checkRunning();
    // etcd's bbolt format, exported from a consistent copy (see bbolt-snapshot.ts).
    return timed(observe.snapshotSeconds, () =>
      bboltSnapshot(this.backend, { tempDir: this.snapshotTempDir }),
    );
  }

  async memberList(opts?: RequestOptions): Promise<MemberInfo[]> {
    this.checkRunning(opts);
    return this.members.list();
  }

  async moveLeader(targetId: bigint, opts?: RequestOptions): Promise<void> {
    this.checkRunning(opts);
    if (!this.isLeader) throw ServerErrors.notLeader();
    if (targetId === this.identity.memberId) return;
    if (!this.confState.voters.includes(nodeIdOf(targetId))) throw ServerErrors.badLeaderTransferee();
    const target = nodeIdOf(targetId);
    this.node.transferLeadership(target);
    this.scheduleLoop();
    // Answer once the target leads, as etcd does (it is told to campaign at once when caught up).
    const deadline = performance.now() + this.requestTimeoutMs;
    while (this.lead !== target) {
      this.checkRunning(opts);
      if (performance.now() > deadline) throw ServerErrors.timeoutLeaderTransfer();
      await new Promise((r) => setTimeout(r, this.heartbeatMs));
    }
  }

  // ---- MemberApi: membership ----------------------------------------------------------------

  async memberAdd(
    peerUrls: string[],
    isLearner: boolean,
    opts?: RequestOptions,
  ): Promise<{ member: MemberInfo; members: MemberInfo[] }> {
    const r = (await this.onLeader("member-add", { peerUrls, isLearner }, opts)) as {
      index: number;
      id: string;
    };
    await this.waitApplied(r.index, opts);
    const member = this.members.get(memberIdOf(r.id));
    if (member === undefined) throw ServerErrors.memberNotFound();
    return { member, members: this.members.list() };
  }

  async memberRemove(id: bigint, opts?: RequestOptions): Promise<MemberInfo[]> {
    const r = (await this.onLeader("member-remove", { id: nodeIdOf(id) }, opts)) as { index: number };
    await this.waitApplied(r.index, opts);
    return this.members.list();
  }

  async memberUpdate(id: bigint, peerUrls: string[], opts?: RequestOptions): Promise<MemberInfo[]> {
    const r = (await this.onLeader("member-update", { id: nodeIdOf(id), peerUrls }, opts)) as {
      index: number;
    };
    await this.waitApplied(r.index, opts);
    return this.members.list();
  }

  async memberPromote(id: bigint, opts?: RequestOptions): Promise<MemberInfo[]> {
    const r = (await this.onLeader("member-promote", { id: nodeIdOf(id) }, opts)) as { index: number };
    await this.waitApplied(r.index, opts);
    return this.members.list();
  }

  /** For the peer listener: traffic from a removed member is refused (it then stops itself). */
  isRemovedMember(node: string): boolean {
    return this.members.isRemoved(memberIdOf(node));
  }

  /** Raft's own view of the voters and learners (tests, diagnostics). */
  raftConfState(): ConfState {
    return this.node.status().confState;
  }

  /** Whether this member is a learner (it then serves only Status and serializable reads). */
  isLearner(): boolean {
    return this.members.get(this.identity.memberId)?.isLearner === true;
  }

  /** Runs a membership request on the leader (here, or asked of it), answering {index, ...}. */
  private async onLeader(method: string, body: unknown, opts?: RequestOptions): Promise<unknown> {
    this.checkRunning(opts);
    if (this.isLeader) return this.answerPeer(method, body);
    return this.askLeader(method, body, opts);
  }

  /** On the leader: checks, proposes and waits for one membership change; answers its index. */
  private async changeMembership(
    plan: (health: ClusterHealth, requestId: string) => ConfChange,
    opts?: RequestOptions,
  ): Promise<number> {
    if (!this.isLeader) throw ServerErrors.notLeader();
    const status = this.node.status();
    const active = new Set<string>([this.nodeId]);
    for (const [id, p] of status.progress ?? []) if (p.recentActive) active.add(id);
    const requestId = `${this.nodeId}-${this.epoch}-${++this.seq}`;
    const cc = plan({ voters: [...this.confState.voters], active }, requestId);
    const applied = new Promise<number>((resolve, reject) => {
      this.confWaiters.set(
        requestId,
        new Pending<number>(resolve, reject, this.requestTimeoutMs, opts?.signal, () =>
          this.confWaiters.delete(requestId),
        ),
      );
    });
    // Raft takes one membership change at a time: retry while an earlier one is still pending.
    const tryPropose = (): boolean => {
      try {
        this.node.proposeConfChange(cc);
        this.scheduleLoop();
        return true;
      } catch (err) {
        if (err instanceof ProposalDroppedError) return false;
        throw err;
      }
    };
    if (!tryPropose()) {
      const retry = setInterval(() => {
        if (!this.confWaiters.has(requestId) || tryPropose()) clearInterval(retry);
      }, this.heartbeatMs);
      void applied.finally(() => clearInterval(retry)).catch(() => {});
    }
    return applied;
  }

  private waitApplied(index: number, opts?: RequestOptions): Promise<void> {
    if (this.appliedIndex >= index) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const w = new Pending<void>(resolve, reject, this.requestTimeoutMs, opts?.signal);
      this.applyWaiters.push({ index, waiters: [w] });
    });
  }

  // ---- lifecycle -----------------------------------------------------------------------------

  /** Stops the member: pending callers get "server stopped"; storage is closed. Idempotent. */
  stop(): Promise<void> {
    this.stopped ??= this.shutdown();
    return this.stopped;
  }

  private async shutdown(): Promise<void> {
    await this.handOverLeadership().catch((err: unknown) =>
      this.logger.warn({ err }, "could not hand over leadership before stopping"),
    );
    this.stopping = true;
    clearInterval(this.tickTimer);
    clearInterval(this.autoCompactTimer);
    this.corruptMonitor?.stop();
    this.hub.close();
    while (this.loopRunning) await this.loopRunning;
    this.failAllCallers(ServerErrors.stopped());
    await this.backgroundSave.catch(() => {});
    while (this.compaction) await this.compaction.catch(() => {});
    await this.transport.close().catch(() => {});
    await this.logStore
      .close()
      .catch((err: unknown) => this.logger.error({ err }, "closing the raft log failed"));
    await this.backend
      .close()
      .catch((err: unknown) => this.logger.error({ err }, "closing the backend failed"));
    this.releaseDataDir();
    this.logger.info({ memberId: this.nodeId }, "member stopped");
  }

  /**
   * A leader that stops first hands leadership to the most caught-up voter, so the cluster does
   * not wait an election timeout for a new leader (etcd does the same on shutdown).
   */
  private async handOverLeadership(): Promise<void> {
    if (!this.isLeader || this.stopping) return;
    const progress = this.node.status().progress;
    let best: { id: string; match: number } | undefined;
    for (const voter of this.confState.voters) {
      if (voter === this.nodeId) continue;
      const match = progress?.get(voter)?.match ?? 0;
      if (best === undefined || match > best.match) best = { id: voter, match };
    }
    if (best === undefined) return;
    this.logger.info({ memberId: this.nodeId, transferee: best.id }, "stopping: handing leadership over");
    this.node.transferLeadership(best.id);
    this.scheduleLoop();
    const deadline = performance.now() + Math.min(this.requestTimeoutMs, 2 * this.config.electionTimeoutMs);
    while (this.lead !== best.id && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, this.heartbeatMs));
    }
    if (this.lead === best.id) this.logger.info({ lead: best.id }, "leadership handed over");
  }

  private failAllCallers(err: EtcdError): void {
    for (const w of [...this.waiters.values()]) w.reject(err);
    this.waiters.clear();
    this.queuedProposals.length = 0;
    for (const w of this.readQueue) w.reject(err);
    this.readQueue = [];
    for (const batch of this.readsInFlight.values()) for (const w of batch.waiters) w.reject(err);
    this.readsInFlight.clear();
    for (const a of this.applyWaiters) for (const w of a.waiters) w.reject(err);
    this.applyWaiters = [];
    for (const w of [...this.confWaiters.values()]) w.reject(err);
    this.confWaiters.clear();
  }

  /** A fatal error (storage failed, apply threw something that is not an etcd error). */
  private fail(err: unknown): void {
    this.logger.error({ err }, "member failed; stopping");
    void this.stop();
  }

  /** For a peer transport: a raft message received from another member. */
  receive(m: Message): void {
    if (this.stopping) return;
    this.node.step(m);
    this.scheduleLoop();
  }

  /** For a peer transport: messages to this peer were dropped; the leader goes back to probing it. */
  unreachable(node: string): void {
    if (this.stopping || !this.isLeader) return;
    this.node.reportUnreachable(node);
  }

  /** The other members' raft node IDs and peer URLs, as the transport needs them. */
  peerUrls(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const m of this.members.list()) {
      if (m.id !== this.identity.memberId) out.set(nodeIdOf(m.id), m.peerUrls);
    }
    return out;
  }

  private checkRunning(opts?: RequestOptions): void {
    if (this.stopping) throw ServerErrors.stopped();
    if (opts?.requireLeader === true && this.lead === "") throw ServerErrors.noLeader();
    if (opts?.signal?.aborted === true) throw abortReason(opts.signal);
  }

  // ---- proposals -----------------------------------------------------------------------------

  private propose<T>(request: InternalRequest, opts?: RequestOptions): Promise<T> {
    try {
      this.checkRunning(opts);
    } catch (err) {
      return Promise.reject(err);
    }
    const seq = ++this.seq;
    const data = encodeEnvelope(this.epoch, seq, request);
    return new Promise<T>((resolve, reject) => {
      const pending = new Pending<unknown>(
        resolve as (v: unknown) => void,
        reject,
        this.requestTimeoutMs,
        opts?.signal,
        () => {
          this.waiters.delete(seq);
          counts.proposalsPending--;
        },
        () => counts.proposalsFailed++,
      );
      counts.proposalsPending++;
      this.waiters.set(seq, pending);
      this.submit({ seq, data });
    });
  }

  /** Proposes now, or queues behind earlier proposals raft could not take yet (no leader...). */
  private submit(p: QueuedProposal): void {
    if (this.queuedProposals.length > 0 || !this.tryPropose(p)) this.queuedProposals.push(p);
    this.scheduleLoop();
  }

  private tryPropose(p: QueuedProposal): boolean {
    try {
      this.node.propose(p.data);
      return true;
    } catch (err) {
      if (err instanceof ProposalDroppedError) return false;
      throw err;
    }
  }

  private retryQueuedProposals(): void {
    while (this.queuedProposals.length > 0) {
      const p = this.queuedProposals[0] as QueuedProposal;
      // Proposals whose caller gave up (timeout, abort) are not proposed at all; internal
      // proposals (seq 0) are retried by their owner, not queued.
      if (!this.waiters.has(p.seq)) {
        this.queuedProposals.shift();
        continue;
      }
      if (!this.tryPropose(p)) return;
      this.queuedProposals.shift();
    }
  }

  /** An internal proposal with no caller (lease expiry); dropped if raft cannot take it now. */
  private proposeInternal(request: InternalRequest): void {
    const data = encodeEnvelope(this.epoch, 0, request);
    if (this.tryPropose({ seq: 0, data })) this.scheduleLoop();
  }

  // ---- linearizable reads --------------------------------------------------------------------

  /** Resolves once this member has applied everything committed when the call was made. */
  private linearizableBarrier(opts?: RequestOptions): Promise<void> {
    if (this.unsafeStaleReads) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.readQueue.push(new Pending<void>(resolve, reject, this.requestTimeoutMs, opts?.signal));
      if (!this.readFlushScheduled) {
        this.readFlushScheduled = true;
        // Every read arriving in this turn of the event loop shares one ReadIndex.
        setImmediate(() => this.flushReads());
      }
    });
  }

  private flushReads(): void {
    this.readFlushScheduled = false;
    if (this.stopping) return;
    const waiters = this.readQueue.filter((w) => !w.done);
    this.readQueue = [];
    if (waiters.length > 0) this.sendReadIndex({ waiters, sentAt: performance.now() });
  }

  private sendReadIndex(batch: ReadBatch): void {
    const ctx = ++this.readCtx;
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setFloat64(0, ctx);
    batch.sentAt = performance.now();
    this.readsInFlight.set(ctx, batch);
    this.node.readIndex(bytes);
    this.scheduleLoop();
  }

  private onReadStates(states: ReadState[]): void {
    for (const rs of states) {
      if (rs.requestCtx.length !== 8) continue;
      const ctx = new DataView(rs.requestCtx.buffer, rs.requestCtx.byteOffset, 8).getFloat64(0);
      const batch = this.readsInFlight.get(ctx);
      if (batch === undefined) continue;
      this.readsInFlight.delete(ctx);
      if (rs.index <= this.appliedIndex) {
        for (const w of batch.waiters) w.resolve();
      } else {
        this.applyWaiters.push({ index: rs.index, waiters: batch.waiters });
      }
    }
  }

  /** ReadIndex requests are dropped without a leader: ask again every READ_INDEX_RETRY_MS. */
  private retryReads(now: number): void {
    for (const [ctx, batch] of this.readsInFlight) {
      if (now - batch.sentAt < READ_INDEX_RETRY_MS) continue;
      this.readsInFlight.delete(ctx);
      batch.waiters = batch.waiters.filter((w) => !w.done);
      if (batch.waiters.length === 0) continue;
      counts.slowReadIndexes++;
      this.sendReadIndex(batch);
    }
  }

  private notifyApplied(): void {
    if (this.applyWaiters.length === 0) return;
    const still: typeof this.applyWaiters = [];
    for (const a of this.applyWaiters) {
      if (a.index <= this.appliedIndex) for (const w of a.waiters) w.resolve();
      else still.push(a);
    }
    this.applyWaiters = still;
  }

  // ---- ticks and leases ----------------------------------------------------------------------

  private onTickTimer(): void {
    if (this.stopping) return;
    const now = performance.now();
    // Deliver every elapsed tick, also after a stall (raft's lease rules count on it).
    let ticks = Math.floor((now - this.lastTickAt) / this.heartbeatMs);
    this.lastTickAt += ticks * this.heartbeatMs;
    if (ticks > 10_000) ticks = 10_000;
    try {
      for (let i = 0; i < ticks; i++) this.node.tick();
      this.retryReads(now);
      this.retryQueuedProposals();
      if (this.isLeader) {
        for (const id of this.lessor.expired()) {
          counts.leasesExpired++;
          this.proposeInternal({ kind: RequestKind.LeaseRevoke, req: { id } });
        }
        proposeDueCheckpoints(this.lessor, (cps) =>
          this.proposeInternal({ kind: RequestKind.LeaseCheckpoint, req: { checkpoints: cps } }),
        );
      }
    } catch (err) {
      this.fail(err);
      return;
    }
    this.scheduleLoop();
  }

  private onSoftState(soft: SoftState): void {
    const wasLeader = this.isLeader;
    // A read pending on a leader that is replaced (not merely found) may never be answered.
    const leaderReplaced = this.lead !== "" && soft.lead !== this.lead;
    if (soft.lead !== "" && soft.lead !== this.lead) counts.leaderChanges++;
    this.lead = soft.lead;
    this.isLeader = soft.role === "leader";
    if (this.isLeader && !wasLeader) {
      this.lessor.promote(this.config.electionTimeoutMs);
      this.logger.info({ memberId: this.nodeId, term: this.term }, "became leader");
    } else if (!this.isLeader && wasLeader) {
      this.lessor.demote();
      this.logger.info({ memberId: this.nodeId, lead: soft.lead }, "lost leadership");
    }
    if (this.lead !== "") this.maybePublish();
    if (leaderReplaced && this.readsInFlight.size > 0) {
      // etcd answers reads pending across a leader change with "leader changed".
      for (const batch of this.readsInFlight.values()) {
        for (const w of batch.waiters) w.reject(ServerErrors.leaderChanged());
        counts.readIndexFailed++;
      }
      this.readsInFlight.clear();
    }
  }

  // ---- the Ready loop ------------------------------------------------------------------------

  private scheduleLoop(): void {
    if (this.loopScheduled || this.loopRunning || this.stopping) return;
    this.loopScheduled = true;
    // setImmediate, not a microtask: requests arriving in this turn join the same Ready.
    setImmediate(() => {
      this.loopScheduled = false;
      if (this.loopRunning || this.stopping) return;
      this.loopRunning = this.runLoop().finally(() => {
        this.loopRunning = null;
        if (!this.stopping && this.node.hasReady()) this.scheduleLoop();
      });
    });
  }

  private async runLoop(): Promise<void> {
    try {
      let sliceStart = performance.now();
      while (!this.stopping && this.node.hasReady()) {
        await this.handleReady(this.node.ready());
        // A Ready can finish without leaving the turn (small WAL syncs are inline, ADR 0003), and
        // a caller in this process can propose again from its promise callback: give timers
        // (raft ticks, backend commits) and sockets a turn at least every LOOP_SLICE_MS.
        if (performance.now() - sliceStart >= LOOP_SLICE_MS) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          sliceStart = performance.now();
        }
      }
    } catch (err) {
      this.fail(err);
    }
  }

  private async handleReady(rd: Ready): Promise<void> {
    // A leader's snapshot replaces the backend before the raft log records it (see snapshot-install.ts).
    if (rd.snapshot !== undefined)
      await whileApplyingSnapshot(() => this.installSnapshot(rd.snapshot!.metadata));
    // A leader whose term and vote are already on disk sends its appends before its own fsync
    // (Raft thesis §10.2.1): followers write in parallel with it, and commit still waits for the
    // leader's own persisted match index. Anything else (a new term or vote, a follower's
    // acknowledgements) goes out only after the save.
    const sendEarly =
      rd.messages.length > 0 &&
      this.isLeader &&
      rd.softState === undefined &&
      (rd.hardState === undefined || (rd.hardState.term === this.term && rd.hardState.vote === this.vote));
    if (sendEarly) this.sendMessages(rd.messages);
    // Committed entries already in the durable log are applied while this Ready's save runs:
    // waiting for it would hold every answer for one more fsync (on a leader, the entries this
    // Ready commits were persisted by the previous one).
    const applyNow = this.durablyCommitted(rd);
    const save = this.logStore.save(
      { hardState: rd.hardState, entries: rd.entries, snapshot: rd.snapshot },
      rd.mustSync,
    );
    // The save is awaited below; until then a failure must not count as an unhandled rejection.
    save.catch(() => undefined);
    if (applyNow > 0 && !(await this.applyInChunks(rd.committedEntries.slice(0, applyNow)))) return;
    if (rd.mustSync || rd.entries.length > 0 || rd.snapshot !== undefined) {
      await Promise.all([this.backgroundSave, save]);
    } else {
      // Only the commit index changed: its durability does not gate applying (the entries are
      // durable already and raft recomputes commit after a restart), so apply while it syncs.
      const prev = this.backgroundSave;
      this.backgroundSave = Promise.all([prev, save]).then(() => undefined);
      this.backgroundSave.catch((err: unknown) => this.fail(err));
    }
    if (rd.messages.length > 0 && !sendEarly) this.sendMessages(rd.messages);
    if (rd.snapshot !== undefined && this.snapshotTempDir !== undefined)
      removeInstallMarker(this.config.dataDir);
    if (rd.hardState !== undefined) {
      this.term = rd.hardState.term;
      this.vote = rd.hardState.vote;
      this.committedIndex = Math.max(this.committedIndex, rd.hardState.commit);
    }
    if (rd.softState !== undefined) this.onSoftState(rd.softState);
    if (
      rd.committedEntries.length > applyNow &&
      !(await this.applyInChunks(applyNow === 0 ? rd.committedEntries : rd.committedEntries.slice(applyNow)))
    ) {
      return;
    }
    if (rd.readStates.length > 0) this.onReadStates(rd.readStates);
    this.node.advance(rd);
    this.retryQueuedProposals();
    this.maybeSnapshot();
  }

  /**
   * How many of the Ready's committed entries may be applied before its save: those the log held
   * durably before it (a follower may be told an entry is committed in the same message that
   * brings it). Not across a snapshot or a change of role, which are handled first.
   */
  private durablyCommitted(rd: Ready): number {
    if (rd.snapshot !== undefined || rd.softState !== undefined) return 0;
    const ents = rd.committedEntries;
    if (ents.length === 0) return 0;
    // Saves with entries are awaited one by one, so the log's last index now is durable.
    let limit = this.logStore.lastIndex();
    const firstNew = rd.entries[0];
    if (firstNew !== undefined) limit = Math.min(limit, firstNew.index - 1);
    let n = 0;
    while (n < ents.length && (ents[n] as Entry).index <= limit) n++;
    return n;
  }

  /** Snapshot messages go with the backend's data on a connection of their own. */
  private sendMessages(messages: Message[]): void {
    const sendSnapshot = this.transport.sendSnapshot?.bind(this.transport);
    if (sendSnapshot === undefined || !messages.some((m) => m.type === MessageType.Snap)) {
      this.transport.send(messages);
      return;
    }
    const rest: Message[] = [];
    for (const m of messages) {
      if (m.type !== MessageType.Snap) {
        rest.push(m);
        continue;
      }
      this.logger.info(
        { peer: m.to, index: m.snapshot?.metadata.index, applied: this.appliedIndex },
        "a follower is too far behind for log entries; sending it a snapshot of the backend",
      );
      // The copy is taken now, so it holds at least everything up to the snapshot's index;
      // the receiver skips the entries its backend already has.
      sendSnapshot(m, () => snapshotBackend(this.backend, { tempDir: this.snapshotTempDir }));
    }
    if (rest.length > 0) this.transport.send(rest);
  }

  /** For a peer transport: a leader's snapshot message and its data. */
  async receiveSnapshot(m: Message, data: AsyncIterable<Uint8Array>): Promise<void> {
    if (this.stopping) throw ServerErrors.stopped();
    const index = m.snapshot?.metadata.index ?? 0;
    const received = await storeSnapshotData(
      index,
      data,
      this.snapshotTempDir !== undefined ? this.config.dataDir : undefined,
    );
    if (this.stopping) throw ServerErrors.stopped();
    this.incomingSnapshot = received;
    this.logger.info({ from: m.from, index, bytes: received.size }, "received a snapshot from the leader");
    this.receive(m);
  }

  /** For a peer transport: how sending a snapshot to a peer ended. */
  snapshotStatus(node: string, ok: boolean): void {
    if (this.stopping || !this.isLeader) return;
    this.node.reportSnapshot(node, ok);
    this.scheduleLoop();
  }

  /** Replaces the backend with the received snapshot's data and reloads everything kept on it. */
  private async installSnapshot(metadata: SnapshotMetadata): Promise<void> {
    const incoming = this.incomingSnapshot;
    if (incoming === undefined || incoming.index !== metadata.index) {
      throw new Error(`raft handed out snapshot ${metadata.index} but its data was not received`);
    }
    this.incomingSnapshot = undefined;
    const started = performance.now();
    await this.backgroundSave;
    while (this.compaction) await this.compaction.catch(() => {});
    while (this.snapshotting) await new Promise((r) => setTimeout(r, 5));
    let backend: Backend;
    if (incoming.file !== undefined) {
      await writeInstallMarker(this.config.dataDir, metadata);
      await this.backend.close();
      await swapInBackendFile(this.config.dataDir);
      backend = openLmdbBackend(dataDirLayout(this.config.dataDir).db, {
        batch: backendBatching(this.config, (err) => this.fail(err), this.diskTimings),
      });
    } else {
      backend = decodeMemorySnapshot(incoming.bytes ?? new Uint8Array(0));
      await this.backend.close();
    }
    this.backend = backend;
    this.store = MvccStore.open(backend, { leases: this.lessor, maxTxnOps: Number.MAX_SAFE_INTEGER });
    this.lessor.restore(new BackendLeaseStore(backend), this.store.leasedKeys());
    this.space.rebind(backend);
    this.members = new MemberTable(backend);
    this.hub.resync();
    this.confState = metadata.confState;
    this.appliedIndex = metadata.index;
    this.snapshotIndex = metadata.index;
    this.transport.setPeers?.(this.peerUrls());
    this.logger.info(
      {
        index: metadata.index,
        revision: this.store.currentRevision(),
        backendApplied: this.store.appliedIndex(),
        ms: Math.round(performance.now() - started),
      },
      "installed the leader's snapshot",
    );
  }

  // ---- applying ------------------------------------------------------------------------------

  /**
   * Applies entries APPLY_CHUNK at a time, one event-loop turn each, and answers each chunk's
   * proposers as it goes. Answering a whole Ready at once sends a burst that a client handles in
   * one turn and answers with one burst of new requests: client and server then take turns
   * instead of working at the same time (measured in BENCHMARKS.md). Between chunks, requests are
   * read and proposed and peers' messages are stepped; raft allows stepping while a Ready is
   * outstanding, and every chunk is a complete backend transaction (applied index included).
   * Returns false when the member began stopping part-way (the rest is replayed after a restart).
   */
  private async applyInChunks(entries: Entry[]): Promise<boolean> {
    for (let i = 0; i < entries.length; i += APPLY_CHUNK) {
      if (i > 0) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (this.stopping) return false;
      }
      this.applyEntries(
        i === 0 && entries.length <= APPLY_CHUNK ? entries : entries.slice(i, i + APPLY_CHUNK),
      );
    }
    return true;
  }

  private applyEntries(entries: Entry[]): void {
    const answers: Array<[number, Outcome]> = [];
    let compacted = false;
    // Entries the backend already holds (replayed after a restart) are not even decoded.
    const backendApplied = this.store.appliedIndex();
    this.backend.writeTxn(() => {
      for (const e of entries) {
        const r = countSlowApply(() => this.applyEntry(e, backendApplied));
        if (r === undefined) continue;
        if (r.compact) compacted = true;
        if (r.seq !== 0 || (!r.outcome.ok && r.outcome.raise === true)) answers.push([r.seq, r.outcome]);
      }
    });
    this.appliedIndex = (entries[entries.length - 1] as Entry).index;
    // Applied entries are committed, even while the Ready that says so is still being saved.
    if (this.committedIndex < this.appliedIndex) this.committedIndex = this.appliedIndex;
    for (const [seq, outcome] of answers) {
      const w = this.waiters.get(seq);
      if (outcome.ok) w?.resolve(outcome.value);
      else if (outcome.raise === true) void this.space.raise().then(() => w?.reject(outcome.error, true));
      else w?.reject(outcome.error, true);
    }
    this.notifyApplied();
    if (compacted) void this.runCompaction();
    if (this.confAnswers.length > 0) this.afterMembershipChange();
  }

  /** After applied membership changes: reach the new peers, answer the proposers, leave if removed. */
  private afterMembershipChange(): void {
    const answers = this.confAnswers;
    this.confAnswers = [];
    this.transport.setPeers?.(this.peerUrls());
    for (const [requestId, index] of answers) this.confWaiters.get(requestId)?.resolve(index);
    if (this.removedFromCluster && !this.stopping) {
      this.logger.warn(
        { memberId: this.nodeId },
        "the member has been permanently removed from the cluster; stopping",
      );
      void this.stop().then(() => this.onRemoved?.());
    }
  }

  /** Applies one entry inside the Ready's write transaction. */
  private applyEntry(
    e: Entry,
    backendApplied: number,
  ): { seq: number; outcome: Outcome; compact: boolean } | undefined {
    if (e.type === EntryType.ConfChange) {
      const cc = decodeConfChange(e.data);
      this.confState = this.node.applyConfChange(cc);
      applyToTable(this.members, cc);
      this.store.setAppliedIndex(e.index);
      const ctx = decodeContext(cc.context);
      if (ctx !== undefined) this.confAnswers.push([ctx.requestId, e.index]);
      if (cc.type === ConfChangeType.RemoveNode && cc.nodeId === this.nodeId) this.removedFromCluster = true;
      return undefined;
    }
    if (e.data.length === 0) {
      this.store.setAppliedIndex(e.index); // a new leader's empty entry
      return undefined;
    }
    if (e.index <= backendApplied) return undefined; // its effects are in the backend already
    const env = decodeEnvelope(e.data);
    const seq = env.epoch === this.epoch ? env.seq : 0;
    let outcome: Outcome;
    try {
      // etcd's quota and alarm appliers: refused, or applied and answered "space exceeded".
      const verdict = this.space.verdict(quotaRequestOf(env.request));
      if (verdict.reject !== undefined) {
        this.store.setAppliedIndex(e.index);
        throw verdict.reject;
      }
      const value = this.applyRequest(env.request, e.index);
      outcome = verdict.overQuota
        ? { ok: false, error: SpaceGuard.noSpace(), raise: true }
        : { ok: true, value };
    } catch (error) {
      // etcd errors are the request's answer (the store recorded the index); anything else is a
      // bug or a failing disk: abort the transaction and stop.
      if (!(error instanceof EtcdError)) throw error;
      outcome = { ok: false, error };
    }
    return { seq, outcome, compact: env.request.kind === RequestKind.Compact && outcome.ok };
  }

  private applyRequest(request: InternalRequest, index: number): unknown {
    switch (request.kind) {
      case RequestKind.Put:
        return this.store.put(request.req, index);
      case RequestKind.DeleteRange:
        return this.store.deleteRange(request.req, index);
      case RequestKind.Txn:
        return this.store.txn(request.req, index);
      case RequestKind.Compact:
        return this.store.compact(request.req.revision, index);
      case RequestKind.LeaseGrant: {
        const granted = grantLease(
          this.backend,
          this.store,
          this.lessor,
          request.req.id,
          request.req.ttl,
          index,
        );
        const g = granted ?? { id: request.req.id, ttl: request.req.ttl };
        return { id: g.id, ttl: g.ttl, revision: this.store.currentRevision() } satisfies LeaseGrantResult;
      }
      case RequestKind.LeaseRevoke: {
        const out = revokeLease(this.backend, this.store, this.lessor, request.req.id, index);
        return { revision: out.revision ?? this.store.currentRevision() };
      }
      case RequestKind.LeaseCheckpoint:
        return applyLeaseCheckpoint(this.backend, this.store, this.lessor, request.req.checkpoints, index);
      case RequestKind.Alarm: {
        const revision = this.store.currentRevision();
        if (index <= this.store.appliedIndex())
          return { alarms: this.space.list(request.req.alarm), revision };
        const { alarms } = this.space.applyAlarm(request.req);
        this.store.setAppliedIndex(index);
        return { alarms, revision };
      }
      case RequestKind.Publish: {
        if (index > this.store.appliedIndex()) {
          this.members.publish(request.req.memberId, request.req.name, request.req.clientUrls);
          this.store.setAppliedIndex(index);
        }
        return {};
      }
    }
  }

  // ---- compaction and snapshots --------------------------------------------------------------

  /** Runs the physical part of a pending compaction to the end (one run at a time). */
  private runCompaction(): Promise<void> {
    if (this.compaction)
      return this.compaction.then(() => (this.store.compactionPending() ? this.runCompaction() : undefined));
    const run = this.store.compactInBackground().finally(() => {
      if (this.compaction === run) this.compaction = null;
    });
    this.compaction = run;
    return run;
  }

  private maybeSnapshot(): void {
    if (this.snapshotting || this.appliedIndex - this.snapshotIndex < this.config.snapshotCount) return;
    this.snapshotting = true;
    const index = this.appliedIndex;
    // The state itself is in the backend; the snapshot records where it stands. The WAL entries
    // up to `index` are released with it, so the backend's batch holding them is made durable first.
    const data = new TextEncoder().encode(JSON.stringify({ revision: this.store.currentRevision() }));
    const confState = this.confState;
    this.backend
      .sync()
      .then(() => this.logStore.createSnapshot(index, confState, data))
      .then(
        () => {
          this.snapshotIndex = index;
          this.logger.info({ index }, "saved raft snapshot; released older WAL entries");
        },
        (err: unknown) => this.fail(err),
      )
      .finally(() => {
        this.snapshotting = false;
      });
  }
}

/** Raft node ID → peer URLs of every member but this one, from the initial cluster. */
export function peerUrlsOf(config: ServerConfig, identity: MemberIdentity): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [name, id] of identity.members) {
    if (id === identity.memberId) continue;
    out.set(nodeIdOf(id), [...(config.initialCluster[name] ?? [])]);
  }
  return out;
}

/**
 * How the member's LMDB backend commits: batches of applied entries, committed and fsynced every
 * --backend-batch-interval or --backend-batch-limit writes (etcd's backend batching). The WAL
 * makes each write durable before it is acknowledged; a crash loses at most the open batch, which
 * the restart replays from the WAL (docs/adr/0011-backend-batching.md).
 */
function backendBatching(
  config: ServerConfig,
  onCommitError: (err: unknown) => void,
  timings: DiskTimings | undefined,
): NonNullable<LmdbBackendOptions["batch"]> {
  return {
    intervalMs: config.backendBatchIntervalMs,
    limit: config.backendBatchLimit,
    onCommitError,
    ...(timings !== undefined ? { onCommitted: (s: number) => timings.backendCommit(s) } : {}),
  };
}

/** Starts one member: opens (or creates) its storage and begins serving MemberApi calls. */
export function startMember(opts: MemberOptions): Promise<Member> {
  return Member.start(opts);
}
