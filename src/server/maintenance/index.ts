// Maintenance building blocks the member wires in: etcd-compatible identity, the alarm store and
// space quota, backend snapshots, defragmentation and database size figures.
export * from "./identity.js";
export * from "./alarms.js";
export * from "./quota.js";
export * from "./backend-snapshot.js";
export * from "./db-size.js";
export * from "./defrag.js";
export { lmdbEnvironmentOf, memoryTablesOf } from "./backend-access.js";
