// Small filesystem helpers for durable writes: fsync a directory after creating, renaming or
// removing files in it, and zero-filled file preallocation. All asynchronous except
// writeFullySync, which the WAL uses for small appends into an already preallocated segment (see
// SYNC_WRITE_LIMIT in wal.ts for why).

import fs from "node:fs";
import { open, type FileHandle } from "node:fs/promises";

/** fsync a directory so that entries created, renamed or removed in it survive a crash. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Write all of buf[start, end) at `position`, looping over short writes. */
export async function writeFully(
  fh: FileHandle,
  buf: Uint8Array,
  position: number,
  start = 0,
  end = buf.length,
): Promise<void> {
  while (start < end) {
    const { bytesWritten } = await fh.write(buf, start, end - start, position);
    if (bytesWritten <= 0) throw new Error(`short write at offset ${position}`);
    start += bytesWritten;
    position += bytesWritten;
  }
}

/**
 * Write all of buf[start, end) at `position` of the open file descriptor `fd` with synchronous
 * positional writes on the calling thread, looping over short writes. Throws what the write
 * throws. Through `fs.writeSync` (not a named import) so tests can inject errors and short writes.
 */
export function writeFullySync(
  fd: number,
  buf: Uint8Array,
  position: number,
  start = 0,
  end = buf.length,
): void {
  while (start < end) {
    const bytesWritten = fs.writeSync(fd, buf, start, end - start, position);
    if (bytesWritten <= 0) throw new Error(`short write at offset ${position}`);
    start += bytesWritten;
    position += bytesWritten;
  }
}

const ZERO_CHUNK = Buffer.alloc(1024 * 1024);

/**
 * Write `size` zero bytes to `fh` from offset 0 and fsync it. Real zero-filling (not a sparse
 * truncate) allocates the blocks now, so later appends cannot hit ENOSPC and fdatasync after an
 * append does not have to persist block allocation.
 */
export async function zeroFill(fh: FileHandle, size: number): Promise<void> {
  for (let pos = 0; pos < size; pos += ZERO_CHUNK.length) {
    await writeFully(fh, ZERO_CHUNK, pos, 0, Math.min(ZERO_CHUNK.length, size - pos));
  }
  await fh.sync();
}

/** Zero bytes [start, end) of an open file (used to wipe a torn tail) without syncing. */
export async function zeroRange(fh: FileHandle, start: number, end: number): Promise<void> {
  for (let pos = start; pos < end; pos += ZERO_CHUNK.length) {
    await writeFully(fh, ZERO_CHUNK, pos, 0, Math.min(ZERO_CHUNK.length, end - pos));
  }
}

export function hex16(n: number): string {
  return n.toString(16).padStart(16, "0");
}
