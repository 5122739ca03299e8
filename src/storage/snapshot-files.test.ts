// Tests for snapshot files: round trip, checksum, pruning to the newest N, and recovery falling
// back to an older snapshot (with a warning) when the newest file is damaged.

import { after, test } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { SnapshotCorruptionError } from "./errors.js";
import { DurableLogStore, storagePaths } from "./raft-log-store.js";
import {
  decodeSnapshot,
  encodeSnapshot,
  listSnapshots,
  pruneSnapshots,
  removeSnapshotTemporaries,
  writeSnapshotFile,
} from "./snapshot-files.js";
import { quietLogger, range, tempDir } from "./store-factories.test-util.js";
import type { Snapshot } from "../raft/types.js";

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups) await c();
});

const snap = (index: number, term: number): Snapshot => ({
  metadata: { index, term, confState: { voters: ["a", "b"], learners: ["c"] } },
  data: new Uint8Array([index & 0xff, 1, 2, 3]),
});

test("a snapshot file round-trips and any flipped byte is detected", () => {
  const bytes = encodeSnapshot(snap(42, 7));
  assert.deepEqual(decodeSnapshot(bytes, "x.snap"), snap(42, 7));
  for (let i = 0; i < bytes.length; i++) {
    const copy = Buffer.from(bytes);
    copy[i] ^= 0x04;
    assert.throws(() => decodeSnapshot(copy, "x.snap"), SnapshotCorruptionError, `flip at ${i}`);
  }
  assert.throws(() => decodeSnapshot(bytes.subarray(0, bytes.length - 1), "x.snap"), SnapshotCorruptionError);
});

test("pruning keeps the newest N snapshot files", async () => {
  const t = await tempDir("kvorum-snap-");
  cleanups.push(t.remove);
  for (const i of [5, 10, 15, 20, 25]) await writeSnapshotFile(t.dir, snap(i, 1));
  assert.equal(await pruneSnapshots(t.dir, 2, 25), 3);
  assert.deepEqual(
    (await listSnapshots(t.dir)).map((f) => f.index),
    [25, 20],
  );
  assert.deepEqual(await readdir(t.dir).then((n) => n.filter((x) => x.endsWith(".tmp"))), []);
});

test("removing temporaries tolerates one that disappears meanwhile (a restart in one process)", async () => {
  // Two removals race over the same temporaries, as a member started again in the same process
  // races a snapshot write of its stopped predecessor: whichever unlinks second must not fail.
  const t = await tempDir("kvorum-snap-tmp-");
  cleanups.push(t.remove);
  for (let i = 0; i < 20; i++) await writeFile(join(t.dir, `${i}.snap.tmp`), "x");
  await Promise.all([removeSnapshotTemporaries(t.dir), removeSnapshotTemporaries(t.dir)]);
  assert.deepEqual(await readdir(t.dir), []);
});

test("recovery skips a damaged newest snapshot for an older one the WAL still covers", async () => {
  const t = await tempDir("kvorum-snap-fallback-");
  cleanups.push(t.remove);
  const opts = { logger: quietLogger, catchUpEntries: 1000, segmentSize: 8192 };
  const s = await DurableLogStore.open(t.dir, opts);
  await s.save({ entries: range(1, 30, 1) }, true);
  await s.createSnapshot(10, { voters: ["a"], learners: [] }, new Uint8Array([10]));
  await s.createSnapshot(20, { voters: ["a"], learners: [] }, new Uint8Array([20]));
  await s.close();
  const { snapDir } = storagePaths(t.dir);
  const newest = (await listSnapshots(snapDir))[0]!;
  assert.equal(newest.index, 20);
  const buf = await readFile(newest.path);
  buf[buf.length - 1] ^= 0xff;
  await writeFile(newest.path, buf);
  const warnings: string[] = [];
  const again = await DurableLogStore.open(t.dir, { ...opts, logger: { warn: (m) => warnings.push(m) } });
  assert.equal(again.snapshot().metadata.index, 10);
  assert.deepEqual(again.snapshot().data, new Uint8Array([10]));
  assert.equal(again.lastIndex(), 30);
  assert.ok(
    warnings.some((w) => w.includes(join(snapDir, newest.name))),
    warnings.join("\n"),
  );
  await again.close();
});
