// Tests of the WAL writer through the durable store: group commit (many appends, few fdatasyncs),
// segment rotation and release, and failures (disk full, failed fsync) that stop writes without
// losing or corrupting anything acknowledged.

import { after, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { readdir } from "node:fs/promises";
import { StorageFailedError } from "./errors.js";
import { DurableLogStore, storagePaths } from "./raft-log-store.js";
import { entry, quietLogger, range, tempDir } from "./store-factories.test-util.js";
import {
  INLINE_SYNC_LIMIT,
  INLINE_SYNC_SLOW_COUNT,
  INLINE_SYNC_SLOW_MS,
  INLINE_SYNC_STALL_MS,
  SYNC_WRITE_LIMIT,
  Wal,
  type WalFaults,
} from "./wal.js";
import { RecordType, type WalRecord } from "./wal-record.js";

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups) await c();
});

async function freshDir(): Promise<string> {
  const t = await tempDir("kvorum-wal-");
  cleanups.push(t.remove);
  return t.dir;
}

test("concurrent appends are written together: far fewer fdatasyncs than appends", async () => {
  const dir = await freshDir();
  let syncs = 0;
  const faults: WalFaults = { beforeSync: () => void syncs++ };
  const s = await DurableLogStore.open(dir, { logger: quietLogger, faults, segmentSize: 1 << 20 });
  const before = syncs;
  const saves: Promise<void>[] = [];
  for (let i = 1; i <= 200; i++) saves.push(s.save({ entries: [entry(i, 1)] }, true));
  await Promise.all(saves);
  const used = syncs - before;
  assert.ok(used >= 1 && used <= 10, `200 appends took ${used} fdatasyncs`);
  await s.close();
  const again = await DurableLogStore.open(dir, { logger: quietLogger, segmentSize: 1 << 20 });
  assert.equal(again.lastIndex(), 200);
  await again.close();
});

test("a commit-only hard state (MustSync false) costs no fdatasync and goes out with the next sync or at close", async () => {
  const dir = await freshDir();
  let syncs = 0;
  const faults: WalFaults = { beforeSync: () => void syncs++ };
  const s = await DurableLogStore.open(dir, { logger: quietLogger, faults, segmentSize: 1 << 20 });
  await s.save({ entries: range(1, 3, 1), hardState: { term: 1, vote: "a", commit: 1 } }, true);
  const before = syncs;
  await s.save({ entries: [], hardState: { term: 1, vote: "a", commit: 3 } }, false);
  assert.equal(syncs, before, "a commit-only save must not fdatasync");
  await s.save({ entries: [entry(4, 1)] }, true);
  assert.equal(syncs, before + 1);
  await s.save({ entries: [], hardState: { term: 1, vote: "a", commit: 4 } }, false);
  await s.close();
  const again = await DurableLogStore.open(dir, { logger: quietLogger, segmentSize: 1 << 20 });
  assert.equal(again.lastIndex(), 4);
  assert.deepEqual(again.initialState().hardState, { term: 1, vote: "a", commit: 4 });
  await again.close();
});

test("a save with entries is synced even when called with sync false", async () => {
  const dir = await freshDir();
  let syncs = 0;
  const faults: WalFaults = { beforeSync: () => void syncs++ };
  const s = await DurableLogStore.open(dir, { logger: quietLogger, faults, segmentSize: 1 << 20 });
  const before = syncs;
  await s.save({ entries: [entry(1, 1)] }, false);
  assert.equal(syncs, before + 1);
  await s.close();
});

test("segments rotate when full and are released once a snapshot covers them", async () => {
  const dir = await freshDir();
  const opts = { logger: quietLogger, segmentSize: 4096, catchUpEntries: 10 };
  const s = await DurableLogStore.open(dir, opts);
  for (let i = 1; i <= 400; i += 10) await s.save({ entries: range(i, i + 9, 1) }, true);
  const { walDir } = storagePaths(dir);
  const many = (await readdir(walDir)).filter((n) => n.endsWith(".wal")).length;
  assert.ok(many >= 4, `only ${many} segments`);
  await s.createSnapshot(380, { voters: ["a"], learners: [] }, new Uint8Array([1]));
  assert.equal(s.firstIndex(), 371);
  const few = (await readdir(walDir)).filter((n) => n.endsWith(".wal")).length;
  assert.ok(few < many, `segments not released: ${few} of ${many}`);
  assert.equal(few, s.walSegmentCount());
  await s.close();
  const again = await DurableLogStore.open(dir, opts);
  assert.equal(again.lastIndex(), 400);
  assert.ok(again.firstIndex() <= 371);
  assert.equal(again.snapshot().metadata.index, 380);
  assert.deepEqual(again.entries(371, 401), range(371, 400, 1));
  await again.close();
});

function enospc(): Error {
  return Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
}

for (const kind of ["write", "fsync", "preallocate"] as const) {
  test(`a failed ${kind} stops all writes and loses nothing acknowledged`, async () => {
    const dir = await freshDir();
    let armed = false;
    const fire = (): void => {
      if (armed) throw kind === "fsync" ? new Error("EIO: i/o error, fdatasync") : enospc();
    };
    const faults: WalFaults =
      kind === "write"
        ? { beforeWrite: fire }
        : kind === "fsync"
          ? { beforeSync: fire }
          : { beforePreallocate: fire };
    const opts = { logger: quietLogger, segmentSize: 2048 };
    const s = await DurableLogStore.open(dir, { ...opts, faults });
    let acked = 0;
    for (let i = 1; i <= 20; i++) {
      await s.save({ entries: [entry(i, 1)], hardState: { term: 1, vote: "", commit: i - 1 } }, true);
      acked = i;
    }
    armed = true;
    let failedAt = 0;
    for (let i = 21; i <= 200 && failedAt === 0; i++) {
      try {
        await s.save({ entries: [entry(i, 1)] }, true);
        acked = i;
      } catch (err) {
        assert.ok(err instanceof StorageFailedError, String(err));
        assert.match(err.message, kind === "fsync" ? /EIO/ : /ENOSPC/);
        failedAt = i;
      }
    }
    assert.ok(failedAt > 0, "the fault never fired");
    assert.ok(s.failed instanceof StorageFailedError);
    await assert.rejects(s.save({ entries: [entry(failedAt + 1, 1)] }, true), StorageFailedError);
    await assert.rejects(
      s.createSnapshot(1, { voters: [], learners: [] }, new Uint8Array()),
      StorageFailedError,
    );
    await s.close();
    const again = await DurableLogStore.open(dir, opts);
    assert.ok(again.lastIndex() >= acked, `recovered ${again.lastIndex()} < acknowledged ${acked}`);
    assert.deepEqual(
      again.entries(1, acked + 1),
      range(1, acked, 1).map((e) => entry(e.index, 1)),
    );
    await again.save({ entries: [entry(again.lastIndex() + 1, 2)] }, true);
    await again.close();
  });
}

type WriteSync = (fd: number, buf: Uint8Array, offset: number, length: number, position: number) => number;

/**
 * Replace fs.writeSync (which fs-util's writeFullySync calls) for the rest of test `t`. `impl`
 * gets the real writeSync and the call's arguments.
 */
function mockWriteSync(
  t: { mock: { method: (obj: object, name: string, impl: WriteSync) => unknown } },
  impl: (real: WriteSync, ...args: Parameters<WriteSync>) => number,
): void {
  const real = fs.writeSync.bind(fs) as WriteSync;
  t.mock.method(fs, "writeSync", (...args: Parameters<WriteSync>) => impl(real, ...args));
}

test("a failed synchronous write of a small append stops the WAL as a failed write and loses nothing acknowledged", async (t) => {
  const dir = await freshDir();
  // beforeWrite runs synchronously right before the segment write, so when armed, the next
  // writeSync is the WAL's: it is sent to a read-only descriptor of the same file, and the kernel
  // answers EBADF as it would for a real failing write.
  let armed = false;
  let failNext: string | null = null;
  let failed = 0;
  mockWriteSync(t, (real, fd, ...rest) => {
    if (failNext === null) return real(fd, ...rest);
    const ro = fs.openSync(failNext, "r");
    failNext = null;
    failed++;
    try {
      return real(ro, ...rest);
    } finally {
      fs.closeSync(ro);
    }
  });
  const faults: WalFaults = {
    beforeWrite: (path) => {
      if (armed) failNext = path;
    },
  };
  const opts = { logger: quietLogger, segmentSize: 1 << 20 };
  const s = await DurableLogStore.open(dir, { ...opts, faults });
  for (let i = 1; i <= 10; i++) await s.save({ entries: [entry(i, 1)] }, true);
  armed = true;
  const err = await s.save({ entries: [entry(11, 1)] }, true).then(
    () => assert.fail("the append after a failed write resolved"),
    (e: unknown) => e,
  );
  failNext = null;
  armed = false;
  assert.equal(failed, 1, "the small append was not written with writeSync");
  assert.ok(err instanceof StorageFailedError, String(err));
  assert.match(err.message, /during write to \S+\.wal: EBADF/);
  assert.equal(s.failed, err);
  await assert.rejects(s.save({ entries: [entry(11, 1)] }, true), StorageFailedError);
  await s.close();
  const again = await DurableLogStore.open(dir, opts);
  assert.ok(again.lastIndex() >= 10, `recovered ${again.lastIndex()} < acknowledged 10`);
  assert.deepEqual(again.entries(1, 11), range(1, 10, 1));
  await again.save({ entries: [entry(again.lastIndex() + 1, 2)] }, true);
  await again.close();
});

test("synchronous writes continue after short writes, and chunks at the limit use the async write", async (t) => {
  const dir = await freshDir();
  let calls = 0;
  let largest = 0;
  mockWriteSync(t, (real, fd, buf, offset, length, position) => {
    calls++;
    largest = Math.max(largest, length);
    return real(fd, buf, offset, Math.min(length, 7), position); // at most 7 bytes per call
  });
  const opts = { logger: quietLogger, segmentSize: 4 << 20 };
  const s = await DurableLogStore.open(dir, opts);
  for (let i = 1; i <= 5; i++) await s.save({ entries: [entry(i, 1, new Uint8Array(100).fill(i))] }, true);
  assert.ok(calls > 5 * 10, `only ${calls} writeSync calls for five short-written appends`);
  const small = largest;
  const big = entry(6, 1, new Uint8Array(SYNC_WRITE_LIMIT).fill(6));
  await s.save({ entries: [big] }, true);
  assert.equal(largest, small, "a chunk of SYNC_WRITE_LIMIT bytes or more went through writeSync");
  await s.save({ entries: [entry(7, 1)] }, true);
  await s.close();
  const again = await DurableLogStore.open(dir, opts);
  assert.equal(again.lastIndex(), 7);
  assert.deepEqual(again.entries(1, 8), [
    ...range(1, 5, 1).map((e) => entry(e.index, 1, new Uint8Array(100).fill(e.index))),
    big,
    entry(7, 1),
  ]);
  await again.close();
});

test("the storage code makes no synchronous fs calls", async () => {
  const { readdir: list, readFile: read } = await import("node:fs/promises");
  const { dirname, join } = await import("node:path");
  const { fileURLToPath } = await import("node:url");
  const dir = dirname(fileURLToPath(import.meta.url));
  const sources = (await list(dir)).filter(
    (n) => /\.(ts|js)$/.test(n) && !/\.test(-util)?\.(ts|js)$/.test(n),
  );
  assert.ok(sources.length >= 8, `found ${sources.length} source files`);
  // The exceptions: small WAL appends are written with a synchronous pwrite into the page cache
  // of a preallocated segment (see SYNC_WRITE_LIMIT in wal.ts), through writeFullySync, and
  // small chunks are fdatasync'd inline (INLINE_SYNC_LIMIT, with a fallback to the threadpool
  // when that sync is slow). Reads, opens, other fsyncs and everything else stay asynchronous.
  const allowed: Record<string, string[]> = {
    "fs-util": ["writeSync", "writeFullySync"],
    wal: ["writeFullySync", "fdatasyncSync"],
  };
  for (const name of sources) {
    const text = await read(join(dir, name), "utf8");
    const ok = allowed[name.replace(/\.(ts|js)$/, "")] ?? [];
    const calls = [...text.matchAll(/\b(\w+Sync)\(/g)].map((m) => m[1]!);
    assert.deepEqual(
      calls.filter((c) => !ok.includes(c)),
      [],
      `${name} calls a synchronous fs function`,
    );
  }
});

test("small chunks are fdatasync'd inline until the disk stalls, then through the threadpool for a while", async () => {
  const dir = await freshDir();
  const synced: number[] = [];
  const warnings: string[] = [];
  const wal = await Wal.create(
    dir,
    { voters: ["a"], learners: [] },
    {
      segmentSize: 1 << 20,
      onSync: (seconds) => synced.push(seconds),
      logger: { warn: (m) => warnings.push(m) },
    },
  );
  const realSync = fs.fdatasyncSync;
  let inlineSyncs = 0;
  let slowMs = 0;
  fs.fdatasyncSync = (fd: number): void => {
    inlineSyncs++;
    if (slowMs > 0) {
      const until = performance.now() + slowMs;
      while (performance.now() < until) {
        /* a stalling device */
      }
    }
    realSync(fd);
  };
  const rec = (index: number, bytes = 3): WalRecord => ({
    type: RecordType.Entry,
    entry: entry(index, 1, new Uint8Array(bytes)),
  });
  try {
    await wal.append([rec(1)]);
    assert.equal(inlineSyncs, 1, "a small chunk is synced on the loop thread");
    await wal.append([rec(2, INLINE_SYNC_LIMIT + 1)]);
    assert.equal(inlineSyncs, 1, "a chunk over INLINE_SYNC_LIMIT goes to the threadpool");
    slowMs = INLINE_SYNC_SLOW_MS + 5;
    for (let i = 1; i < INLINE_SYNC_SLOW_COUNT; i++) await wal.append([rec(2 + i)]);
    assert.equal(inlineSyncs, INLINE_SYNC_SLOW_COUNT);
    assert.equal(wal.inlineSyncPaused, false, "a few slow syncs are a disk's ordinary tail: still inline");
    assert.equal(warnings.length, 0);
    await wal.append([rec(2 + INLINE_SYNC_SLOW_COUNT)]);
    assert.equal(
      wal.inlineSyncPaused,
      true,
      `${INLINE_SYNC_SLOW_COUNT} slow syncs within a second pause inline syncing`,
    );
    assert.equal(warnings.length, 1, "the pause is logged once");
    assert.match(warnings[0]!, /blocked the event loop for \d+\.\d ms; .* threadpool for the next 10 s/);
    slowMs = 0;
    await wal.append([rec(3 + INLINE_SYNC_SLOW_COUNT)]);
    assert.equal(
      inlineSyncs,
      1 + INLINE_SYNC_SLOW_COUNT,
      "while paused, small chunks go to the threadpool too",
    );
    // Every sync is reported for etcd_disk_wal_fsync_duration_seconds, inline or not.
    assert.equal(synced.length, 3 + INLINE_SYNC_SLOW_COUNT);
    assert.ok(synced.every((s) => s > 0 && s < 60));
    assert.ok((synced[2] as number) >= INLINE_SYNC_SLOW_MS / 1000, "the slow sync is reported as slow");
  } finally {
    fs.fdatasyncSync = realSync;
    await wal.close();
  }
});

test("an fdatasync slower than slowSyncWarnMs is logged as a warning naming the file and the time", async () => {
  const dir = await freshDir();
  const warnings: string[] = [];
  let stall = false;
  const faults: WalFaults = {
    beforeSync: () => {
      const until = performance.now() + 30;
      while (stall && performance.now() < until) {
        /* a device that takes 30 ms */
      }
    },
  };
  const wal = await Wal.create(
    dir,
    { voters: ["a"], learners: [] },
    { segmentSize: 1 << 20, faults, slowSyncWarnMs: 20, logger: { warn: (m) => warnings.push(m) } },
  );
  const rec = (index: number): WalRecord => ({ type: RecordType.Entry, entry: entry(index, 1) });
  try {
    await wal.append([rec(1)]);
    assert.equal(warnings.length, 0, "a fast sync is not logged");
    stall = true;
    await wal.append([rec(2)]);
    const slow = warnings.filter((w) => w.startsWith("wal: slow fdatasync"));
    assert.equal(slow.length, 1, warnings.join("\n"));
    assert.match(slow[0]!, /^wal: slow fdatasync of .*\.wal: took \d+ ms \(expected under 20 ms\)/);
  } finally {
    await wal.close();
  }
});

test("one inline fdatasync that stalls for INLINE_SYNC_STALL_MS pauses inline syncing at once", async () => {
  const dir = await freshDir();
  const wal = await Wal.create(
    dir,
    { voters: ["a"], learners: [] },
    { segmentSize: 1 << 20, logger: quietLogger },
  );
  const realSync = fs.fdatasyncSync;
  fs.fdatasyncSync = (fd: number): void => {
    const until = performance.now() + INLINE_SYNC_STALL_MS + 5;
    while (performance.now() < until) {
      /* a stalled device */
    }
    realSync(fd);
  };
  try {
    await wal.append([{ type: RecordType.Entry, entry: entry(1, 1) }]);
    assert.equal(wal.inlineSyncPaused, true);
  } finally {
    fs.fdatasyncSync = realSync;
    await wal.close();
  }
});
