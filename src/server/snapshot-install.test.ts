// The received snapshot data is kept only when its trailing SHA-256 matches, wherever the chunk
// boundaries fall; a crash between the backend swap and the raft log's record is finished at start.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryRaftLogStore } from "../storage/index.js";
import {
  recoverBackendSwap,
  recoverLogSnapshot,
  storeSnapshotData,
  writeInstallMarker,
} from "./snapshot-install.js";

async function* chunked(bytes: Uint8Array, size: number): AsyncIterable<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

const body = new Uint8Array(Array.from({ length: 5000 }, (_, i) => (i * 7) % 251));
const withSum = Buffer.concat([body, createHash("sha256").update(body).digest()]);

test("snapshot data with a matching checksum is kept, in any chunking", async () => {
  for (const size of [1, 31, 32, 33, 4096, 10_000]) {
    const got = await storeSnapshotData(9, chunked(withSum, size), undefined);
    assert.equal(got.size, body.length);
    assert.deepEqual(new Uint8Array(got.bytes ?? []), body);
  }
});

test("damaged or truncated snapshot data is refused and leaves no file", async () => {
  const dir = mkdtempSync(join(tmpdir(), "kvorum-snapinstall-"));
  try {
    mkdirSync(join(dir, "member", "db"), { recursive: true });
    const damaged = Buffer.from(withSum);
    damaged[100] = (damaged[100] as number) ^ 1;
    await assert.rejects(storeSnapshotData(9, chunked(damaged, 1000), dir), /does not match its SHA-256/);
    await assert.rejects(
      storeSnapshotData(9, chunked(withSum.subarray(0, 20), 7), dir),
      /ended before its checksum/,
    );
    assert.equal(existsSync(join(dir, "member", "incoming-snapshot.db")), false);
    const ok = await storeSnapshotData(9, chunked(withSum, 999), dir);
    assert.deepEqual(new Uint8Array(readFileSync(ok.file as string)), body);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an install interrupted after the marker is finished at start", async () => {
  const dir = mkdtempSync(join(tmpdir(), "kvorum-snapinstall-"));
  try {
    mkdirSync(join(dir, "member", "db"), { recursive: true });
    writeFileSync(join(dir, "member", "db", "data.mdb"), "old");
    writeFileSync(join(dir, "member", "incoming-snapshot.db"), "new");
    const metadata = { index: 40, term: 3, confState: { voters: ["a", "b"], learners: [] } };
    await writeInstallMarker(dir, metadata);
    const marker = await recoverBackendSwap(dir);
    assert.equal(readFileSync(join(dir, "member", "db", "data.mdb"), "utf8"), "new");
    const log = new MemoryRaftLogStore({ voters: ["a", "b"], learners: [] });
    await recoverLogSnapshot(dir, marker, log);
    assert.equal(log.snapshot().metadata.index, 40);
    assert.equal(log.firstIndex(), 41);
    assert.equal(existsSync(join(dir, "member", "snapshot-install.json")), false);
    // No marker: a received file that was never installed is dropped.
    writeFileSync(join(dir, "member", "incoming-snapshot.db"), "stale");
    assert.equal(await recoverBackendSwap(dir), undefined);
    assert.equal(existsSync(join(dir, "member", "incoming-snapshot.db")), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
