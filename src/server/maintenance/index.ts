// Maintenance building blocks the member wires in: etcd-compatible identity, the alarm store and
// space quota, backend snapshots, defragmentation and database size figures.
export * from "./identity.js";
export * from "./alarms.js";
export * from "./quota.js";
