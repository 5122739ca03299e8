import { test } from "node:test";
import assert from "node:assert/strict";
import { AutoCompactor } from "./auto-compactor.js";

test("revision mode compacts to current - retention every interval, skipping repeats", async () => {
  let rev = 5;
  const compacted: number[] = [];
  const c = new AutoCompactor({
    mode: "revision",
    retention: 10,
    currentRevision: () => rev,
    compact: async (r) => compacted.push(r),
    now: () => 0,
  });
  assert.equal(c.intervalMs, 300_000);
  await c.check(); // 5 - 10 <= 0
  rev = 30;
  await c.check();
  await c.check(); // same target: skipped
  rev = 31;
  await c.check();
  assert.deepEqual(compacted, [20, 21]);
});

test("periodic mode: first compaction after the retention, to the revision of then", async () => {
  let now = 0;
  let rev = 1;
  const compacted: number[] = [];
  const c = new AutoCompactor({
    mode: "periodic",
    retention: 1000,
    currentRevision: () => rev,
    compact: async (r) => compacted.push(r),
    now: () => now,
  });
  assert.equal(c.intervalMs, 100);
  for (let i = 1; i <= 25; i++) {
    now = i * 100;
    rev = 1 + i * 10; // 10 revisions per 100 ms
    await c.check();
  }
  // Due at t=1000 (rev of t=0: 1), then every 1000 ms, each time to the revision ~1000 ms before.
  assert.deepEqual(compacted, [1, 91]);
});

test("periodic mode counts an already-compacted revision as done", async () => {
  let now = 0;
  let calls = 0;
  const c = new AutoCompactor({
    mode: "periodic",
    retention: 100,
    currentRevision: () => 7,
    compact: async () => {
      calls++;
      throw new Error("etcdserver: mvcc: required revision has been compacted");
    },
    now: () => now,
  });
  now = 100;
  await c.check();
  now = 110;
  await c.check(); // not due again until 200
  assert.equal(calls, 1);
});
