// Prometheus metrics under etcd's metric names, so dashboards and alerts written for etcd work.
// Member state is read at scrape time (collect callbacks calling MemberApi), so the member needs
// no metric code; the RPC counters are counted by the API layer (see api/http/instrument.ts).
import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  exponentialBuckets,
  type LabelValues,
} from "prom-client";
import type { DiskTimings, MemberApi } from "../server/member-api.js";
import { ETCD_API_VERSION, VERSION } from "../version.js";
import { counts } from "./etcd-counts.js";
import { registerEtcdMetrics } from "./etcd-metrics.js";

/** The /metrics handler's own counts (promhttp_metric_handler_* in etcd's Go client). */
export interface ScrapeCounts {
  inFlight: number;
  /** HTTP status code -> scrapes answered with it. */
  byCode: Map<string, number>;
}

function registerScrapeMetrics(registry: Registry): ScrapeCounts {
  const scrapes: ScrapeCounts = { inFlight: 0, byCode: new Map() };
  new Gauge({
    name: "promhttp_metric_handler_requests_in_flight",
    help: "Current number of scrapes being served.",
    registers: [registry],
    collect() {
      this.set(scrapes.inFlight);
    },
  });
  new Counter({
    name: "promhttp_metric_handler_requests_total",
    help: "Total number of scrapes by HTTP status code.",
    labelNames: ["code"],
    registers: [registry],
    collect() {
      this.reset();
      // As the Go handler does, every code it can answer shows up from the start.
      for (const code of ["200", "500", "503"]) this.inc({ code }, scrapes.byCode.get(code) ?? 0);
    },
  });
  return scrapes;
}

/** A count kept for one fixed set of labels. */
export interface CountSlot {
  n: number;
}

/**
 * Increments kept as plain numbers, one slot per label set, and added to their prom-client counter
 * when it is collected (a scrape). prom-client hashes and validates the labels on every inc(), and
 * an RPC makes four of them on the request path.
 */
export class DeferredCounts<L extends string> {
  private readonly slots: Array<{ labels: LabelValues<L>; slot: CountSlot }> = [];

  /** A slot for `labels`; add to its `n`. */
  slot(labels: LabelValues<L>): CountSlot {
    const slot = { n: 0 };
    this.slots.push({ labels, slot });
    return slot;
  }

  /** Moves the counts into the counter (its collect callback). */
  flush(counter: Counter<L>): void {
    for (const { labels, slot } of this.slots) {
      if (slot.n === 0) continue;
      counter.inc(labels, slot.n);
      slot.n = 0;
    }
  }
}

export interface ServerMetrics {
  registry: Registry;
  /** Request-path counts for the four grpc_server_* counters (see DeferredCounts). */
  rpcCounts: {
    started: DeferredCounts<"grpc_type" | "grpc_service" | "grpc_method">;
    handled: DeferredCounts<"grpc_type" | "grpc_service" | "grpc_method" | "grpc_code">;
    msgReceived: DeferredCounts<"grpc_type" | "grpc_service" | "grpc_method">;
    msgSent: DeferredCounts<"grpc_type" | "grpc_service" | "grpc_method">;
    /** etcd_server_client_requests_total: type is "unary" or "stream". */
    clientRequests: DeferredCounts<"type" | "client_api_version">;
  };
  grpcStarted: Counter<"grpc_type" | "grpc_service" | "grpc_method">;
  grpcHandled: Counter<"grpc_type" | "grpc_service" | "grpc_method" | "grpc_code">;
  grpcMsgReceived: Counter<"grpc_type" | "grpc_service" | "grpc_method">;
  grpcMsgSent: Counter<"grpc_type" | "grpc_service" | "grpc_method">;
  healthSuccess: Counter;
  healthFailures: Counter;
  /** etcd_disk_wal_fsync_duration_seconds and etcd_disk_backend_commit_duration_seconds. */
  disk: DiskTimings;
  /** promhttp_metric_handler_* (the /metrics handler counts its own scrapes). */
  scrapes: ScrapeCounts;
  /** Binds the member-state gauges to a member (before that they read 0). */
  attachMember(member: MemberApi): void;
}

export interface MetricsOptions {
  /** Process and Node.js runtime metrics (prom-client defaults); on unless false. */
  processMetrics?: boolean;
  quotaBackendBytes?: number;
}

/** Each scrape reads the member once, however many gauges need it. */
class MemberSnapshotCache {
  member: MemberApi | undefined;
  private pending: Promise<MemberSnapshot | undefined> | undefined;

  read(): Promise<MemberSnapshot | undefined> {
    if (this.pending === undefined) {
      this.pending = this.load().finally(() => {
        // Let the gauges of this scrape share it, then forget it.
        setImmediate(() => (this.pending = undefined));
      });
    }
    return this.pending;
  }

  private async load(): Promise<MemberSnapshot | undefined> {
    const member = this.member;
    if (member === undefined) return undefined;
    try {
      const status = await member.status();
      const header = member.header();
      return { status, memberId: header.memberId };
    } catch {
      return undefined;
    }
  }
}

interface MemberSnapshot {
  status: Awaited<ReturnType<MemberApi["status"]>>;
  memberId: bigint;
}

export function createMetrics(opts: MetricsOptions = {}): ServerMetrics {
  const registry = new Registry();
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry });
  const cache = new MemberSnapshotCache();

  const fromMember = (
    name: string,
    help: string,
    read: (snap: MemberSnapshot) => number,
    type: "gauge" | "counter" = "gauge",
  ): void => {
    const collect = async function (this: Gauge | Counter): Promise<void> {
      const snap = await cache.read();
      const value = snap === undefined ? 0 : read(snap);
      if (this instanceof Gauge) this.set(value);
      else {
        // The member owns the count; mirror it.
        this.reset();
        if (value > 0) this.inc(value);
      }
    };
    if (type === "gauge") new Gauge({ name, help, registers: [registry], collect });
    else new Counter({ name, help, registers: [registry], collect });
  };

  fromMember("etcd_server_has_leader", "Whether or not a leader exists. 1 is existence, 0 is not.", (s) =>
    s.status.leader !== 0n ? 1 : 0,
  );
  fromMember("etcd_server_is_leader", "Whether or not this member is a leader. 1 if is, 0 otherwise.", (s) =>
    s.status.leader !== 0n && s.status.leader === s.memberId ? 1 : 0,
  );
  fromMember(
    "etcd_server_is_learner",
    "Whether or not this member is a learner. 1 if is, 0 otherwise.",
    (s) => (s.status.isLearner ? 1 : 0),
  );
  fromMember(
    "etcd_server_leader_changes_seen_total",
    "The number of leader changes seen.",
    () => counts.leaderChanges,
    "counter",
  );
  fromMember(
    "etcd_server_proposals_committed_total",
    "The total number of consensus proposals committed.",
    (s) => s.status.raftIndex,
  );
  fromMember(
    "etcd_server_proposals_applied_total",
    "The total number of consensus proposals applied.",
    (s) => s.status.raftAppliedIndex,
  );
  fromMember(
    "etcd_server_proposals_pending",
    "The current number of pending proposals to commit.",
    () => counts.proposalsPending,
  );
  fromMember(
    "etcd_server_proposals_failed_total",
    "The total number of failed proposals seen.",
    () => counts.proposalsFailed,
    "counter",
  );
  fromMember(
    "etcd_mvcc_db_total_size_in_bytes",
    "Total size of the underlying database physically allocated in bytes.",
    (s) => s.status.dbSize,
  );
  fromMember(
    "etcd_debugging_mvcc_db_total_size_in_bytes",
    "Total size of the underlying database physically allocated in bytes.",
    (s) => s.status.dbSize,
  );
  fromMember(
    "etcd_mvcc_db_total_size_in_use_in_bytes",
    "Total size of the underlying database logically in use in bytes.",
    (s) => s.status.dbSizeInUse,
  );
  fromMember(
    "etcd_debugging_mvcc_current_revision",
    "The current revision of store.",
    (s) => s.status.revision,
  );

  // Total keys: a serializable count-only range over the whole keyspace at scrape time.
  new Gauge({
    name: "etcd_debugging_mvcc_keys_total",
    help: "Total number of keys.",
    registers: [registry],
    async collect() {
      const member = cache.member;
      if (member === undefined) return;
      try {
        const all = new Uint8Array([0]);
        // This read is the scrape's, not a client's: keep it out of etcd_mvcc_range_total. A
        // serializable range reaches the store before member.range returns, so this is exact.
        const ranges = counts.mvccRange;
        const pending = member.range({ key: all, rangeEnd: all, countOnly: true, serializable: true });
        counts.mvccRange = ranges;
        this.set((await pending).count);
      } catch {
        // Leave the last value.
      }
    },
  });

  new Gauge({
    name: "etcd_server_version",
    help: "Which version is running. 1 for 'server_version' label with current version.",
    labelNames: ["server_version"],
    registers: [registry],
  }).set({ server_version: ETCD_API_VERSION }, 1);
  new Gauge({
    name: "etcd_cluster_version",
    help: "Which version is running. 1 for 'cluster_version' label with current cluster version",
    labelNames: ["cluster_version"],
    registers: [registry],
  }).set({ cluster_version: ETCD_API_VERSION.split(".").slice(0, 2).join(".") }, 1);
  new Gauge({
    name: "kvorum_version",
    help: "Which Kvorum release is running. 1 for 'version' label with the release.",
    labelNames: ["version"],
    registers: [registry],
  }).set({ version: VERSION }, 1);
  new Gauge({
    name: "etcd_server_id",
    help: "Server or member ID in hexadecimal format. 1 for 'server_id' label with current ID.",
    labelNames: ["server_id"],
    registers: [registry],
    collect() {
      const member = cache.member;
      if (member === undefined) return;
      this.reset();
      this.set({ server_id: member.header().memberId.toString(16) }, 1);
    },
  });
  const quota = new Gauge({
    name: "etcd_server_quota_backend_bytes",
    help: "Current backend storage quota size in bytes.",
    registers: [registry],
  });
  if (opts.quotaBackendBytes !== undefined) quota.set(opts.quotaBackendBytes);

  const rpcLabels = ["grpc_type", "grpc_service", "grpc_method"] as const;
  const rpcCounts: ServerMetrics["rpcCounts"] = {
    started: new DeferredCounts(),
    handled: new DeferredCounts(),
    msgReceived: new DeferredCounts(),
    msgSent: new DeferredCounts(),
    clientRequests: new DeferredCounts(),
  };
  const grpcStarted = new Counter({
    name: "grpc_server_started_total",
    help: "Total number of RPCs started on the server.",
    labelNames: rpcLabels,
    registers: [registry],
    collect() {
      rpcCounts.started.flush(this);
    },
  });
  const grpcHandled = new Counter({
    name: "grpc_server_handled_total",
    help: "Total number of RPCs completed on the server, regardless of success or failure.",
    labelNames: [...rpcLabels, "grpc_code"] as const,
    registers: [registry],
    collect() {
      rpcCounts.handled.flush(this);
    },
  });
  const grpcMsgReceived = new Counter({
    name: "grpc_server_msg_received_total",
    help: "Total number of RPC stream messages received on the server.",
    labelNames: rpcLabels,
    registers: [registry],
    collect() {
      rpcCounts.msgReceived.flush(this);
    },
  });
  const grpcMsgSent = new Counter({
    name: "grpc_server_msg_sent_total",
    help: "Total number of gRPC stream messages sent by the server.",
    labelNames: rpcLabels,
    registers: [registry],
    collect() {
      rpcCounts.msgSent.flush(this);
    },
  });
  new Counter({
    name: "etcd_server_client_requests_total",
    help: "The total number of client requests per client version.",
    labelNames: ["type", "client_api_version"],
    registers: [registry],
    collect() {
      rpcCounts.clientRequests.flush(this);
    },
  });
  const healthSuccess = new Counter({
    name: "etcd_server_health_success",
    help: "The total number of successful health checks",
    registers: [registry],
  });
  const healthFailures = new Counter({
    name: "etcd_server_health_failures",
    help: "The total number of failed health checks",
    registers: [registry],
  });

  // etcd's disk histograms, with its buckets (1 ms doubling to about 8 s): what every etcd
  // dashboard and alert watches first.
  const walFsync = new Histogram({
    name: "etcd_disk_wal_fsync_duration_seconds",
    help: "The latency distributions of fsync called by WAL.",
    buckets: exponentialBuckets(0.001, 2, 14),
    registers: [registry],
  });
  const backendCommit = new Histogram({
    name: "etcd_disk_backend_commit_duration_seconds",
    help: "The latency distributions of commit called by backend.",
    buckets: exponentialBuckets(0.001, 2, 14),
    registers: [registry],
  });

  registerEtcdMetrics(registry, () => cache.member?.header().memberId.toString(16) ?? "");
  const scrapes = registerScrapeMetrics(registry);

  return {
    registry,
    scrapes,
    rpcCounts,
    disk: {
      walFsync: (seconds) => walFsync.observe(seconds),
      backendCommit: (seconds) => backendCommit.observe(seconds),
    },
    grpcStarted,
    grpcHandled,
    grpcMsgReceived,
    grpcMsgSent,
    healthSuccess,
    healthFailures,
    attachMember(member: MemberApi): void {
      cache.member = member;
    },
  };
}
