// Kvorum's backend tables exported as etcd 3.4's backend: a bbolt file with etcd's buckets, so
// `etcdctl snapshot status/restore` and etcd itself can read what Maintenance.Snapshot sends.
//
//   key        every change record after the compaction point, and at or below it only what etcd
//              keeps when it compacts (kvstore_compaction.go with keyIndex.compact): for each key,
//              its newest revision at or below the compaction point, unless that is a deletion
//   meta       consistent_index (the applied raft index) and, once compacted, scheduledCompactRev
//              and finishedCompactRev (both the compaction revision: a logical compaction that is
//              still being carried out physically counts as done, the kept set being the same)
//   lease      every lease: leasepb.Lease{ID, TTL, RemainingTTL when checkpointed}
//   members, members_removed, alarm: the replicated membership and alarms in etcd's encoding
//   cluster    clusterVersion (Kvorum speaks the 3.4 API)
//   auth       authRevision 1 (Kvorum keeps no auth state); authUsers, authRoles empty
//
// The backend given must not change while the export runs (a private copy): the export yields to
// the event loop every few hundred rows or milliseconds, so a live backend could change between chunks.

import type { Backend } from "../../mvcc/backend.js";
import { decodeChange } from "../../mvcc/codec.js";
import { KvReader } from "../../mvcc/reader.js";
import { ChangeKind, decodeRevisionKey, escapeKey, META, readMetaValue, TABLES } from "../../mvcc/schema.js";
import { decodeLeaseRecord } from "../../lease/lease-codec.js";
import { LEASE_TABLE } from "../../lease/backend-lease-store.js";
import { MEMBERS_TABLE, REMOVED_MEMBERS_TABLE } from "../members.js";
import { ETCD_CLUSTER_VERSION } from "../../version.js";
import { BoltWriter, type PageSink } from "../../bbolt/writer.js";
import {
  AUTH_REVISION_KEY,
  BUCKETS,
  CLUSTER_VERSION_KEY,
  encodeAlarmMember,
  encodeKeyValue,
  encodeLease,
  encodeMember,
  memberKey,
  META_KEYS,
  REMOVED_VALUE,
  revisionBytes,
  u64BE,
} from "../../bbolt/etcd-schema.js";
import { ALARM_TABLE } from "./alarms.js";

export interface EtcdExportOptions {
  /** Rows handled at most between two yields to the event loop (default 512). */
  rowsPerSlice?: number;
  /** Milliseconds spent at most between two yields, give or take one row (default 10). */
  sliceMs?: number;
  /** Receives pages 3 on as they are written (see BoltWriter); they are then not kept in chunks. */
  sink?: PageSink;
}

/** What the export wrote, for logs and tests. */
export interface EtcdExport {
  /** The bbolt file as page-aligned chunks; with a sink, only pages 0-2 (the rest went to it). */
  chunks: Buffer[];
  size: number;
  /** The highest main revision in the key bucket (0 when empty). */
  revision: number;
  keyRows: number;
}

type Row = [Buffer, Buffer];

export async function exportEtcdBackend(backend: Backend, opts: EtcdExportOptions = {}): Promise<EtcdExport> {
  const perSlice = opts.rowsPerSlice ?? 512;
  const sliceMs = opts.sliceMs ?? 10;
  let rowsInSlice = 0;
  let sliceStart = performance.now();
  const pace = async (): Promise<void> => {
    if (++rowsInSlice < perSlice && performance.now() - sliceStart < sliceMs) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    rowsInSlice = 0;
    sliceStart = performance.now();
  };

  const meta = backend.table(TABLES.meta);
  const compactRevision = readMetaValue(meta.get(META.compactRevision));
  const appliedIndex = readMetaValue(meta.get(META.appliedIndex));

  const w = new BoltWriter(opts.sink !== undefined ? { sink: opts.sink } : {});
  // Buckets in bytewise name order, as the writer requires.
  const bucket = (name: string, rows: Row[]): void => {
    const b = w.bucket(name);
    for (const [k, v] of rows.sort((x, y) => Buffer.compare(x[0], y[0]))) b.add(k, v);
  };

  const alarms: Row[] = [];
  for (const { key } of backend.table(ALARM_TABLE).range(undefined, undefined)) {
    const view = Buffer.from(key.buffer, key.byteOffset, key.byteLength);
    alarms.push([encodeAlarmMember(view.readBigUInt64BE(0), view[8]!), Buffer.alloc(0)]);
  }
  bucket(BUCKETS.alarm, alarms);
  bucket(BUCKETS.auth, [[Buffer.from(AUTH_REVISION_KEY), u64BE(1)]]);
  bucket(BUCKETS.authRoles, []);
  bucket(BUCKETS.authUsers, []);
  bucket(BUCKETS.cluster, [[Buffer.from(CLUSTER_VERSION_KEY), Buffer.from(ETCD_CLUSTER_VERSION)]]);

  // key: the revisions table is already in (main, sub) order, which is the key bucket's order.
  const keys = w.bucket(BUCKETS.key);
  const reader = new KvReader(backend);
  let revision = 0;
  let keyRows = 0;
  for (const { key, value } of backend.table(TABLES.revisions).range(undefined, undefined)) {
    await pace();
    const { rev, sub } = decodeRevisionKey(key);
    const change = decodeChange(rev, value);
    if (rev <= compactRevision) {
      // Kept at the compaction point only if it is the key's newest change there and not a deletion.
      if (change.kind !== ChangeKind.PUT) continue;
      const newest = reader.historyAt(escapeKey(change.kv.key), compactRevision);
      if (newest === undefined || newest.rev !== rev || newest.sub !== sub) continue;
    }
    const tombstone = change.kind === ChangeKind.DELETE;
    const kv = change.kv;
    const record = tombstone
      ? encodeKeyValue({
          key: kv.key,
          createRevision: 0,
          modRevision: 0,
          version: 0,
          value: kv.value.subarray(0, 0),
          lease: 0n,
        })
      : encodeKeyValue(kv);
    keys.add(revisionBytes(rev, sub, tombstone), record);
    revision = rev;
    keyRows++;
  }

  const leases: Row[] = [];
  for (const { key, value } of backend.table(LEASE_TABLE).range(undefined, undefined)) {
    await pace();
    const rec = decodeLeaseRecord(key, value);
    leases.push([u64BE(rec.id), encodeLease(rec.id, rec.ttl, rec.remainingTtl)]);
  }
  bucket(BUCKETS.lease, leases);

  const members: Row[] = [];
  for (const { key, value } of backend.table(MEMBERS_TABLE).range(undefined, undefined)) {
    const id = Buffer.from(key.buffer, key.byteOffset, key.byteLength).readBigUInt64BE(0);
    const m = JSON.parse(Buffer.from(value).toString("utf8")) as {
      name: string;
      peerUrls: string[];
      clientUrls: string[];
      isLearner: boolean;
    };
    members.push([memberKey(id), encodeMember({ id, ...m })]);
  }
  bucket(BUCKETS.members, members);
  const removed: Row[] = [];
  for (const { key } of backend.table(REMOVED_MEMBERS_TABLE).range(undefined, undefined)) {
    const id = Buffer.from(key.buffer, key.byteOffset, key.byteLength).readBigUInt64BE(0);
    removed.push([memberKey(id), Buffer.from(REMOVED_VALUE)]);
  }
  bucket(BUCKETS.membersRemoved, removed);

  const metaRows: Row[] = [[Buffer.from(META_KEYS.consistentIndex), u64BE(appliedIndex)]];
  if (compactRevision > 0) {
    metaRows.push([Buffer.from(META_KEYS.finishedCompact), revisionBytes(compactRevision, 0)]);
    metaRows.push([Buffer.from(META_KEYS.scheduledCompact), revisionBytes(compactRevision, 0)]);
  }
  bucket(BUCKETS.meta, metaRows);

  const chunks = w.finish();
  return { chunks, size: w.pages * w.pageSize, revision, keyRows };
}
