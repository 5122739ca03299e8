// Process-wide counts behind etcd's metrics, kept as plain numbers so the code paths that count
// (the store, the lessor, the watch hub, the transport, the gRPC server) pay one addition and need
// no metrics import; src/common/etcd-metrics.ts reads them at scrape time. etcd keeps its
// metrics process-wide too (one Prometheus registry per process), and a Kvorum process runs one
// member, so one set of counts per process has the same meaning.

/** Plain counters and gauges (see etcd-metrics.ts for the metric each one backs). */
export const counts = {
  /** Range operations on the store, including those inside txns and txn compares. */
  mvccRange: 0,
  /** Put operations applied to the store, including those inside txns. */
  mvccPut: 0,
  /** Delete-range operations applied, including those inside txns and lease revocations. */
  mvccDelete: 0,
  /** Store transactions with more than one operation. */
  mvccTxn: 0,
  /** Bytes of key plus value of every put applied. */
  mvccPutBytes: 0,
  /** Keys (revisions) removed by compaction. */
  compactedKeys: 0,
  /** Leader changes this member saw (a leader found or replaced). */
  leaderChanges: 0,
  /** Proposals waiting for commit. */
  proposalsPending: 0,
  /** Proposals that failed (timed out, dropped, or ended by a leader change). */
  proposalsFailed: 0,
  /** ReadIndex requests that failed. */
  readIndexFailed: 0,
  /** ReadIndex requests sent again because no answer came in time. */
  slowReadIndexes: 0,
  /** Entries whose apply took longer than 100 ms. */
  slowApplies: 0,
  /** Heartbeats the leader could not send to a follower. */
  heartbeatSendFailures: 0,
  /** Learner promotions done while this member was leader. */
  learnerPromotions: 0,
  /** Leases that expired and were revoked for it (counted on the leader). */
  leasesExpired: 0,
  leasesGranted: 0,
  leasesRevoked: 0,
  /** Keep-alives answered (on the leader). */
  leasesRenewed: 0,
  /** Events sent to watchers. */
  watchEventsSent: 0,
  /** Bytes of records written to the WAL. */
  walWriteBytes: 0,
  /** 1 while a defragmentation runs. */
  defragInflight: 0,
  /** 1 while a snapshot from the leader is being installed. */
  snapshotApplyInProgress: 0,
  /** The store's compaction revision (0 = never compacted). */
  compactRevision: 0,
  /** Bytes of gRPC messages received from and sent to clients (after framing is removed). */
  grpcReceivedBytes: 0,
  grpcSentBytes: 0,
};

/** Per-peer byte counts (peer member ID in hex -> bytes), and which peers have a live link. */
export const peerCounts = {
  sentBytes: new Map<string, number>(),
  receivedBytes: new Map<string, number>(),
  /** Peer ID (hex) -> 1 while this member's outbound raft link to it is open. */
  active: new Map<string, number>(),
  /** Peer ID (hex) -> number of open inbound raft connections from it. */
  inbound: new Map<string, number>(),
};

export function addTo(map: Map<string, number>, key: string, n: number): void {
  map.set(key, (map.get(key) ?? 0) + n);
}

/** Observations for histograms; the metrics module installs real observers, tests may too. */
export const observe = {
  leaseTtl: (_seconds: number): void => {},
  defragSeconds: (_seconds: number): void => {},
  snapshotSeconds: (_seconds: number): void => {},
  hashSeconds: (_seconds: number): void => {},
  hashRevSeconds: (_seconds: number): void => {},
  compactionTotalMs: (_ms: number): void => {},
  compactionPauseMs: (_ms: number): void => {},
  peerRoundTrip: (_to: string, _seconds: number): void => {},
  /** A raft snapshot file written: encoding, fsync, and the whole save. */
  snapMarshalSeconds: (_seconds: number): void => {},
  snapFsyncSeconds: (_seconds: number): void => {},
  snapSaveSeconds: (_seconds: number): void => {},
  /** A leader's backend snapshot received: its fsync, and the whole save. */
  snapDbFsyncSeconds: (_seconds: number): void => {},
  snapDbSaveSeconds: (_seconds: number): void => {},
};

/** Sources of the watch gauges (one per live watch hub). */
export interface WatchGaugeSource {
  stats(): { streams: number; synced: number; unsynced: number };
}
export const watchSources = new Set<WatchGaugeSource>();

/** Times `fn` (sync or async) and reports its duration in seconds. */
export async function timed<T>(report: (seconds: number) => void, fn: () => Promise<T> | T): Promise<T> {
  const start = performance.now();
  try {
    return await fn();
  } finally {
    report((performance.now() - start) / 1000);
  }
}
