// Maintenance.Snapshot in etcd's format: the backend exported as an etcd 3.4 bbolt file
// (etcd-export.ts), streamed in chunks and followed by the SHA-256 of the file, as etcd sends it,
// so `etcdctl snapshot save`, `snapshot status` and `snapshot restore` accept it.
//
// Consistency: the export reads a private, unchanging copy of the backend. For LMDB that is the
// compacting copy lmdb makes off the main thread inside one read transaction (the same copy the
// peer snapshot uses), opened as a second environment in a temp directory that is removed once the
// export is done; for a MemoryBackend, a synchronous clone of its tables. The export itself yields
// to the event loop between slices of rows, so serving goes on while it runs.
//
// With a temp dir (a member on disk passes its data dir) the bbolt pages go straight to a file
// that is unlinked at once and read back through its open handle, so memory stays small and
// nothing is left behind; without one (in-memory members, tests) the file is kept in memory.

import { writeSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Backend } from "../../mvcc/backend.js";
import { openLmdbBackend } from "../../mvcc/lmdb-backend.js";
import type { PageSink } from "../../bbolt/writer.js";
import { lmdbEnvironmentOf, memoryTablesOf } from "./backend-access.js";
import {
  decodeMemorySnapshot,
  encodeMemorySnapshot,
  SNAPSHOT_CHUNK_BYTES,
  streamOf,
  type BackendSnapshot,
  type SnapshotOptions,
  type SnapshotSource,
} from "./backend-snapshot.js";
import { exportEtcdBackend, type EtcdExport } from "./etcd-export.js";

/** The backend exported as an etcd bbolt file, from a consistent copy (pages to sink if given). */
export async function exportBackendCopy(
  backend: Backend,
  tempDir?: string,
  sink?: PageSink,
): Promise<EtcdExport> {
  const opts = sink !== undefined ? { sink } : {};
  const env = lmdbEnvironmentOf(backend);
  if (env !== undefined) {
    await backend.sync(); // the copy reads committed LMDB state
    const dir = await fs.mkdtemp(path.join(tempDir ?? os.tmpdir(), "kvorum-bbolt-"));
    try {
      await env.backup(dir, true);
      // A throwaway copy: opening a table it lacks must not cost an fsync on the main thread.
      const copy = openLmdbBackend(dir, { durability: "lazy" });
      try {
        return await exportEtcdBackend(copy, opts);
      } finally {
        await copy.close();
      }
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }
  const tables = memoryTablesOf(backend);
  if (tables === undefined) throw new Error("snapshot: unsupported backend");
  return exportEtcdBackend(decodeMemorySnapshot(encodeMemorySnapshot(tables)), opts);
}

/** Maintenance.Snapshot's stream: the bbolt file, then its SHA-256. */
export async function bboltSnapshot(backend: Backend, opts: SnapshotOptions = {}): Promise<BackendSnapshot> {
  const chunkSize = opts.chunkSize ?? SNAPSHOT_CHUNK_BYTES;
  if (!Number.isInteger(chunkSize) || chunkSize <= 0)
    throw new RangeError(`bad snapshot chunk size ${chunkSize}`);
  const source = opts.tempDir !== undefined ? await toFile(backend, opts.tempDir) : await inMemory(backend);
  return streamOf(source, chunkSize, "bbolt");
}

async function inMemory(backend: Backend): Promise<SnapshotSource> {
  const file = await exportBackendCopy(backend);
  let data: Buffer | undefined = Buffer.concat(file.chunks, file.size);
  return {
    size: file.size,
    read: (position, length) => {
      if (data === undefined) return Promise.reject(new Error("snapshot: stream closed"));
      return Promise.resolve(data.subarray(position, position + length));
    },
    close: () => {
      data = undefined; // let the file be collected
      return Promise.resolve();
    },
  };
}

async function toFile(backend: Backend, tempDir: string): Promise<SnapshotSource> {
  const dir = await fs.mkdtemp(path.join(tempDir, "kvorum-snapshot-"));
  const file = path.join(dir, "snapshot.db");
  const handle = await fs.open(file, "w+", 0o600);
  try {
    // The open handle keeps the data; no name is left to clean up, even after a crash.
    await fs.rm(dir, { recursive: true, force: true });
    // Pages are written synchronously as the export produces them (inside its slices).
    const exported = await exportBackendCopy(backend, tempDir, (pages, offset) =>
      writeAll(handle.fd, pages, offset),
    );
    writeAll(handle.fd, Buffer.concat(exported.chunks), 0);
    return {
      size: exported.size,
      read: async (position, length) => {
        const buf = Buffer.alloc(length);
        let got = 0;
        while (got < length) {
          const { bytesRead } = await handle.read(buf, got, length - got, position + got);
          if (bytesRead === 0) throw new Error("snapshot: file ended early");
          got += bytesRead;
        }
        return buf;
      },
      close: () => handle.close(),
    };
  } catch (err) {
    await handle.close();
    await fs.rm(dir, { recursive: true, force: true });
    throw err;
  }
}

function writeAll(fd: number, data: Buffer, offset: number): void {
  for (let done = 0; done < data.length;)
    done += writeSync(fd, data, done, data.length - done, offset + done);
}
