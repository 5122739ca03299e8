import { test } from "node:test";
import assert from "node:assert/strict";
import { BACKEND_KINDS, enc } from "../../mvcc/test-backends.js";
import { backendDbSize, cachedDbSize } from "./db-size.js";

for (const kind of BACKEND_KINDS) {
  test(
    `db size on ${kind.name}: grows with data; in-use drops after deletes`,
    { timeout: 20_000 },
    async () => {
      const t = await kind.create();
      try {
        const kv = t.backend.table("kv");
        const empty = backendDbSize(t.backend);
        assert.ok(empty.dbSizeInUse <= empty.dbSize);
        t.backend.writeTxn(() => {
          for (let i = 0; i < 2000; i++) kv.put(enc(`key-${i}`), new Uint8Array(400).fill(i % 251));
        });
        await t.backend.sync(); // sizes count committed batches only
        const full = backendDbSize(t.backend);
        assert.ok(full.dbSize >= 2000 * 400, `dbSize ${full.dbSize}`);
        assert.ok(full.dbSizeInUse >= 2000 * 400 && full.dbSizeInUse <= full.dbSize);
        t.backend.writeTxn(() => {
          for (let i = 0; i < 2000; i++) kv.del(enc(`key-${i}`));
        });
        t.backend.writeTxn(() => kv.put(enc("x"), enc("y")));
        await t.backend.sync();
        const after = backendDbSize(t.backend);
        assert.ok(
          after.dbSizeInUse < full.dbSizeInUse / 10,
          `in use ${after.dbSizeInUse} vs ${full.dbSizeInUse}`,
        );
        if (kind.name.startsWith("lmdb"))
          assert.ok(after.dbSize >= full.dbSize, "LMDB's file does not shrink");
        assert.equal(after.dbSize % (kind.name.startsWith("lmdb") ? 4096 : 1), 0);
      } finally {
        await t.cleanup();
      }
    },
  );
}

test("cachedDbSize reuses the figure for maxAgeMs", async () => {
  const t = await BACKEND_KINDS[0]!.create();
  try {
    let clock = 0;
    const size = cachedDbSize(t.backend, 100, () => clock);
    assert.equal(size().dbSize, 0);
    t.backend.writeTxn(() => t.backend.table("kv").put(enc("k"), enc("v")));
    assert.equal(size().dbSize, 0);
    clock = 100;
    assert.equal(size().dbSize, 2);
  } finally {
    await t.cleanup();
  }
});
