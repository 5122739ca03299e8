// Reading the WAL back: lists segment files, checks each segment's header and the record chain
// across segments, and decides whether damage at the end of the last segment is a torn write
// (repairable) or corruption (the member must not start). Shared by recovery and `check wal`.

import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { WalCorruptionError } from "./errors.js";
import { hex16 } from "./fs-util.js";
import { decodeRecordAt, RecordType, type SegmentHeader, type WalRecord } from "./wal-record.js";

/**
 * The writer never has more than this many unsynced bytes in flight (except a single record larger
 * than this, written alone), so a torn write cannot leave data further than this past its start.
 */
export const MAX_WRITE_BYTES = 1024 * 1024;
/** Disks persist whole sectors; a torn write leaves some sector-sized piece of a record unwritten. */
export const SECTOR_SIZE = 512;

const SEGMENT_RE = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/;

export interface SegmentFile {
  seq: number;
  firstIndex: number;
  name: string;
  path: string;
}

export function segmentFileName(seq: number, firstIndex: number): string {
  return `${hex16(seq)}-${hex16(firstIndex)}.wal`;
}

/** Segment files sorted by sequence number, and leftover temporary files. */
export async function listSegments(
  walDir: string,
): Promise<{ segments: SegmentFile[]; temporaries: string[] }> {
  const names = await readdir(walDir);
  const segments: SegmentFile[] = [];
  const temporaries: string[] = [];
  for (const name of names) {
    const m = SEGMENT_RE.exec(name);
    if (m) {
      segments.push({
        seq: parseInt(m[1]!, 16),
        firstIndex: parseInt(m[2]!, 16),
        name,
        path: join(walDir, name),
      });
    } else if (name.endsWith(".tmp")) {
      temporaries.push(join(walDir, name));
    }
  }
  segments.sort((a, b) => a.seq - b.seq);
  return { segments, temporaries };
}

export interface ScannedSegment {
  file: SegmentFile;
  header: SegmentHeader;
  records: number;
  /** Offset just past the last valid record. */
  dataEnd: number;
  fileSize: number;
  /** CRC of the last valid record: the seed for the next one. */
  lastCrc: number;
}

/** An unfinished write at the end of the last segment: bytes [offset, garbageEnd) are not valid. */
export interface TornTail {
  path: string;
  offset: number;
  garbageEnd: number;
  reason: string;
}

export interface WalScan {
  segments: ScannedSegment[];
  torn?: TornTail;
}

export interface RecordLocation {
  path: string;
  offset: number;
}

const ZERO_BLOCK = Buffer.alloc(64 * 1024);

/** Offset of the last nonzero byte in buf[start, end), or -1. */
function lastNonZero(buf: Buffer, start: number, end: number): number {
  let hi = end;
  while (hi > start) {
    const lo = Math.max(start, hi - ZERO_BLOCK.length);
    if (!buf.subarray(lo, hi).equals(ZERO_BLOCK.subarray(0, hi - lo))) {
      for (let i = hi - 1; i >= lo; i--) if (buf[i] !== 0) return i;
    }
    hi = lo;
  }
  return -1;
}

function firstNonZero(buf: Buffer, start: number, end: number): number {
  for (let lo = start; lo < end; lo += ZERO_BLOCK.length) {
    const hi = Math.min(end, lo + ZERO_BLOCK.length);
    if (!buf.subarray(lo, hi).equals(ZERO_BLOCK.subarray(0, hi - lo))) {
      for (let i = lo; i < hi; i++) if (buf[i] !== 0) return i;
    }
  }
  return -1;
}

/** Does some sector-aligned piece of [start, end) consist only of zero bytes? */
function hasUnwrittenSector(buf: Buffer, start: number, end: number): boolean {
  let s = start;
  while (s < end) {
    const next = Math.min(end, (Math.floor(s / SECTOR_SIZE) + 1) * SECTOR_SIZE);
    if (firstNonZero(buf, s, next) < 0) return true;
    s = next;
  }
  return false;
}

/**
 * Scan every segment in order, calling `onRecord` for each valid record (segment headers included).
 * Throws WalCorruptionError for anything but a torn final write, which is returned in `torn`.
 */
export async function scanWal(
  segments: readonly SegmentFile[],
  onRecord: (record: WalRecord, at: RecordLocation) => void,
): Promise<WalScan> {
  const scanned: ScannedSegment[] = [];
  let torn: TornTail | undefined;
  for (let i = 0; i < segments.length; i++) {
    const file = segments[i]!;
    const isLast = i === segments.length - 1;
    const prev = scanned[i - 1];
    if (prev && file.seq !== prev.file.seq + 1) {
      throw new WalCorruptionError(
        file.path,
        0,
        `segment sequence jumps from ${prev.file.seq} to ${file.seq}`,
      );
    }
    const buf = await readFile(file.path);
    const first = decodeRecordAt(buf, 0, buf.length, 0);
    if (first.kind !== "record" || first.record.type !== RecordType.SegmentHeader) {
      const why = first.kind === "bad" ? first.reason : first.kind === "end" ? "empty" : "not a header";
      throw new WalCorruptionError(file.path, 0, `bad segment header (${why})`);
    }
    const header = first.record.header;
    if (header.seq !== file.seq || header.firstIndex !== file.firstIndex) {
      throw new WalCorruptionError(file.path, 0, "segment header does not match the file name");
    }
    if (prev && header.prevCrc !== prev.lastCrc) {
      throw new WalCorruptionError(file.path, 0, "segment does not chain onto the previous segment");
    }
    onRecord(first.record, { path: file.path, offset: 0 });
    let off = first.size;
    let crc = first.crc;
    let records = 0;
    for (;;) {
      const res = decodeRecordAt(buf, off, buf.length, crc);
      if (res.kind === "record") {
        onRecord(res.record, { path: file.path, offset: off });
        records++;
        crc = res.crc;
        off += res.size;
        continue;
      }
      if (res.kind === "end") {
        const junk = firstNonZero(buf, off, buf.length);
        if (junk < 0) break;
        const lastJunk = lastNonZero(buf, off, buf.length);
        if (isLast && lastJunk < off + MAX_WRITE_BYTES) {
          torn = {
            path: file.path,
            offset: off,
            garbageEnd: lastJunk + 1,
            reason: "unwritten record header",
          };
          break;
        }
        throw new WalCorruptionError(file.path, junk, "unexpected data after the end of the log");
      }
      // A damaged record: torn only if it is at the end of the last segment, part of it was never
      // written, and nothing lies beyond what one unsynced write could have covered.
      const recEnd = Math.min(res.extent, buf.length);
      const missingPiece = res.extent > buf.length || hasUnwrittenSector(buf, off, recEnd);
      const windowEnd = Math.max(off + MAX_WRITE_BYTES, recEnd);
      const lastJunk = lastNonZero(buf, off, buf.length);
      if (isLast && missingPiece && lastNonZero(buf, windowEnd, buf.length) < 0) {
        torn = { path: file.path, offset: off, garbageEnd: lastJunk + 1, reason: res.reason };
        break;
      }
      throw new WalCorruptionError(file.path, off, res.reason);
    }
    scanned.push({ file, header, records, dataEnd: off, fileSize: buf.length, lastCrc: crc });
  }
  return torn ? { segments: scanned, torn } : { segments: scanned };
}
