// The WAL record format: a 12-byte header (CRC-32C, payload length, type, 3 reserved zero bytes)
// followed by the payload. A record's CRC covers header bytes 4..12 and the payload and is seeded
// with the previous record's CRC, so records chain: a stale record left over from an older segment
// or an earlier write cannot validate in a new position. See docs/adr/0003-wal-format.md.

import { crc32c } from "../common/crc32c.js";
import type { ConfState, Entry, EntryType, HardState } from "../raft/types.js";

export const RECORD_HEADER_SIZE = 12;
/** Largest payload a record may declare; anything larger is treated as a damaged length field. */
export const MAX_RECORD_PAYLOAD = 256 * 1024 * 1024;
export const SEGMENT_MAGIC = 0x4b56574c; // "KVWL"
export const WAL_VERSION = 1;
/** magic, version, seq, prevCrc, firstIndex, prevTerm. */
const SEGMENT_HEADER_FIXED = 4 + 4 + 8 + 4 + 8 + 8;

export enum RecordType {
  SegmentHeader = 1,
  Entry = 2,
  HardState = 3,
  SnapshotMarker = 4,
}

/** First record of every segment. `prevCrc` seeds this record's CRC and links to the last segment. */
export interface SegmentHeader {
  seq: number;
  prevCrc: number;
  /** Last entry index at creation + 1: every live entry of earlier segments is below this. */
  firstIndex: number;
  /** Term of the entry at firstIndex - 1 (0 if none): lets replay start from this segment. */
  prevTerm: number;
  /** Membership the member was bootstrapped with (used when no snapshot exists). */
  bootstrap: ConfState;
}

/** A log position: an entry's index and term. */
export interface LogPosition {
  index: number;
  term: number;
}

/** A snapshot file exists for this position. */
export interface SnapshotMarker extends LogPosition {
  /**
   * True when the snapshot came from the leader and replaced the log (replay resets the log);
   * false for the member's own snapshots and for the copy at the start of each segment.
   */
  resetsLog: boolean;
}

export type WalRecord =
  | { type: RecordType.SegmentHeader; header: SegmentHeader }
  | { type: RecordType.Entry; entry: Entry }
  | { type: RecordType.HardState; hardState: HardState }
  | { type: RecordType.SnapshotMarker; marker: SnapshotMarker };

const TWO32 = 0x1_0000_0000;
const utf8d = new TextDecoder("utf-8", { fatal: true });

function putU64(buf: Buffer, off: number, v: number): void {
  buf.writeUInt32LE((v % TWO32) >>> 0, off);
  buf.writeUInt32LE(Math.floor(v / TWO32), off + 4);
}

function getU64(buf: Buffer, off: number): number {
  const v = buf.readUInt32LE(off) + buf.readUInt32LE(off + 4) * TWO32;
  if (!Number.isSafeInteger(v)) throw new RangeError("u64 beyond 2^53");
  return v;
}

function stringsSize(list: readonly string[]): number {
  let n = 4;
  for (const s of list) n += 4 + Buffer.byteLength(s, "utf8");
  return n;
}

function putStrings(buf: Buffer, off: number, list: readonly string[]): number {
  buf.writeUInt32LE(list.length, off);
  off += 4;
  for (const s of list) {
    const n = buf.write(s, off + 4, "utf8");
    buf.writeUInt32LE(n, off);
    off += 4 + n;
  }
  return off;
}

/** Reads bounded fields from a payload; throws RangeError on any overrun. */
class PayloadReader {
  off: number;
  constructor(
    readonly buf: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.off = start;
  }
  need(n: number): void {
    if (this.off + n > this.end) throw new RangeError("payload too short");
  }
  u8(): number {
    this.need(1);
    return this.buf[this.off++]!;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.off);
    this.off += 4;
    return v;
  }
  u64(): number {
    this.need(8);
    const v = getU64(this.buf, this.off);
    this.off += 8;
    return v;
  }
  str(): string {
    const n = this.u32();
    this.need(n);
    const s = utf8d.decode(this.buf.subarray(this.off, this.off + n));
    this.off += n;
    return s;
  }
  strings(): string[] {
    const count = this.u32();
    if (count > this.end - this.off) throw new RangeError("string list too long");
    const out: string[] = [];
    for (let i = 0; i < count; i++) out.push(this.str());
    return out;
  }
  done(): void {
    if (this.off !== this.end) throw new RangeError("trailing bytes in payload");
  }
}

export function payloadSize(rec: WalRecord): number {
  switch (rec.type) {
    case RecordType.SegmentHeader:
      return (
        SEGMENT_HEADER_FIXED +
        stringsSize(rec.header.bootstrap.voters) +
        stringsSize(rec.header.bootstrap.learners)
      );
    case RecordType.Entry:
      return 17 + rec.entry.data.length;
    case RecordType.HardState:
      return 16 + 4 + Buffer.byteLength(rec.hardState.vote, "utf8");
    case RecordType.SnapshotMarker:
      return 17;
  }
}

export function recordSize(rec: WalRecord): number {
  return RECORD_HEADER_SIZE + payloadSize(rec);
}

function writePayload(buf: Buffer, off: number, rec: WalRecord): void {
  switch (rec.type) {
    case RecordType.SegmentHeader: {
      const h = rec.header;
      buf.writeUInt32LE(SEGMENT_MAGIC, off);
      buf.writeUInt32LE(WAL_VERSION, off + 4);
      putU64(buf, off + 8, h.seq);
      buf.writeUInt32LE(h.prevCrc >>> 0, off + 16);
      putU64(buf, off + 20, h.firstIndex);
      putU64(buf, off + 28, h.prevTerm);
      putStrings(buf, putStrings(buf, off + 36, h.bootstrap.voters), h.bootstrap.learners);
      return;
    }
    case RecordType.Entry: {
      const e = rec.entry;
      putU64(buf, off, e.term);
      putU64(buf, off + 8, e.index);
      buf[off + 16] = e.type;
      buf.set(e.data, off + 17);
      return;
    }
    case RecordType.HardState: {
      const hs = rec.hardState;
      putU64(buf, off, hs.term);
      putU64(buf, off + 8, hs.commit);
      const n = buf.write(hs.vote, off + 20, "utf8");
      buf.writeUInt32LE(n, off + 16);
      return;
    }
    case RecordType.SnapshotMarker:
      putU64(buf, off, rec.marker.index);
      putU64(buf, off + 8, rec.marker.term);
      buf[off + 16] = rec.marker.resetsLog ? 1 : 0;
      return;
  }
}

/**
 * Encode `rec` into `buf` at `off` (which must have recordSize(rec) bytes free), chained onto
 * `prevCrc`. Returns the record's CRC, the seed for the next record.
 */
export function writeRecord(buf: Buffer, off: number, rec: WalRecord, prevCrc: number): number {
  const len = payloadSize(rec);
  buf.writeUInt32LE(len, off + 4);
  buf[off + 8] = rec.type;
  buf[off + 9] = 0;
  buf[off + 10] = 0;
  buf[off + 11] = 0;
  writePayload(buf, off + RECORD_HEADER_SIZE, rec);
  const crc = crc32c(buf, prevCrc, off + 4, off + RECORD_HEADER_SIZE + len);
  buf.writeUInt32LE(crc, off);
  return crc;
}

/** Encode a list of records into one buffer. */
export function encodeRecords(
  records: readonly WalRecord[],
  prevCrc: number,
): { bytes: Buffer; crc: number } {
  let total = 0;
  for (const r of records) total += recordSize(r);
  const bytes = Buffer.allocUnsafe(total);
  let off = 0;
  let crc = prevCrc;
  for (const r of records) {
    crc = writeRecord(bytes, off, r, crc);
    off += recordSize(r);
  }
  return { bytes, crc };
}

const SLAB_SIZE = 256 * 1024;
let slab = new ArrayBuffer(SLAB_SIZE);
let slabOffset = 0;

/**
 * Entry data out of a segment buffer. Small copies are carved from shared 256 KiB slabs
 * (allocating one ArrayBuffer per entry dominated replay time); large payloads are views.
 */
function copyData(buf: Buffer, start: number, end: number): Uint8Array {
  const n = end - start;
  // Large payloads are views of the segment's buffer (read whole, once, and never written):
  // copying them cost a sixth of a restart with a million keys in the WAL.
  if (n > 4096) return new Uint8Array(buf.buffer, buf.byteOffset + start, n);
  if (slabOffset + n > SLAB_SIZE) {
    slab = new ArrayBuffer(SLAB_SIZE);
    slabOffset = 0;
  }
  const out = new Uint8Array(slab, slabOffset, n);
  slabOffset += (n + 7) & ~7;
  buf.copy(out, 0, start, end);
  return out;
}

function decodePayload(type: number, buf: Buffer, start: number, end: number): WalRecord {
  if (type === RecordType.Entry) {
    if (end - start < 17) throw new RangeError("payload too short");
    const term = getU64(buf, start);
    const index = getU64(buf, start + 8);
    const entryType = buf[start + 16]! as EntryType;
    return { type, entry: { term, index, type: entryType, data: copyData(buf, start + 17, end) } };
  }
  const r = new PayloadReader(buf, start, end);
  switch (type) {
    case RecordType.SegmentHeader: {
      if (r.u32() !== SEGMENT_MAGIC) throw new RangeError("bad segment magic");
      const version = r.u32();
      if (version !== WAL_VERSION) throw new RangeError(`unsupported wal version ${version}`);
      const seq = r.u64();
      const prevCrc = r.u32();
      const firstIndex = r.u64();
      const prevTerm = r.u64();
      const voters = r.strings();
      const learners = r.strings();
      r.done();
      return { type, header: { seq, prevCrc, firstIndex, prevTerm, bootstrap: { voters, learners } } };
    }
    case RecordType.HardState: {
      const term = r.u64();
      const commit = r.u64();
      const vote = r.str();
      r.done();
      return { type, hardState: { term, vote, commit } };
    }
    case RecordType.SnapshotMarker: {
      const index = r.u64();
      const term = r.u64();
      const flags = r.u8();
      if (flags > 1) throw new RangeError(`bad marker flags ${flags}`);
      r.done();
      return { type, marker: { index, term, resetsLog: flags === 1 } };
    }
    default:
      throw new RangeError(`unknown record type ${type}`);
  }
}

export type DecodeResult =
  | { kind: "record"; record: WalRecord; crc: number; size: number }
  /** A zero header (or fewer than a header's bytes left, all zero): the end of written data. */
  | { kind: "end" }
  /** Not a valid record here. `extent` is how far the damaged record claims to reach. */
  | { kind: "bad"; reason: string; extent: number };

function allZero(buf: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (buf[i] !== 0) return false;
  return true;
}

/**
 * Decode the record at `off` of `buf[0, limit)`, expecting it to chain onto `prevCrc`.
 * A segment header record is checked with the prevCrc stored in its own payload (the caller checks
 * that value against the previous segment).
 */
export function decodeRecordAt(buf: Buffer, off: number, limit: number, prevCrc: number): DecodeResult {
  const left = limit - off;
  if (left < RECORD_HEADER_SIZE) {
    return allZero(buf, off, limit)
      ? { kind: "end" }
      : { kind: "bad", reason: "truncated record header", extent: limit };
  }
  if (allZero(buf, off, off + RECORD_HEADER_SIZE)) return { kind: "end" };
  const stored = buf.readUInt32LE(off);
  const len = buf.readUInt32LE(off + 4);
  const type = buf[off + 8]!;
  if (len > MAX_RECORD_PAYLOAD) {
    return { kind: "bad", reason: `implausible record length ${len}`, extent: off + RECORD_HEADER_SIZE };
  }
  const end = off + RECORD_HEADER_SIZE + len;
  if (end > limit) return { kind: "bad", reason: "record runs past the end of the file", extent: end };
  if (buf[off + 9] !== 0 || buf[off + 10] !== 0 || buf[off + 11] !== 0) {
    return { kind: "bad", reason: "nonzero reserved header bytes", extent: end };
  }
  let seed = prevCrc;
  if (type === RecordType.SegmentHeader && len >= 20) seed = buf.readUInt32LE(off + RECORD_HEADER_SIZE + 16);
  const crc = crc32c(buf, seed, off + 4, end);
  if (crc !== stored) return { kind: "bad", reason: "checksum mismatch", extent: end };
  try {
    const record = decodePayload(type, buf, off + RECORD_HEADER_SIZE, end);
    return { kind: "record", record, crc, size: end - off };
  } catch (err) {
    return { kind: "bad", reason: `undecodable payload: ${(err as Error).message}`, extent: end };
  }
}
