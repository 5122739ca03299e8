// The consistency check of a member's backend behind `kvorumctl check data`: every row of the
// MVCC tables decodes, the tables agree with each other and with the meta counters, and leases
// that keys refer to exist. Read-only; works on any Backend (the CLI opens the LMDB one).
//
// Rules (the layout is in mvcc/schema.ts):
// - revisions: the key is rev(8)+sub(4); the row is a change record whose key length fits; a
//   DELETE carries no value; no revision is above the current revision.
// - history: each row decodes and names a revisions row of the same key and kind.
// - latest: each live key's row is the PUT its newest history row names (same value, create
//   revision, version, lease); a key whose newest change is a PUT has a latest row.
// - leases: a key's lease (latest and keysByLease) is in the lease table, and keysByLease lists
//   exactly the live keys that have a lease.
import type { Backend } from "../../mvcc/backend.js";
import { bytesEqual } from "../../mvcc/bytes.js";
import { decodeChange, decodeLatest } from "../../mvcc/codec.js";
import {
  ChangeKind,
  decodeHistoryRow,
  decodeRevisionKey,
  leaseKey,
  META,
  readMetaValue,
  revisionKey,
  TABLES,
  unescapeKey,
} from "../../mvcc/schema.js";
import { encodeLeaseKey } from "../../lease/lease-codec.js";
import { LEASE_TABLE } from "../../lease/index.js";

export interface DataCheckReport {
  currentRevision: number;
  compactRevision: number;
  appliedIndex: number;
  rows: { revisions: number; history: number; latest: number; keysByLease: number; leases: number };
  /** What is wrong, one line each (capped at MAX_PROBLEMS; `more` counts the rest). */
  problems: string[];
  more: number;
}

const MAX_PROBLEMS = 50;
const CHANGE_HEADER = 29;

const show = (b: Uint8Array): string => JSON.stringify(Buffer.from(b).toString("latin1"));

export function checkBackendData(backend: Backend): DataCheckReport {
  const meta = backend.table(TABLES.meta);
  const report: DataCheckReport = {
    currentRevision: readMetaValue(meta.get(META.currentRevision)),
    compactRevision: readMetaValue(meta.get(META.compactRevision)),
    appliedIndex: readMetaValue(meta.get(META.appliedIndex)),
    rows: { revisions: 0, history: 0, latest: 0, keysByLease: 0, leases: 0 },
    problems: [],
    more: 0,
  };
  const problem = (text: string): void => {
    if (report.problems.length < MAX_PROBLEMS) report.problems.push(text);
    else report.more++;
  };
  const leases = backend.table(LEASE_TABLE);
  for (const _ of leases.range(undefined, undefined)) report.rows.leases++;
  const leaseExists = (id: bigint): boolean => leases.get(encodeLeaseKey(id)) !== undefined;

  const revisions = backend.table(TABLES.revisions);
  for (const { key, value } of revisions.range(undefined, undefined)) {
    report.rows.revisions++;
    if (key.length !== 12) {
      problem(`revisions: a row key of ${key.length} bytes (expected 12)`);
      continue;
    }
    const { rev, sub } = decodeRevisionKey(key);
    const where = `revisions: revision ${rev}.${sub}`;
    if (rev > report.currentRevision)
      problem(`${where} is above the current revision ${report.currentRevision}`);
    if (value.length < CHANGE_HEADER) {
      problem(`${where}: a record of ${value.length} bytes does not decode`);
      continue;
    }
    const kind = value[0];
    const keyEnd = CHANGE_HEADER + new DataView(value.buffer, value.byteOffset + 25, 4).getUint32(0);
    if (kind !== ChangeKind.PUT && kind !== ChangeKind.DELETE)
      problem(`${where}: unknown change kind ${kind}`);
    else if (keyEnd > value.length) problem(`${where}: the key length runs past the record`);
    else if (kind === ChangeKind.DELETE && keyEnd !== value.length)
      problem(`${where}: a delete with a value`);
  }

  const history = backend.table(TABLES.history);
  // The newest history row of each key (rows of one key are contiguous, oldest first).
  const newest = new Map<string, { rev: number; sub: number; kind: ChangeKind }>();
  for (const { key, value } of history.range(undefined, undefined)) {
    report.rows.history++;
    if (key.length < 10 || value.length !== 5) {
      problem(`history: a row does not decode (key ${key.length} bytes, value ${value.length} bytes)`);
      continue;
    }
    const row = decodeHistoryRow(key, value);
    const userKey = unescapeKey(row.escapedKey).userKey;
    const where = `history: key ${show(userKey)} at revision ${row.rev}.${row.sub}`;
    newest.set(Buffer.from(userKey).toString("latin1"), { rev: row.rev, sub: row.sub, kind: row.kind });
    const rec = revisions.get(revisionKey(row.rev, row.sub));
    if (rec === undefined) {
      problem(`${where}: no revisions row`);
      continue;
    }
    if (rec.length < CHANGE_HEADER) continue; // reported above
    const change = decodeChange(row.rev, rec);
    if (!bytesEqual(change.kv.key, userKey))
      problem(`${where}: the revisions row is for key ${show(change.kv.key)}`);
    if (change.kind !== row.kind) problem(`${where}: the revisions row is a different kind of change`);
  }

  const latest = backend.table(TABLES.latest);
  const liveLeased = new Map<string, bigint>();
  for (const { key, value } of latest.range(undefined, undefined)) {
    report.rows.latest++;
    const where = `latest: key ${show(key)}`;
    if (value.length < 32) {
      problem(`${where}: a row of ${value.length} bytes does not decode`);
      continue;
    }
    const kv = decodeLatest(key, value);
    const last = newest.get(Buffer.from(key).toString("latin1"));
    if (last === undefined || last.rev !== kv.modRevision || last.kind !== ChangeKind.PUT) {
      problem(`${where}: modified at ${kv.modRevision}, but its newest history row does not match`);
    } else {
      const rec = revisions.get(revisionKey(last.rev, last.sub));
      if (rec !== undefined && rec.length >= CHANGE_HEADER) {
        const c = decodeChange(last.rev, rec).kv;
        if (!bytesEqual(c.value, kv.value))
          problem(`${where}: the value differs from revision ${last.rev}'s`);
        if (c.createRevision !== kv.createRevision || c.version !== kv.version || c.lease !== kv.lease) {
          problem(`${where}: create revision, version or lease differ from revision ${last.rev}'s`);
        }
      }
    }
    if (kv.lease !== 0n) {
      liveLeased.set(Buffer.from(key).toString("latin1"), kv.lease);
      if (!leaseExists(kv.lease)) problem(`${where}: lease ${kv.lease.toString(16)} does not exist`);
      const keysByLease = backend.table(TABLES.keysByLease);
      if (keysByLease.get(leaseKey(kv.lease, key)) === undefined) {
        problem(`${where}: not listed under its lease ${kv.lease.toString(16)}`);
      }
    }
  }
  for (const [k, last] of newest) {
    if (last.kind === ChangeKind.PUT && latest.get(Buffer.from(k, "latin1")) === undefined) {
      problem(`latest: key ${JSON.stringify(k)} was put at revision ${last.rev} but has no latest row`);
    }
  }

  for (const { key } of backend.table(TABLES.keysByLease).range(undefined, undefined)) {
    report.rows.keysByLease++;
    if (key.length < 8) {
      problem(`keysByLease: a row key of ${key.length} bytes does not decode`);
      continue;
    }
    const lease = new DataView(key.buffer, key.byteOffset, 8).getBigInt64(0);
    const userKey = key.subarray(8);
    if (!leaseExists(lease)) problem(`keysByLease: lease ${lease.toString(16)} does not exist`);
    if (liveLeased.get(Buffer.from(userKey).toString("latin1")) !== lease) {
      problem(`keysByLease: key ${show(userKey)} is not a live key of lease ${lease.toString(16)}`);
    }
  }
  return report;
}
