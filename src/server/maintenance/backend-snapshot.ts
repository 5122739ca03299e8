// Maintenance.Snapshot: a consistent copy of the backend, streamed in chunks. As etcd 3.4 does
// (v3rpc/maintenance.go), the data is followed by one extra chunk holding the SHA-256 of the data;
// `size` counts the data only, so a chunk's remaining_bytes is max(0, size - bytes sent so far) and
// the checksum chunk goes out with remaining_bytes 0 (snapshotResponses does exactly that). etcdctl
// `snapshot save` accepts the stream only if the data length is a multiple of 512, so the data is.
//
// LMDB: a compacting copy (mdb_env_copy2 with MDB_CP_COMPACT, run off the main thread inside one
// read transaction, so it is consistent while writes go on) into a temp directory. The file is
// opened and unlinked at once (POSIX keeps it readable through the open handle), so nothing is
// left on disk even if the stream is abandoned; the handle is closed when the stream ends, its
// consumer stops iterating (return()), or discard() is called.
// MemoryBackend: the tables are serialized synchronously (consistent because writes are
// synchronous too) into the format described at encodeMemorySnapshot, zero-padded to 512 bytes.
import { createHash, type Hash } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Backend, BackendTable } from "../../mvcc/backend.js";
import { MemoryBackend } from "../../mvcc/memory-backend.js";
import type { SnapshotStream } from "../member-api.js";
import { lmdbEnvironmentOf, memoryTablesOf } from "./backend-access.js";

/** etcd's snapshotSendBufferSize. */
export const SNAPSHOT_CHUNK_BYTES = 32 * 1024;
/** etcdctl checks that the data length is a multiple of this (its "has checksum" test). */
export const SNAPSHOT_ALIGNMENT = 512;

export interface SnapshotOptions {
  /** Bytes per data chunk (default 32 KiB). */
  chunkSize?: number;
  /** Where LMDB's copy is made (default os.tmpdir()); best on the data dir's file system. */
  tempDir?: string;
}

export interface BackendSnapshot extends SnapshotStream {
  /** "lmdb": a copy of the LMDB environment; "memory": a serialized MemoryBackend; "bbolt": etcd's format. */
  format: "lmdb" | "memory" | "bbolt";
  /** Releases the snapshot when the stream will not be read (or not to the end). Idempotent. */
  discard(): Promise<void>;
}

/** Reads ranges of the snapshot data; close() releases it. */
export interface SnapshotSource {
  size: number;
  read(position: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

export async function snapshotBackend(
  backend: Backend,
  opts: SnapshotOptions = {},
): Promise<BackendSnapshot> {
  const chunkSize = opts.chunkSize ?? SNAPSHOT_CHUNK_BYTES;
  if (!Number.isInteger(chunkSize) || chunkSize <= 0)
    throw new RangeError(`bad snapshot chunk size ${chunkSize}`);
  const env = lmdbEnvironmentOf(backend);
  if (env !== undefined) {
    await backend.sync(); // the copy reads committed LMDB state: commit a batched backend's writes
    const source = await copyLmdb(env, opts.tempDir ?? os.tmpdir());
    return streamOf(source, chunkSize, "lmdb");
  }
  const tables = memoryTablesOf(backend);
  if (tables === undefined) throw new Error("snapshot: unsupported backend");
  const data = encodeMemorySnapshot(tables);
  const source: SnapshotSource = {
    size: data.length,
    read: (position, length) => Promise.resolve(data.subarray(position, position + length)),
    close: () => Promise.resolve(),
  };
  return streamOf(source, chunkSize, "memory");
}

async function copyLmdb(
  env: { backup(path: string, compact: boolean): Promise<void> },
  tempDir: string,
): Promise<SnapshotSource> {
  const dir = await fs.mkdtemp(path.join(tempDir, "kvorum-snapshot-"));
  try {
    await env.backup(dir, true);
    const file = path.join(dir, "data.mdb");
    const handle = await fs.open(file, "r");
    const { size } = await handle.stat();
    return {
      size,
      read: async (position, length) => {
        const buf = Buffer.alloc(length);
        let got = 0;
        while (got < length) {
          const { bytesRead } = await handle.read(buf, got, length - got, position + got);
          if (bytesRead === 0) throw new Error("snapshot: copy ended early");
          got += bytesRead;
        }
        return buf;
      },
      close: () => handle.close(),
    };
  } finally {
    // The open handle keeps the data readable; the directory entry is no longer needed.
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** The source as a stream of chunks followed by the SHA-256 of all of them. */
export function streamOf(
  source: SnapshotSource,
  chunkSize: number,
  format: BackendSnapshot["format"],
): BackendSnapshot {
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => (closed ??= source.close());
  let started = false;
  const chunks: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]: () => {
      if (started) throw new Error("snapshot: the stream can be read only once");
      started = true;
      return chunkIterator(source, chunkSize, close);
    },
  };
  return { size: source.size, chunks, format, discard: close };
}

function chunkIterator(
  source: SnapshotSource,
  chunkSize: number,
  close: () => Promise<void>,
): AsyncIterator<Uint8Array> {
  const hash: Hash = createHash("sha256");
  let sent = 0;
  let finished = false;
  const done = async (): Promise<IteratorResult<Uint8Array>> => {
    finished = true;
    await close();
    return { done: true, value: undefined };
  };
  return {
    next: async () => {
      if (finished) return { done: true, value: undefined };
      if (sent < source.size) {
        try {
          const chunk = await source.read(sent, Math.min(chunkSize, source.size - sent));
          hash.update(chunk);
          sent += chunk.length;
          return { done: false, value: chunk };
        } catch (e) {
          await done();
          throw e;
        }
      }
      finished = true;
      await close();
      return { done: false, value: new Uint8Array(hash.digest()) };
    },
    return: done,
  };
}

/** The stream as etcd's SnapshotResponse fields: remaining_bytes after each chunk, and blob. */
export async function* snapshotResponses(
  stream: SnapshotStream,
): AsyncGenerator<{ remainingBytes: number; blob: Uint8Array }> {
  let sent = 0;
  for await (const blob of stream.chunks) {
    sent += blob.length;
    yield { remainingBytes: Math.max(0, stream.size - sent), blob };
  }
}

// ---- MemoryBackend format ------------------------------------------------------------------
// "KVMEMSN1", u32 table count, then per table (sorted by name): u32 name length, name (UTF-8),
// u32 row count, rows in key order as u32 key length, key, u32 value length, value. All integers
// big-endian. Zero bytes pad the whole to a multiple of 512.

const MAGIC = Buffer.from("KVMEMSN1", "ascii");

export function encodeMemorySnapshot(tables: Map<string, BackendTable>): Uint8Array {
  const parts: Buffer[] = [MAGIC, u32(tables.size)];
  for (const name of [...tables.keys()].sort()) {
    const rows: Buffer[] = [];
    let count = 0;
    for (const { key, value } of tables.get(name)!.range(undefined, undefined)) {
      rows.push(u32(key.length), Buffer.from(key), u32(value.length), Buffer.from(value));
      count++;
    }
    const nameBytes = Buffer.from(name, "utf8");
    parts.push(u32(nameBytes.length), nameBytes, u32(count), ...rows);
  }
  const body = Buffer.concat(parts);
  const padded = Buffer.alloc(Math.ceil(body.length / SNAPSHOT_ALIGNMENT) * SNAPSHOT_ALIGNMENT);
  body.copy(padded);
  return padded;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** Rebuilds a MemoryBackend from encodeMemorySnapshot's output (checksum trailer excluded). */
export function decodeMemorySnapshot(data: Uint8Array): MemoryBackend {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buf.length < 12 || !buf.subarray(0, 8).equals(MAGIC)) throw new Error("not a Kvorum memory snapshot");
  let at = 8;
  const take = (n: number): Buffer => {
    if (at + n > buf.length) throw new Error("truncated memory snapshot");
    const out = buf.subarray(at, at + n);
    at += n;
    return out;
  };
  const next32 = () => take(4).readUInt32BE(0);
  const backend = new MemoryBackend();
  backend.writeTxn(() => {
    for (let tables = next32(); tables > 0; tables--) {
      const table = backend.table(take(next32()).toString("utf8"));
      for (let rows = next32(); rows > 0; rows--) {
        const key = new Uint8Array(take(next32()));
        table.put(key, new Uint8Array(take(next32())));
      }
    }
  });
  return backend;
}
