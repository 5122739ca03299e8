// Maintenance.Snapshot in etcd's format: the backend exported as an etcd 3.4 bbolt file
// (etcd-export.ts), streamed in chunks and followed by the SHA-256 of the file, as etcd sends it,
// so `etcdctl snapshot save`, `snapshot status` and `snapshot restore` accept it.
//
// Consistency: the export reads a private, unchanging copy of the backend. For LMDB that is the
// compacting copy lmdb makes off the main thread inside one read transaction (the same copy the
// peer snapshot uses), opened as a second environment in a temp directory that is removed once the
// export is done; for a MemoryBackend, a synchronous clone of its tables. The export itself yields
// to the event loop between slices of rows, so serving goes on while it runs.

import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Backend } from "../../mvcc/backend.js";
import { openLmdbBackend } from "../../mvcc/lmdb-backend.js";
import { lmdbEnvironmentOf, memoryTablesOf } from "./backend-access.js";
import {
  decodeMemorySnapshot,
  encodeMemorySnapshot,
  SNAPSHOT_CHUNK_BYTES,
  streamOf,
  type BackendSnapshot,
  type SnapshotOptions,
} from "./backend-snapshot.js";
import { exportEtcdBackend, type EtcdExport } from "./etcd-export.js";

/** The backend exported as an etcd bbolt file, from a consistent copy. */
export async function exportBackendCopy(backend: Backend, tempDir?: string): Promise<EtcdExport> {
  const env = lmdbEnvironmentOf(backend);
  if (env !== undefined) {
    await backend.sync(); // the copy reads committed LMDB state
    const dir = await fs.mkdtemp(path.join(tempDir ?? os.tmpdir(), "kvorum-bbolt-"));
    try {
      await env.backup(dir, true);
      // A throwaway copy: opening a table it lacks must not cost an fsync on the main thread.
      const copy = openLmdbBackend(dir, { durability: "lazy" });
      try {
        return await exportEtcdBackend(copy);
      } finally {
        await copy.close();
      }
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }
  const tables = memoryTablesOf(backend);
  if (tables === undefined) throw new Error("snapshot: unsupported backend");
  return exportEtcdBackend(decodeMemorySnapshot(encodeMemorySnapshot(tables)));
}

/** Maintenance.Snapshot's stream: the bbolt file, then its SHA-256. */
export async function bboltSnapshot(backend: Backend, opts: SnapshotOptions = {}): Promise<BackendSnapshot> {
  const chunkSize = opts.chunkSize ?? SNAPSHOT_CHUNK_BYTES;
  if (!Number.isInteger(chunkSize) || chunkSize <= 0)
    throw new RangeError(`bad snapshot chunk size ${chunkSize}`);
  const file = await exportBackendCopy(backend, opts.tempDir);
  let data: Buffer | undefined = Buffer.concat(file.chunks, file.size);
  return streamOf(
    {
      size: file.size,
      read: (position, length) => {
        if (data === undefined) return Promise.reject(new Error("snapshot: stream closed"));
        return Promise.resolve(data.subarray(position, position + length));
      },
      close: () => {
        data = undefined; // let the file be collected
        return Promise.resolve();
      },
    },
    chunkSize,
    "bbolt",
  );
}
