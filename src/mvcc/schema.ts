// The on-disk layout of the MVCC store: table names and how their keys are built.
//
//   latest    userKey                          -> live KeyValue (absent once deleted)
//   history   escape(userKey) ++ rev(8)        -> sub(4) ++ kind(1)     (per-key revision index)
//   revisions rev(8) ++ sub(4)                 -> event record           (by-revision change log)
//   keysByLease leaseId(8) ++ userKey          -> empty                  (lease -> attached keys)
//   meta      name                             -> u64                    (revision, compaction, applied index)
//
// `escape` keeps (userKey, rev) pairs in (userKey, rev) order although user keys have any
// length: every 0x00 byte becomes 0x00 0xFF and the key ends with 0x00 0x01, so a key sorts
// before every longer key it prefixes, and all revisions of one key are contiguous.

import { alloc, concatBytes, readU32, readU64, u64Bytes, writeBigU64, writeU32, writeU64 } from "./bytes.js";
import type { LeaseId } from "./types.js";

export const TABLES = {
  latest: "latest",
  history: "history",
  revisions: "revisions",
  keysByLease: "keysByLease",
  meta: "meta",
} as const;

export const META = {
  currentRevision: new TextEncoder().encode("currentRevision"),
  compactRevision: new TextEncoder().encode("compactRevision"),
  appliedIndex: new TextEncoder().encode("appliedIndex"),
  /** How far physical compaction has gone (< compactRevision while a compaction is pending). */
  compactPhysical: new TextEncoder().encode("compactPhysical"),
  /** Where the pending physical compaction continues (a revisions-table key). */
  compactCursor: new TextEncoder().encode("compactCursor"),
} as const;

export enum ChangeKind {
  PUT = 0,
  DELETE = 1,
}

/** escape(userKey): order-preserving, self-delimiting. */
export function escapeKey(userKey: Uint8Array): Uint8Array {
  let zeros = 0;
  for (const b of userKey) if (b === 0) zeros++;
  const out = alloc(userKey.length + zeros + 2);
  let o = 0;
  for (const b of userKey) {
    out[o++] = b;
    if (b === 0) out[o++] = 0xff;
  }
  out[o++] = 0;
  out[o] = 1;
  return out;
}

/** The inverse of escapeKey for an escaped key at the start of buf; returns key and length used. */
export function unescapeKey(buf: Uint8Array): { userKey: Uint8Array; length: number } {
  const bytes: number[] = [];
  let i = 0;
  for (;;) {
    const b = buf[i]!;
    if (b === 0) {
      if (buf[i + 1] === 1) return { userKey: Uint8Array.from(bytes), length: i + 2 };
      bytes.push(0);
      i += 2;
    } else {
      bytes.push(b);
      i++;
    }
  }
}

export function historyKey(escapedKey: Uint8Array, rev: number): Uint8Array {
  const out = alloc(escapedKey.length + 8);
  out.set(escapedKey, 0);
  writeU64(out, escapedKey.length, rev);
  return out;
}

export function historyValue(sub: number, kind: ChangeKind): Uint8Array {
  const out = alloc(5);
  writeU32(out, 0, sub);
  out[4] = kind;
  return out;
}

export interface HistoryRow {
  /** The escaped user key (compare these to group rows by key without unescaping). */
  escapedKey: Uint8Array;
  rev: number;
  sub: number;
  kind: ChangeKind;
}

export function decodeHistoryRow(key: Uint8Array, value: Uint8Array): HistoryRow {
  const n = key.length - 8;
  return {
    escapedKey: key.subarray(0, n),
    rev: readU64(key, n),
    sub: readU32(value, 0),
    kind: value[4] as ChangeKind,
  };
}

export function revisionKey(rev: number, sub: number): Uint8Array {
  const out = alloc(12);
  writeU64(out, 0, rev);
  writeU32(out, 8, sub);
  return out;
}

export function decodeRevisionKey(key: Uint8Array): { rev: number; sub: number } {
  return { rev: readU64(key, 0), sub: readU32(key, 8) };
}

/** The first revisions-table key of revision rev. */
export function revisionStart(rev: number): Uint8Array {
  return revisionKey(rev, 0);
}

export function leaseKey(lease: LeaseId, userKey: Uint8Array): Uint8Array {
  const out = alloc(8 + userKey.length);
  writeBigU64(out, 0, lease);
  out.set(userKey, 8);
  return out;
}

export function metaValue(n: number): Uint8Array {
  return u64Bytes(n);
}

export function readMetaValue(v: Uint8Array | undefined): number {
  return v === undefined ? 0 : readU64(v, 0);
}

export { concatBytes };
