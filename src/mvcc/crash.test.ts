// Crash consistency: a child process applying entries to an LMDB store is killed with SIGKILL at
// random moments; after each kill the reopened store's applied index must match its data
// exactly (same Hash as a reference store that applied entries 1..index), and applying can
// resume where it stopped. Also: a write that fails inside its transaction leaves no trace.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import type { Backend, BackendTable } from "./backend.js";
import { applyEntry } from "./crash-workload.js";
import { openLmdbBackend } from "./lmdb-backend.js";
import { MemoryBackend } from "./memory-backend.js";
import { MvccStore } from "./store.js";
import { enc } from "./test-backends.js";

const here = fileURLToPath(import.meta.url);
const childFile = path.join(path.dirname(here), `crash-child${path.extname(here)}`);
const childArgs = path.extname(here) === ".ts" ? ["--import", "tsx", childFile] : [childFile];

const seed = process.env.KVORUM_SEED !== undefined ? Number(process.env.KVORUM_SEED) : Date.now() % 100_000;

/** Deterministic delays from the seed (xorshift). */
function delays(n: number): number[] {
  let x = seed | 1;
  return Array.from({ length: n }, () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return 20 + (Math.abs(x) % 200);
  });
}

async function runAndKill(dir: string, durability: string, afterReadyMs: number): Promise<void> {
  const child = spawn(process.execPath, [...childArgs, dir, durability], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`child exited early with ${code}`)));
    child.stdout.on("data", (d: Buffer) => {
      if (d.toString().includes("ready")) resolve();
    });
  });
  await new Promise((r) => setTimeout(r, afterReadyMs));
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGKILL");
  await exited;
}

function referenceUpTo(index: number): MvccStore {
  const ref = MvccStore.open(new MemoryBackend());
  for (let i = 1; i <= index; i++) applyEntry(ref, i);
  return ref;
}

for (const durability of ["sync", "lazy"]) {
  test(`SIGKILL while applying (${durability}): applied index and data stay consistent (KVORUM_SEED=${seed})`, async () => {
    console.log(`crash test seed: KVORUM_SEED=${seed}`);
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "kvorum-crash-"));
    try {
      let lastIndex = 0;
      for (const ms of delays(2)) {
        await runAndKill(dir, durability, ms);
        const backend = openLmdbBackend(dir);
        const store = MvccStore.open(backend);
        const index = store.appliedIndex();
        assert.ok(index > lastIndex, `progress: ${index} > ${lastIndex}`);
        lastIndex = index;
        const ref = referenceUpTo(index);
        assert.equal(store.currentRevision(), ref.currentRevision());
        assert.equal(store.compactRevision(), ref.compactRevision());
        assert.deepEqual(store.hash(), ref.hash(), `hash at applied index ${index}`);
        const counter = store.range({ key: enc("counter") }).kvs[0];
        assert.ok(counter !== undefined && Number(new TextDecoder().decode(counter.value)) <= index);
        // Replaying from an older index skips what is applied, then continues identically.
        for (let i = Math.max(1, index - 5); i <= index + 20; i++) applyEntry(store, i);
        for (let i = index + 1; i <= index + 20; i++) applyEntry(ref, i);
        assert.deepEqual(store.hash(), ref.hash());
        lastIndex = store.appliedIndex();
        await backend.close();
      }
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
}

/** A backend whose tables throw on the nth put from now on (a crash inside the transaction). */
function faulty(inner: Backend, failAt: number): Backend {
  let puts = 0;
  const wrap = (t: BackendTable): BackendTable => ({
    get: (k) => t.get(k),
    del: (k) => t.del(k),
    range: (s, e, o) => t.range(s, e, o),
    count: (s, e) => t.count(s, e),
    put: (k, v) => {
      if (++puts === failAt) throw new Error("injected fault");
      t.put(k, v);
    },
  });
  return {
    table: (name) => wrap(inner.table(name)),
    writeTxn: (fn) => inner.writeTxn(fn),
    afterCommit: (fn) => inner.afterCommit(fn),
    sizeBytes: () => inner.sizeBytes(),
    sync: () => inner.sync(),
    close: () => inner.close(),
  };
}

test("a fault in the middle of a write transaction leaves data, revision and applied index untouched", async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "kvorum-fault-"));
  try {
    for (const make of [() => new MemoryBackend(), () => openLmdbBackend(dir)]) {
      const inner = make();
      const clean = MvccStore.open(inner);
      for (let i = 1; i <= 30; i++) applyEntry(clean, i);
      const before = { hash: clean.hash(), applied: clean.appliedIndex() };
      for (let failAt = 1; failAt <= 6; failAt++) {
        const store = MvccStore.open(faulty(inner, failAt));
        let events = 0;
        store.subscribe(() => events++);
        assert.throws(() => applyEntry(store, 31), /injected fault/);
        assert.equal(events, 0);
        assert.deepEqual({ hash: clean.hash(), applied: clean.appliedIndex() }, before);
      }
      applyEntry(clean, 31);
      assert.equal(clean.appliedIndex(), 31);
      await inner.close();
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
