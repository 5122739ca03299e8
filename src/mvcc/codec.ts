// Binary encodings of the rows holding key-value data: the live KeyValue in `latest` and the
// change record in `revisions`. Fixed-width big-endian header fields, then key and value bytes.
// Decoded fields are views into the row, which the backend handed out fresh (see Backend).

import { alloc, readBigI64, readU32, readU64, writeBigU64, writeU32, writeU64 } from "./bytes.js";
import { ChangeKind } from "./schema.js";
import type { KeyValue } from "./types.js";

// latest row: createRevision(8) modRevision(8) version(8) lease(8) value
const LATEST_HEADER = 32;
const EMPTY = new Uint8Array(0);

export function encodeLatest(kv: KeyValue): Uint8Array {
  const out = alloc(LATEST_HEADER + kv.value.length);
  writeU64(out, 0, kv.createRevision);
  writeU64(out, 8, kv.modRevision);
  writeU64(out, 16, kv.version);
  writeBigU64(out, 24, kv.lease);
  out.set(kv.value, LATEST_HEADER);
  return out;
}

export function decodeLatest(key: Uint8Array, row: Uint8Array, keysOnly = false): KeyValue {
  return {
    key,
    createRevision: readU64(row, 0),
    modRevision: readU64(row, 8),
    version: readU64(row, 16),
    lease: readBigI64(row, 24),
    value: keysOnly ? EMPTY : row.subarray(LATEST_HEADER),
  };
}

/** Reads only the modRevision of a latest row (cheap existence/compare checks). */
export function latestModRevision(row: Uint8Array): number {
  return readU64(row, 8);
}

// revisions row: kind(1) createRevision(8) version(8) lease(8) keyLength(4) key value
// (modRevision is the row's revision; a DELETE stores zeros and an empty value)
const CHANGE_HEADER = 29;

export interface ChangeRecord {
  kind: ChangeKind;
  /** For DELETE: key and modRevision set, other fields zero. */
  kv: KeyValue;
}

export function encodeChange(kind: ChangeKind, kv: KeyValue): Uint8Array {
  const value = kind === ChangeKind.PUT ? kv.value : EMPTY;
  const out = alloc(CHANGE_HEADER + kv.key.length + value.length);
  out[0] = kind;
  const put = kind === ChangeKind.PUT;
  writeU64(out, 1, put ? kv.createRevision : 0);
  writeU64(out, 9, put ? kv.version : 0);
  writeBigU64(out, 17, put ? kv.lease : 0n);
  writeU32(out, 25, kv.key.length);
  out.set(kv.key, CHANGE_HEADER);
  out.set(value, CHANGE_HEADER + kv.key.length);
  return out;
}

export function decodeChange(rev: number, row: Uint8Array, keysOnly = false): ChangeRecord {
  const keyLength = readU32(row, 25);
  const keyEnd = CHANGE_HEADER + keyLength;
  return {
    kind: row[0] as ChangeKind,
    kv: {
      key: row.subarray(CHANGE_HEADER, keyEnd),
      createRevision: readU64(row, 1),
      modRevision: rev,
      version: readU64(row, 9),
      lease: readBigI64(row, 17),
      value: keysOnly ? EMPTY : row.subarray(keyEnd),
    },
  };
}
