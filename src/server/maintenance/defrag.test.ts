import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { openLmdbBackend } from "../../mvcc/lmdb-backend.js";
import { MemoryBackend } from "../../mvcc/memory-backend.js";
import { dec, enc } from "../../mvcc/test-backends.js";
import { defragmentBackend, defragmentLmdbDirectory } from "./defrag.js";

test("offline LMDB defrag shrinks the file and keeps the data", { timeout: 30_000 }, async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "kvorum-defrag-"));
  try {
    let backend = openLmdbBackend(dir, { durability: "lazy" });
    const kv = backend.table("kv");
    backend.writeTxn(() => {
      for (let i = 0; i < 3000; i++) kv.put(enc(`k${i}`), new Uint8Array(500));
    });
    backend.writeTxn(() => {
      for (let i = 0; i < 2990; i++) kv.del(enc(`k${i}`));
    });
    backend.writeTxn(() => backend.table("alarm").put(enc("a"), enc("b")));
    const live = await defragmentBackend(backend);
    assert.equal(live.performed, false);
    assert.ok(live.after.dbSizeInUse < live.after.dbSize / 4);
    await backend.close();

    const { beforeBytes, afterBytes } = await defragmentLmdbDirectory(dir);
    assert.ok(afterBytes < beforeBytes / 4, `${afterBytes} vs ${beforeBytes}`);
    assert.deepEqual(
      (await fs.readdir(dir)).filter((n) => n.startsWith(".defrag")),
      [],
    );

    backend = openLmdbBackend(dir);
    try {
      assert.equal(backend.table("kv").count(undefined, undefined), 10);
      assert.ok(backend.table("kv").get(enc("k2995")) !== undefined);
      assert.equal(dec(backend.table("alarm").get(enc("a"))!), "b");
      backend.writeTxn(() => backend.table("kv").put(enc("after"), enc("defrag")));
      assert.equal(dec(backend.table("kv").get(enc("after"))!), "defrag");
    } finally {
      await backend.close();
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test("defrag of a memory backend is a no-op reporting its size", async () => {
  const backend = new MemoryBackend();
  backend.writeTxn(() => backend.table("kv").put(enc("k"), enc("vv")));
  const r = await defragmentBackend(backend);
  assert.deepEqual(r.before, { dbSize: 3, dbSizeInUse: 3 });
  assert.equal(r.performed, false);
});
