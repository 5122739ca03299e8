// The on-disk structures of a bbolt database file (the format etcd's backend uses), as bbolt lays
// them out on little-endian machines: every page starts with a 16-byte header, page 0 and 1 hold
// the two meta records, one page holds the freelist, and the rest are B+tree pages of buckets.
//
//   page header   id u64 | flags u16 | count u16 | overflow u32         (16 bytes)
//   branch elem   pos u32 | ksize u32 | child pgid u64                   (16 bytes each)
//   leaf elem     flags u32 | pos u32 | ksize u32 | vsize u32            (16 bytes each)
//   meta          magic u32 | version u32 | pageSize u32 | flags u32 | root bucket (root u64,
//                 sequence u64) | freelist u64 | high-water pgid u64 | txid u64 | checksum u64
//   bucket value  root pgid u64 | sequence u64, then (root 0 = inline) a leaf page image
//
// An element's pos counts from the start of that element to its key; key and value follow each
// other. A page whose content does not fit spans 1 + overflow consecutive pages. The meta checksum
// is FNV-1a 64 over the meta bytes before the checksum field. All integers are little-endian.

export const PAGE_HEADER_SIZE = 16;
export const ELEMENT_SIZE = 16; // both branch and leaf elements
export const BUCKET_HEADER_SIZE = 16;
export const META_SIZE = 64;
const META_CHECKSUM_OFFSET = 56;

export const PageFlag = {
  branch: 0x01,
  leaf: 0x02,
  meta: 0x04,
  freelist: 0x10,
} as const;

/** A leaf element whose value is a bucket header (a nested bucket). */
export const BUCKET_LEAF_FLAG = 0x01;

export const MAGIC = 0xed0cdaed;
export const VERSION = 2;
export const DEFAULT_PAGE_SIZE = 4096;
/** The freelist pgid recorded when a database does not store its freelist. */
export const NO_FREELIST = 0xffffffffffffffffn;

export interface PageHeader {
  id: number;
  flags: number;
  count: number;
  overflow: number;
}

export function writePageHeader(buf: Buffer, offset: number, h: PageHeader): void {
  buf.writeBigUInt64LE(BigInt(h.id), offset);
  buf.writeUInt16LE(h.flags, offset + 8);
  buf.writeUInt16LE(h.count, offset + 10);
  buf.writeUInt32LE(h.overflow, offset + 12);
}

export function readPageHeader(buf: Buffer, offset: number): PageHeader {
  return {
    id: toSafe(buf.readBigUInt64LE(offset), "page id"),
    flags: buf.readUInt16LE(offset + 8),
    count: buf.readUInt16LE(offset + 10),
    overflow: buf.readUInt32LE(offset + 12),
  };
}

export interface Meta {
  magic: number;
  version: number;
  pageSize: number;
  flags: number;
  root: number;
  sequence: bigint;
  freelist: bigint;
  pgid: number;
  txid: bigint;
  checksum: bigint;
}

/** Writes meta (with a freshly computed checksum) at offset; returns the checksum. */
export function writeMeta(buf: Buffer, offset: number, m: Omit<Meta, "checksum">): bigint {
  buf.writeUInt32LE(m.magic, offset);
  buf.writeUInt32LE(m.version, offset + 4);
  buf.writeUInt32LE(m.pageSize, offset + 8);
  buf.writeUInt32LE(m.flags, offset + 12);
  buf.writeBigUInt64LE(BigInt(m.root), offset + 16);
  buf.writeBigUInt64LE(m.sequence, offset + 24);
  buf.writeBigUInt64LE(m.freelist, offset + 32);
  buf.writeBigUInt64LE(BigInt(m.pgid), offset + 40);
  buf.writeBigUInt64LE(m.txid, offset + 48);
  const sum = fnv64a(buf.subarray(offset, offset + META_CHECKSUM_OFFSET));
  buf.writeBigUInt64LE(sum, offset + META_CHECKSUM_OFFSET);
  return sum;
}

export function readMeta(buf: Buffer, offset: number): Meta {
  return {
    magic: buf.readUInt32LE(offset),
    version: buf.readUInt32LE(offset + 4),
    pageSize: buf.readUInt32LE(offset + 8),
    flags: buf.readUInt32LE(offset + 12),
    root: toSafe(buf.readBigUInt64LE(offset + 16), "root pgid"),
    sequence: buf.readBigUInt64LE(offset + 24),
    freelist: buf.readBigUInt64LE(offset + 32),
    pgid: toSafe(buf.readBigUInt64LE(offset + 40), "high-water pgid"),
    txid: buf.readBigUInt64LE(offset + 48),
    checksum: buf.readBigUInt64LE(offset + META_CHECKSUM_OFFSET),
  };
}

/** Whether the meta at offset has bbolt's magic, version and a matching checksum. */
export function metaProblem(buf: Buffer, offset: number): string | undefined {
  const magic = buf.readUInt32LE(offset);
  if (magic !== MAGIC) return "invalid database";
  if (buf.readUInt32LE(offset + 4) !== VERSION) return "version mismatch";
  const stored = buf.readBigUInt64LE(offset + META_CHECKSUM_OFFSET);
  const sum = fnv64a(buf.subarray(offset, offset + META_CHECKSUM_OFFSET));
  if (stored !== 0n && stored !== sum) return "checksum error";
  return undefined;
}

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK64 = 0xffffffffffffffffn;

/** FNV-1a, 64 bits. */
export function fnv64a(data: Uint8Array): bigint {
  let h = FNV_OFFSET;
  for (const b of data) {
    h ^= BigInt(b);
    h = (h * FNV_PRIME) & MASK64;
  }
  return h;
}

function toSafe(n: bigint, what: string): number {
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`bbolt: ${what} ${n} out of range`);
  return Number(n);
}

/** Bytes a leaf page (or inline bucket) with these elements occupies. */
export function leafSize(entries: readonly { key: Uint8Array; value: Uint8Array }[]): number {
  let size = PAGE_HEADER_SIZE;
  for (const e of entries) size += ELEMENT_SIZE + e.key.length + e.value.length;
  return size;
}
