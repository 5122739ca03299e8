// Byte helpers shared by the MVCC store and its backends: bytewise comparison, fixed-width
// big-endian integers (so numeric order equals byte order), and concatenation.

/** Bytewise (memcmp) order: negative if a < b, 0 if equal, positive if a > b. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

const TWO_POW_32 = 0x1_0000_0000;

/** Writes a non-negative integer below 2^53 as 8 big-endian bytes at offset. */
export function writeU64(buf: Uint8Array, offset: number, n: number): void {
  const hi = Math.floor(n / TWO_POW_32);
  const lo = n >>> 0;
  buf[offset] = hi >>> 24;
  buf[offset + 1] = (hi >>> 16) & 0xff;
  buf[offset + 2] = (hi >>> 8) & 0xff;
  buf[offset + 3] = hi & 0xff;
  buf[offset + 4] = lo >>> 24;
  buf[offset + 5] = (lo >>> 16) & 0xff;
  buf[offset + 6] = (lo >>> 8) & 0xff;
  buf[offset + 7] = lo & 0xff;
}

export function readU64(buf: Uint8Array, offset: number): number {
  const hi =
    ((buf[offset]! << 24) | (buf[offset + 1]! << 16) | (buf[offset + 2]! << 8) | buf[offset + 3]!) >>> 0;
  const lo =
    ((buf[offset + 4]! << 24) | (buf[offset + 5]! << 16) | (buf[offset + 6]! << 8) | buf[offset + 7]!) >>> 0;
  return hi * TWO_POW_32 + lo;
}

export function writeU32(buf: Uint8Array, offset: number, n: number): void {
  buf[offset] = n >>> 24;
  buf[offset + 1] = (n >>> 16) & 0xff;
  buf[offset + 2] = (n >>> 8) & 0xff;
  buf[offset + 3] = n & 0xff;
}

export function readU32(buf: Uint8Array, offset: number): number {
  return ((buf[offset]! << 24) | (buf[offset + 1]! << 16) | (buf[offset + 2]! << 8) | buf[offset + 3]!) >>> 0;
}

/** Writes a 64-bit unsigned bigint (lease IDs) as 8 big-endian bytes. */
export function writeBigU64(buf: Uint8Array, offset: number, n: bigint): void {
  const v = BigInt.asUintN(64, n);
  writeU32(buf, offset, Number(v >> 32n));
  writeU32(buf, offset + 4, Number(v & 0xffff_ffffn));
}

/** Reads 8 big-endian bytes as a signed 64-bit bigint (etcd lease IDs are int64). */
export function readBigI64(buf: Uint8Array, offset: number): bigint {
  const v = (BigInt(readU32(buf, offset)) << 32n) | BigInt(readU32(buf, offset + 4));
  return BigInt.asIntN(64, v);
}

export function u64Bytes(n: number): Uint8Array {
  const b = alloc(8);
  writeU64(b, 0, n);
  return b;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = alloc(len);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** A private copy (callers may reuse the buffers they pass in). */
export function copyBytes(b: Uint8Array): Uint8Array {
  return new Uint8Array(b);
}

/**
 * Uninitialized bytes for encodings that overwrite every byte. Node Buffers: LMDB takes them
 * without conversion and small ones come from Node's pool.
 */
export function alloc(n: number): Uint8Array {
  return Buffer.allocUnsafe(n);
}
