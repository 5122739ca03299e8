// Snapshot files in <data-dir>/member/snap: one file per snapshot, named <term>-<index>.snap (hex),
// checksummed with CRC-32C, written atomically (temporary file, fsync, rename, fsync directory).
// The WAL's snapshot marker records which snapshot files are valid to recover from.

import { observe, timed } from "../common/etcd-counts.js";
import { open, readdir, readFile, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { crc32c } from "../common/crc32c.js";
import { SnapshotCorruptionError } from "./errors.js";
import { fsyncDir, hex16, writeFully } from "./fs-util.js";
import type { Snapshot } from "../raft/types.js";

const SNAP_MAGIC = 0x4b56534e; // "KVSN"
const SNAP_VERSION = 1;
const HEADER = 16;
const SNAP_RE = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/;
const TWO32 = 0x1_0000_0000;

export interface SnapshotFile {
  index: number;
  term: number;
  name: string;
  path: string;
}

export function snapshotFileName(term: number, index: number): string {
  return `${hex16(term)}-${hex16(index)}.snap`;
}

/** Snapshot files in `dir`, newest (highest index) first. */
export async function listSnapshots(dir: string): Promise<SnapshotFile[]> {
  const out: SnapshotFile[] = [];
  for (const name of await readdir(dir)) {
    const m = SNAP_RE.exec(name);
    if (m) out.push({ term: parseInt(m[1]!, 16), index: parseInt(m[2]!, 16), name, path: join(dir, name) });
  }
  return out.sort((a, b) => b.index - a.index || b.term - a.term);
}

function encodeStrings(list: readonly string[]): Buffer[] {
  const parts: Buffer[] = [u32(list.length)];
  for (const s of list) {
    const b = Buffer.from(s, "utf8");
    parts.push(u32(b.length), b);
  }
  return parts;
}

function u32(v: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32LE(v >>> 0);
  return b;
}

function u64(v: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeUInt32LE((v % TWO32) >>> 0, 0);
  b.writeUInt32LE(Math.floor(v / TWO32), 4);
  return b;
}

export function encodeSnapshot(snap: Snapshot): Buffer {
  const { index, term, confState } = snap.metadata;
  const payload = Buffer.concat([
    u64(index),
    u64(term),
    ...encodeStrings(confState.voters),
    ...encodeStrings(confState.learners),
    u64(snap.data.length),
    snap.data,
  ]);
  const header = Buffer.alloc(HEADER);
  header.writeUInt32LE(SNAP_MAGIC, 0);
  header.writeUInt32LE(SNAP_VERSION, 4);
  header.writeUInt32LE(crc32c(payload), 8);
  return Buffer.concat([header, payload]);
}

export function decodeSnapshot(buf: Buffer, file: string): Snapshot {
  const fail = (reason: string): never => {
    throw new SnapshotCorruptionError(file, reason);
  };
  if (buf.length < HEADER) fail("file too short");
  if (buf.readUInt32LE(0) !== SNAP_MAGIC) fail("bad magic");
  if (buf.readUInt32LE(4) !== SNAP_VERSION) fail(`unsupported version ${buf.readUInt32LE(4)}`);
  if (buf.readUInt32LE(12) !== 0) fail("nonzero reserved header bytes");
  if (crc32c(buf, 0, HEADER) !== buf.readUInt32LE(8)) fail("checksum mismatch");
  let off = HEADER;
  const need = (n: number): void => {
    if (off + n > buf.length) fail("truncated payload");
  };
  const rd64 = (): number => {
    need(8);
    const v = buf.readUInt32LE(off) + buf.readUInt32LE(off + 4) * TWO32;
    off += 8;
    return v;
  };
  const rd32 = (): number => {
    need(4);
    const v = buf.readUInt32LE(off);
    off += 4;
    return v;
  };
  const strings = (): string[] => {
    const n = rd32();
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const len = rd32();
      need(len);
      out.push(buf.toString("utf8", off, off + len));
      off += len;
    }
    return out;
  };
  const index = rd64();
  const term = rd64();
  const voters = strings();
  const learners = strings();
  const len = rd64();
  need(len);
  if (off + len !== buf.length) fail("trailing bytes");
  const data = new Uint8Array(buf.subarray(off, off + len));
  return { metadata: { index, term, confState: { voters, learners } }, data };
}

/** Write a snapshot file durably and atomically. Returns its path. */
export async function writeSnapshotFile(dir: string, snap: Snapshot): Promise<string> {
  const name = snapshotFileName(snap.metadata.term, snap.metadata.index);
  const path = join(dir, name);
  const tmp = `${path}.tmp`;
  const started = performance.now();
  const fh = await open(tmp, "w");
  try {
    const bytes = await timed(observe.snapMarshalSeconds, () => encodeSnapshot(snap));
    await writeFully(fh, bytes, 0);
    await timed(observe.snapFsyncSeconds, () => fh.sync());
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  await fsyncDir(dir);
  observe.snapSaveSeconds((performance.now() - started) / 1000);
  return path;
}

/** Read and verify one snapshot file; its name must agree with its content. */
export async function readSnapshotFile(file: SnapshotFile): Promise<Snapshot> {
  const snap = decodeSnapshot(await readFile(file.path), file.path);
  if (snap.metadata.index !== file.index || snap.metadata.term !== file.term) {
    throw new SnapshotCorruptionError(file.path, "content does not match the file name");
  }
  return snap;
}

/**
 * Keep the `keep` newest snapshot files and any file at or above `protectIndex` (the one recovery
 * would use); delete the rest.
 */
export async function pruneSnapshots(dir: string, keep: number, protectIndex: number): Promise<number> {
  const files = await listSnapshots(dir);
  let removed = 0;
  for (const [i, f] of files.entries()) {
    if (i < keep || f.index >= protectIndex) continue;
    await unlink(f.path);
    removed++;
  }
  if (removed > 0) await fsyncDir(dir);
  return removed;
}

/**
 * Remove temporaries left by a snapshot write that a crash interrupted (only at start). One that
 * is gone by the time it is unlinked was finished or removed by that write itself (a member
 * stopped and started again in one process), which is just as good.
 */
export async function removeSnapshotTemporaries(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    if (!name.endsWith(".snap.tmp")) continue;
    try {
      await unlink(join(dir, name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
}
