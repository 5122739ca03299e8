// `kvorumctl snapshot restore`: an etcd 3.4 snapshot file (from etcd or from Kvorum, both bbolt
// files in etcd's backend schema, usually followed by their SHA-256) turned into a Kvorum data
// dir, checked as `etcdctl snapshot restore` checks it (etcd's clientv3/snapshot Restore/saveDB):
// the data dir must not exist; a trailing SHA-256 (file size % 512 == 32) must match unless
// --skip-hash-check; a file without one is refused unless --skip-hash-check.
//
// What is written (member/db, the LMDB backend; no WAL, no identity file):
// - key bucket → latest / history / revisions / keysByLease, so every retained revision reads back;
// - compaction: compactRevision = scheduledCompactRev (or finishedCompactRev), compactPhysical =
//   finishedCompactRev, so a compaction etcd had not finished is finished by Kvorum;
// - lease → lease table (ID, granted TTL); alarm → alarm table;
// - members / members_removed are dropped, as etcd drops them: the member table is seeded from
//   --initial-cluster when the member first starts. Like a new cluster, it must be started with
//   the --name, --initial-cluster, --initial-cluster-token and --initial-advertise-peer-urls
//   given here (the IDs printed are derived from them);
// - the applied index stays 0: the restored member starts a new raft log.

import { createHash } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { DEFAULT_PAGE_SIZE, META_SIZE, metaProblem, PAGE_HEADER_SIZE } from "../bbolt/layout.js";
import { BoltReader } from "../bbolt/reader.js";
import { BUCKETS, decodeKeyValue, decodeProto, META_KEYS, parseRevisionBytes } from "../bbolt/etcd-schema.js";
import { parseInitialCluster, parseUrlList } from "../config/value-parsers.js";
import { BackendLeaseStore } from "../lease/backend-lease-store.js";
import type { Backend } from "../mvcc/backend.js";
import { encodeChange, encodeLatest } from "../mvcc/codec.js";
import { openLmdbBackend } from "../mvcc/lmdb-backend.js";
import {
  ChangeKind,
  escapeKey,
  historyKey,
  historyValue,
  leaseKey,
  META,
  metaValue,
  revisionKey,
  TABLES,
} from "../mvcc/schema.js";
import type { KeyValue } from "../mvcc/types.js";
import { dataDirLayout } from "./data-dir.js";
import { ALARM_TABLE } from "./maintenance/alarms.js";
import { bootstrapIdentity } from "./maintenance/identity.js";
import { normalizePeerUrl } from "./maintenance/identity.js";

export interface RestoreOptions {
  snapshotPath: string;
  name: string;
  /** Default: <name>.kvorum, the data dir kvorum uses by default (etcdctl uses <name>.etcd). */
  dataDir?: string;
  initialCluster: string;
  initialClusterToken: string;
  initialAdvertisePeerUrls: string;
  skipHashCheck: boolean;
}

export interface RestoreResult {
  dataDir: string;
  memberId: bigint;
  clusterId: bigint;
  revision: number;
  compactRevision: number;
  keys: number;
  leases: number;
}

const SHA256_BYTES = 32;
/** Rows written per write transaction. */
const ROWS_PER_TXN = 5000;

export async function restoreSnapshot(opts: RestoreOptions): Promise<RestoreResult> {
  const dataDir = opts.dataDir ?? `${opts.name}.kvorum`;
  if (existsSync(dataDir)) throw new Error(`data-dir ${JSON.stringify(dataDir)} exists`);
  const cluster = parseInitialCluster(opts.initialCluster);
  const peerUrls = parseUrlList(opts.initialAdvertisePeerUrls);
  const identity = bootstrapIdentity(cluster, opts.initialClusterToken, opts.name);
  const listed = (cluster[opts.name] ?? []).map(normalizePeerUrl).sort().join(",");
  if (listed !== peerUrls.map(normalizePeerUrl).sort().join(","))
    throw new Error(
      `--initial-cluster has ${opts.name}=${(cluster[opts.name] ?? []).join(",")} but missing from ` +
        `--initial-advertise-peer-urls=${peerUrls.join(",")}`,
    );

  const file = await readFile(opts.snapshotPath);
  const db = checkedSnapshotBytes(opts.snapshotPath, file, opts.skipHashCheck);
  let reader: BoltReader;
  try {
    reader = BoltReader.open(db);
  } catch (e) {
    throw new Error(`${opts.snapshotPath} is truncated or damaged: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const problems = reader.check();
  if (problems.length > 0)
    throw new Error(`${opts.snapshotPath} is damaged: integrity check failed: ${problems.join("; ")}`);

  const layout = dataDirLayout(dataDir);
  mkdirSync(layout.db, { recursive: true, mode: 0o700 });
  const backend = openLmdbBackend(layout.db);
  try {
    const counts = await importBackend(reader, backend);
    return { dataDir, memberId: identity.memberId, clusterId: identity.clusterId, ...counts };
  } finally {
    await backend.close();
  }
}

/** Copies the etcd buckets of reader into Kvorum's tables. */
export async function importBackend(
  reader: BoltReader,
  backend: Backend,
): Promise<{ revision: number; compactRevision: number; keys: number; leases: number }> {
  const has = new Set(reader.bucketNames().map((b) => b.toString("latin1")));
  const rows = (name: string) => (has.has(name) ? reader.entries(name) : []);

  const meta = new Map<string, Buffer>();
  for (const { key, value } of rows(BUCKETS.meta)) meta.set(key.toString("latin1"), value);
  const revOf = (name: string): number => {
    const v = meta.get(name);
    return v === undefined ? 0 : parseRevisionBytes(v).main;
  };
  const finished = revOf(META_KEYS.finishedCompact);
  const compactRevision = Math.max(finished, revOf(META_KEYS.scheduledCompact));

  const latest = backend.table(TABLES.latest);
  const history = backend.table(TABLES.history);
  const revisions = backend.table(TABLES.revisions);
  const byLease = backend.table(TABLES.keysByLease);
  const live = new Map<string, KeyValue | undefined>();
  let revision = 0;
  let pending: (() => void)[] = [];
  const flush = async (): Promise<void> => {
    const batch = pending;
    pending = [];
    backend.writeTxn(() => batch.forEach((f) => f()));
    await new Promise<void>((r) => setImmediate(r));
  };

  for (const { key, value, isBucket } of rows(BUCKETS.key)) {
    if (isBucket) continue;
    const rev = parseRevisionBytes(key);
    const stored = decodeKeyValue(value);
    const kind = rev.tombstone ? ChangeKind.DELETE : ChangeKind.PUT;
    const kv: KeyValue = rev.tombstone
      ? {
          key: stored.key,
          createRevision: 0,
          modRevision: rev.main,
          version: 0,
          value: new Uint8Array(0),
          lease: 0n,
        }
      : { ...stored, modRevision: rev.main };
    pending.push(() => {
      history.put(historyKey(escapeKey(kv.key), rev.main), historyValue(rev.sub, kind));
      revisions.put(revisionKey(rev.main, rev.sub), encodeChange(kind, kv));
    });
    live.set(Buffer.from(kv.key).toString("latin1"), rev.tombstone ? undefined : kv);
    revision = rev.main;
    if (pending.length >= ROWS_PER_TXN) await flush();
  }
  let keys = 0;
  for (const kv of live.values()) {
    if (kv === undefined) continue;
    keys++;
    pending.push(() => {
      latest.put(kv.key, encodeLatest(kv));
      if (kv.lease !== 0n) byLease.put(leaseKey(kv.lease, kv.key), new Uint8Array(0));
    });
    if (pending.length >= ROWS_PER_TXN) await flush();
  }

  const leaseStore = new BackendLeaseStore(backend);
  let leases = 0;
  for (const { value } of rows(BUCKETS.lease)) {
    const f = decodeProto(value);
    const id = BigInt.asIntN(64, (f.get(1) as bigint | undefined) ?? 0n);
    const ttl = Number(BigInt.asIntN(64, (f.get(2) as bigint | undefined) ?? 0n));
    const remainingTtl = Number(BigInt.asIntN(64, (f.get(3) as bigint | undefined) ?? 0n));
    pending.push(() => leaseStore.put(remainingTtl > 0 ? { id, ttl, remainingTtl } : { id, ttl }));
    leases++;
  }
  const alarms = backend.table(ALARM_TABLE);
  for (const { key } of rows(BUCKETS.alarm)) {
    const f = decodeProto(key);
    const alarmKey = Buffer.alloc(9);
    alarmKey.writeBigUInt64BE(BigInt.asUintN(64, (f.get(1) as bigint | undefined) ?? 0n));
    alarmKey[8] = Number((f.get(2) as bigint | undefined) ?? 0n);
    pending.push(() => alarms.put(alarmKey, new Uint8Array(0)));
  }

  const current = Math.max(revision, compactRevision, 1);
  const metaTable = backend.table(TABLES.meta);
  pending.push(() => {
    metaTable.put(META.currentRevision, metaValue(current));
    if (compactRevision > 0) {
      metaTable.put(META.compactRevision, metaValue(compactRevision));
      metaTable.put(META.compactPhysical, metaValue(finished));
    }
  });
  await flush();
  await backend.sync();
  return { revision: current, compactRevision, keys, leases };
}

/**
 * The database bytes of a snapshot file, after etcdctl's checks, with errors that say what is
 * wrong with the file: not a snapshot at all, no hash (truncated, or copied from a data dir), or a
 * hash that does not match its contents.
 */
export function checkedSnapshotBytes(path: string, file: Buffer, skipHashCheck: boolean): Buffer {
  const magicAt = (page: number): boolean => {
    const offset = page * DEFAULT_PAGE_SIZE + PAGE_HEADER_SIZE;
    return file.length >= offset + META_SIZE && metaProblem(file, offset) !== "invalid database";
  };
  if (!magicAt(0) && !magicAt(1))
    throw new Error(`${path} is not an etcd or Kvorum snapshot (no bbolt database header)`);
  const hasHash = file.length % 512 === SHA256_BYTES;
  const db = hasHash ? file.subarray(0, file.length - SHA256_BYTES) : file;
  if (!hasHash && !skipHashCheck)
    throw new Error(
      `snapshot missing hash but --skip-hash-check=false: ${path} has no SHA-256 at its end; ` +
        `it is truncated, or a db file copied from a data dir (restore that with --skip-hash-check)`,
    );
  if (hasHash && !skipHashCheck) {
    const want = file.subarray(file.length - SHA256_BYTES);
    const got = createHash("sha256").update(db).digest();
    if (!got.equals(want))
      throw new Error(
        `${path} is damaged: its contents hash to sha256 ${got.toString("hex")}, but the file ` +
          `records ${want.toString("hex")}`,
      );
  }
  return db;
}
