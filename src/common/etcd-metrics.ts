// etcd 3.4's metric families that are backed by the process-wide counts of etcd-counts.ts (mvcc,
// lease, watch, server, disk, network), plus etcd's os_fd_* and process_virtual_memory_max_bytes,
// under etcd's names, types, labels, help texts and buckets. Counters mirror a count that only
// grows; gauges are set from the current value; histograms get observations as they happen.
// test/fixtures/etcd-metrics-3.4.txt lists etcd's families; test/e2e/parity-metrics.e2e.ts checks
// that each is here or has a written reason (test/fixtures/metrics-absent.json) for its absence.
import { readdirSync, readFileSync } from "node:fs";
import { Counter, Gauge, Histogram, exponentialBuckets, type Registry } from "prom-client";
import { counts, observe, peerCounts, watchSources } from "./etcd-counts.js";

type Count = () => number;

/** A counter that reports the current value of a count that only grows. */
function mirroredCounter(registry: Registry, name: string, help: string, read: Count): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      const value = read();
      if (value > 0) this.inc(value);
    },
  });
}

function gauge(registry: Registry, name: string, help: string, read: Count): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}

function histogram(registry: Registry, name: string, help: string, buckets: number[]): Histogram {
  return new Histogram({ name, help, buckets, registers: [registry] });
}

/** Counters kept per peer (label `To` or `From`), mirrored from a map of counts. */
function perPeerCounter(
  registry: Registry,
  name: string,
  help: string,
  label: "To" | "From",
  read: () => Map<string, number>,
): void {
  new Counter({
    name,
    help,
    labelNames: [label],
    registers: [registry],
    collect() {
      this.reset();
      for (const [peer, n] of read()) if (n > 0) this.inc({ [label]: peer }, n);
    },
  });
}

const sum = (f: (s: ReturnType<typeof stats>[number]) => number): number =>
  stats().reduce((acc, s) => acc + f(s), 0);
const stats = () => [...watchSources].map((s) => s.stats());

/** Registers the families; `localId` gives this member's ID in hex once known. */
export function registerEtcdMetrics(registry: Registry, localId: () => string): void {
  // ---- mvcc (etcd counts each as etcd_mvcc_* and, until 3.5, again as etcd_debugging_mvcc_*)
  for (const ns of ["etcd_mvcc", "etcd_debugging_mvcc"]) {
    mirroredCounter(
      registry,
      `${ns}_range_total`,
      "Total number of ranges seen by this member.",
      () => counts.mvccRange,
    );
    mirroredCounter(
      registry,
      `${ns}_put_total`,
      "Total number of puts seen by this member.",
      () => counts.mvccPut,
    );
    mirroredCounter(
      registry,
      `${ns}_delete_total`,
      "Total number of deletes seen by this member.",
      () => counts.mvccDelete,
    );
    mirroredCounter(
      registry,
      `${ns}_txn_total`,
      "Total number of txns seen by this member.",
      () => counts.mvccTxn,
    );
  }
  gauge(
    registry,
    "etcd_debugging_mvcc_total_put_size_in_bytes",
    "The total size of put kv pairs seen by this member.",
    () => counts.mvccPutBytes,
  );
  mirroredCounter(
    registry,
    "etcd_debugging_mvcc_db_compaction_keys_total",
    "Total number of db keys compacted.",
    () => counts.compactedKeys,
  );
  const compactionPause = histogram(
    registry,
    "etcd_debugging_mvcc_db_compaction_pause_duration_milliseconds",
    "Bucketed histogram of db compaction pause duration.",
    exponentialBuckets(1, 2, 13),
  );
  const compactionTotal = histogram(
    registry,
    "etcd_debugging_mvcc_db_compaction_total_duration_milliseconds",
    "Bucketed histogram of db compaction total duration.",
    exponentialBuckets(100, 2, 14),
  );
  const hash = histogram(
    registry,
    "etcd_mvcc_hash_duration_seconds",
    "The latency distribution of storage hash operation.",
    exponentialBuckets(0.01, 2, 15),
  );
  const hashRev = histogram(
    registry,
    "etcd_mvcc_hash_rev_duration_seconds",
    "The latency distribution of storage hash by revision operation.",
    exponentialBuckets(0.01, 2, 15),
  );

  // ---- watch
  gauge(registry, "etcd_debugging_mvcc_watch_stream_total", "Total number of watch streams.", () =>
    sum((s) => s.streams),
  );
  gauge(registry, "etcd_debugging_mvcc_watcher_total", "Total number of watchers.", () =>
    sum((s) => s.synced + s.unsynced),
  );
  gauge(registry, "etcd_debugging_mvcc_slow_watcher_total", "Total number of unsynced slow watchers.", () =>
    sum((s) => s.unsynced),
  );
  mirroredCounter(
    registry,
    "etcd_debugging_mvcc_events_total",
    "Total number of events sent by this member.",
    () => counts.watchEventsSent,
  );
  // A watcher that falls behind re-reads its events from the backend; none are held in memory
  // waiting to be sent, so this is always 0.
  gauge(
    registry,
    "etcd_debugging_mvcc_pending_events_total",
    "Total number of pending events to be sent.",
    () => 0,
  );

  // ---- lease
  mirroredCounter(
    registry,
    "etcd_debugging_lease_granted_total",
    "The total number of granted leases.",
    () => counts.leasesGranted,
  );
  mirroredCounter(
    registry,
    "etcd_debugging_lease_revoked_total",
    "The total number of revoked leases.",
    () => counts.leasesRevoked,
  );
  mirroredCounter(
    registry,
    "etcd_debugging_lease_renewed_total",
    "The number of renewed leases seen by the leader.",
    () => counts.leasesRenewed,
  );
  const leaseTtl = histogram(
    registry,
    "etcd_debugging_lease_ttl_total",
    "Bucketed histogram of lease TTLs.",
    exponentialBuckets(1, 2, 24),
  );
  mirroredCounter(
    registry,
    "etcd_debugging_server_lease_expired_total",
    "The total number of expired leases.",
    () => counts.leasesExpired,
  );

  // ---- server
  mirroredCounter(
    registry,
    "etcd_server_heartbeat_send_failures_total",
    "The total number of leader heartbeat send failures (likely overloaded from slow disk).",
    () => counts.heartbeatSendFailures,
  );
  mirroredCounter(
    registry,
    "etcd_server_slow_apply_total",
    "The total number of slow apply requests (likely overloaded from slow disk).",
    () => counts.slowApplies,
  );
  mirroredCounter(
    registry,
    "etcd_server_read_indexes_failed_total",
    "The total number of failed read indexes seen.",
    () => counts.readIndexFailed,
  );
  mirroredCounter(
    registry,
    "etcd_server_slow_read_indexes_total",
    "The total number of pending read indexes not in sync with leader's or timed out read index requests.",
    () => counts.slowReadIndexes,
  );
  mirroredCounter(
    registry,
    "etcd_server_learner_promote_successes",
    "The total number of successful learner promotions while this member is leader.",
    () => counts.learnerPromotions,
  );
  gauge(
    registry,
    "etcd_server_snapshot_apply_in_progress_total",
    "1 if the server is applying the incoming snapshot. 0 if none.",
    () => counts.snapshotApplyInProgress,
  );

  // ---- disk
  gauge(
    registry,
    "etcd_disk_wal_write_bytes_total",
    "Total number of bytes written in WAL.",
    () => counts.walWriteBytes,
  );
  gauge(
    registry,
    "etcd_disk_defrag_inflight",
    "Whether or not defrag is active on the member. 1 means active, 0 means not.",
    () => counts.defragInflight,
  );
  const defrag = histogram(
    registry,
    "etcd_disk_backend_defrag_duration_seconds",
    "The latency distribution of backend defragmentation.",
    exponentialBuckets(0.1, 2, 13),
  );
  const snapshot = histogram(
    registry,
    "etcd_disk_backend_snapshot_duration_seconds",
    "The latency distribution of backend snapshots.",
    exponentialBuckets(0.01, 2, 17),
  );

  // ---- network
  mirroredCounter(
    registry,
    "etcd_network_client_grpc_received_bytes_total",
    "The total number of bytes received from grpc clients.",
    () => counts.grpcReceivedBytes,
  );
  mirroredCounter(
    registry,
    "etcd_network_client_grpc_sent_bytes_total",
    "The total number of bytes sent to grpc clients.",
    () => counts.grpcSentBytes,
  );
  perPeerCounter(
    registry,
    "etcd_network_peer_sent_bytes_total",
    "The total number of bytes sent to peers.",
    "To",
    () => peerCounts.sentBytes,
  );
  perPeerCounter(
    registry,
    "etcd_network_peer_received_bytes_total",
    "The total number of bytes received from peers.",
    "From",
    () => peerCounts.receivedBytes,
  );
  new Gauge({
    name: "etcd_network_active_peers",
    help: "The current number of active peer connections.",
    labelNames: ["Local", "Remote"],
    registers: [registry],
    collect() {
      this.reset();
      const local = localId();
      // A peer is active while a raft connection to or from it is open. Links open on first use,
      // so two followers that have not exchanged messages are not active to each other (etcd
      // connects to every peer at start).
      const peers = new Set(peerCounts.active.keys());
      for (const [peer, n] of peerCounts.inbound) if (n > 0) peers.add(peer);
      for (const peer of peers) this.set({ Local: local, Remote: peer }, 1);
    },
  });
  const rtt = new Histogram({
    name: "etcd_network_peer_round_trip_time_seconds",
    help: "Round-Trip-Time histogram between peers",
    labelNames: ["To"],
    buckets: exponentialBuckets(0.0001, 2, 16),
    registers: [registry],
  });

  // ---- process: etcd's own file descriptor gauges, and the one process_* family prom-client lacks
  gauge(registry, "os_fd_used", "The number of used file descriptors.", openFds);
  gauge(registry, "os_fd_limit", "The file descriptor limit.", () => limitOf("Max open files"));
  gauge(
    registry,
    "process_virtual_memory_max_bytes",
    "Maximum amount of virtual memory available in bytes.",
    () => limitOf("Max address space"),
  );

  // ---- raft snapshots (etcd's snap package): files saved, and backend copies received
  const snapMarshal = histogram(
    registry,
    "etcd_debugging_snap_save_marshalling_duration_seconds",
    "The marshalling cost distributions of save called by snapshot.",
    exponentialBuckets(0.001, 2, 14),
  );
  const snapSave = histogram(
    registry,
    "etcd_debugging_snap_save_total_duration_seconds",
    "The total latency distributions of save called by snapshot.",
    exponentialBuckets(0.001, 2, 14),
  );
  const snapFsync = histogram(
    registry,
    "etcd_snap_fsync_duration_seconds",
    "The latency distributions of fsync called by snap.",
    exponentialBuckets(0.001, 2, 14),
  );
  const snapDbSave = histogram(
    registry,
    "etcd_snap_db_save_total_duration_seconds",
    "The total latency distributions of v3 snapshot save",
    exponentialBuckets(0.1, 2, 10),
  );
  const snapDbFsync = histogram(
    registry,
    "etcd_snap_db_fsync_duration_seconds",
    "The latency distributions of fsyncing .snap.db file",
    exponentialBuckets(0.001, 2, 14),
  );
  gauge(
    registry,
    "etcd_debugging_mvcc_compact_revision",
    "The revision of the last compaction in store.",
    // etcd reads -1 until the first compaction.
    () => (counts.compactRevision > 0 ? counts.compactRevision : -1),
  );

  observe.snapMarshalSeconds = (s) => snapMarshal.observe(s);
  observe.snapSaveSeconds = (s) => snapSave.observe(s);
  observe.snapFsyncSeconds = (s) => snapFsync.observe(s);
  observe.snapDbSaveSeconds = (s) => snapDbSave.observe(s);
  observe.snapDbFsyncSeconds = (s) => snapDbFsync.observe(s);
  observe.leaseTtl = (s) => leaseTtl.observe(s);
  observe.defragSeconds = (s) => defrag.observe(s);
  observe.snapshotSeconds = (s) => snapshot.observe(s);
  observe.hashSeconds = (s) => hash.observe(s);
  observe.hashRevSeconds = (s) => hashRev.observe(s);
  observe.compactionPauseMs = (ms) => compactionPause.observe(ms);
  observe.compactionTotalMs = (ms) => compactionTotal.observe(ms);
  observe.peerRoundTrip = (to, s) => rtt.observe({ To: to }, s);
}

function openFds(): number {
  try {
    return readdirSync("/proc/self/fd").length;
  } catch {
    return 0;
  }
}

/**
 * A soft limit from /proc/self/limits; "unlimited" reads as 2^64, as the Go client reports it.
 */
function limitOf(name: string): number {
  try {
    const line = readFileSync("/proc/self/limits", "utf8")
      .split("\n")
      .find((l) => l.startsWith(name));
    const soft = line?.slice(name.length).trim().split(/\s+/)[0];
    if (soft === undefined) return 0;
    return soft === "unlimited" ? 2 ** 64 : Number(soft);
  } catch {
    return 0;
  }
}
