// Maintenance building blocks the member wires in: etcd-compatible identity, the alarm store and
// space quota, backend snapshots, defragmentation and database size figures.
//
// Wiring (member side):
// - identity: bootstrapIdentity(config.initialCluster, config.initialClusterToken, config.name).
// - alarms: one AlarmStore(backend); apply Alarm entries with store.apply(req) inside the apply
//   write txn (log `raised`/`cleared`); store.reload() if that txn aborts; Status.errors from
//   statusErrors(leaderId, store).
// - quota: new QuotaChecker({ quotaBackendBytes, backendSize: () => size().dbSizeInUse,
//   alarmActive: (a) => store.has(a) }) with size = cachedDbSize(backend). Front door (put, txn
//   with writes, lease grant): admit() === "exceeded" → propose ACTIVATE NOSPACE for this member,
//   throw Errors.noSpace(). Apply: applyVerdict() before each request (see quota.ts).
// - status: backendDbSize(backend) for dbSize / dbSizeInUse.
// - snapshot(): snapshotBackend(backend) is a SnapshotStream (+ discard()); snapshotResponses()
//   gives etcd's remaining_bytes per chunk.
// - defragment(): defragmentBackend(backend) (a live no-op, see defrag.ts); an offline
//   defragmentLmdbDirectory(dir) before opening the backend compacts the file.
export * from "./identity.js";
export * from "./alarms.js";
export * from "./quota.js";
export * from "./backend-snapshot.js";
export * from "./db-size.js";
export * from "./defrag.js";
export * from "./status.js";
export { lmdbEnvironmentOf, memoryTablesOf } from "./backend-access.js";
