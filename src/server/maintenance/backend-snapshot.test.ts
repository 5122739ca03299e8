import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { openLmdbBackend } from "../../mvcc/lmdb-backend.js";
import { MemoryBackend } from "../../mvcc/memory-backend.js";
import { dec, enc } from "../../mvcc/test-backends.js";
import type { Backend } from "../../mvcc/backend.js";
import {
  decodeMemorySnapshot,
  snapshotBackend,
  snapshotResponses,
  SNAPSHOT_CHUNK_BYTES,
} from "./backend-snapshot.js";

function fill(backend: Backend, n: number, tag: string): void {
  backend.writeTxn(() => {
    const kv = backend.table("kv");
    for (let i = 0; i < n; i++)
      kv.put(enc(`k${String(i).padStart(6, "0")}`), enc(`${tag}-${"v".repeat(300)}`));
    backend.table("lease").put(enc("L1"), enc(tag));
  });
}

async function collect(stream: AsyncIterable<{ remainingBytes: number; blob: Uint8Array }>) {
  const frames: { remainingBytes: number; blob: Uint8Array }[] = [];
  for await (const f of stream) frames.push(f);
  return frames;
}

test(
  "LMDB snapshot: consistent compact copy, 32 KiB chunks, sha256 trailer, no temp files left",
  { timeout: 30_000 },
  async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), "kvorum-snaptest-"));
    const tempDir = path.join(root, "tmp");
    await fs.mkdir(tempDir);
    const backend = openLmdbBackend(path.join(root, "db"), { durability: "lazy" });
    try {
      fill(backend, 3000, "old");
      const snap = await snapshotBackend(backend, { tempDir });
      assert.equal(snap.format, "lmdb");
      assert.deepEqual(await fs.readdir(tempDir), [], "temp copy unlinked at once");
      fill(backend, 3000, "new"); // after the snapshot was taken: must not show in it
      assert.equal(snap.size % 512, 0);
      const frames = await collect(snapshotResponses(snap));
      const data = Buffer.concat(frames.slice(0, -1).map((f) => f.blob));
      assert.equal(data.length, snap.size);
      for (const f of frames.slice(0, -2)) assert.equal(f.blob.length, SNAPSHOT_CHUNK_BYTES);
      assert.equal(frames.at(-2)!.remainingBytes, 0);
      assert.equal(frames[0]!.remainingBytes, snap.size - frames[0]!.blob.length);
      const trailer = frames.at(-1)!;
      assert.equal(trailer.remainingBytes, 0);
      assert.deepEqual(Buffer.from(trailer.blob), createHash("sha256").update(data).digest());
      await assert.rejects(async () => {
        for await (const _ of snap.chunks) void _;
      }, /only once/);

      const restoredDir = path.join(root, "restored");
      await fs.mkdir(restoredDir);
      await fs.writeFile(path.join(restoredDir, "data.mdb"), data);
      const restored = openLmdbBackend(restoredDir);
      try {
        assert.equal(restored.table("kv").count(undefined, undefined), 3000);
        assert.match(dec(restored.table("kv").get(enc("k000042"))!), /^old-/);
        assert.equal(dec(restored.table("lease").get(enc("L1"))!), "old");
      } finally {
        await restored.close();
      }
    } finally {
      await backend.close();
      await fs.rm(root, { recursive: true, force: true });
    }
  },
);

test(
  "LMDB snapshot: abandoning the stream or discarding it releases the copy",
  { timeout: 30_000 },
  async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), "kvorum-snaptest-"));
    const backend = openLmdbBackend(path.join(root, "db"), { durability: "lazy" });
    try {
      fill(backend, 2000, "x");
      const fdCount = async () => (await fs.readdir("/proc/self/fd")).length;
      const before = await fdCount();
      const snap = await snapshotBackend(backend, { tempDir: root, chunkSize: 4096 });
      assert.equal(await fdCount(), before + 1);
      for await (const chunk of snap.chunks) {
        assert.equal(chunk.length, 4096);
        break; // the consumer goes away
      }
      assert.equal(await fdCount(), before);
      const unread = await snapshotBackend(backend, { tempDir: root });
      assert.equal(await fdCount(), before + 1);
      await unread.discard();
      await unread.discard();
      assert.equal(await fdCount(), before);
      assert.deepEqual((await fs.readdir(root)).sort(), ["db"]);
    } finally {
      await backend.close();
      await fs.rm(root, { recursive: true, force: true });
    }
  },
);

test("memory snapshot: serialized tables, 512-aligned, round trip", { timeout: 10_000 }, async () => {
  const backend = new MemoryBackend();
  fill(backend, 500, "m");
  backend.writeTxn(() => backend.table("empty").del(enc("none")));
  const snap = await snapshotBackend(backend, { chunkSize: 1000 });
  assert.equal(snap.format, "memory");
  assert.equal(snap.size % 512, 0);
  const blobs: Uint8Array[] = [];
  for await (const b of snap.chunks) blobs.push(b);
  const data = Buffer.concat(blobs.slice(0, -1));
  assert.equal(data.length, snap.size);
  assert.deepEqual(Buffer.from(blobs.at(-1)!), createHash("sha256").update(data).digest());
  const copy = decodeMemorySnapshot(data);
  assert.equal(copy.table("kv").count(undefined, undefined), 500);
  assert.equal(dec(copy.table("lease").get(enc("L1"))!), "m");
  assert.deepEqual(
    [...copy.table("kv").range(undefined, undefined)],
    [...backend.table("kv").range(undefined, undefined)],
  );
  assert.throws(() => decodeMemorySnapshot(new Uint8Array(600)), /not a Kvorum/);
});
