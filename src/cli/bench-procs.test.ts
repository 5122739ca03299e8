import { test } from "node:test";
import assert from "node:assert/strict";
import { childArgs, shares } from "./bench-procs.js";
import type { BenchOptions } from "./bench.js";

test("shares split a count into whole parts that differ by at most one and add up", () => {
  assert.deepEqual(shares(10, 3), [4, 3, 3]);
  assert.deepEqual(shares(2, 4), [1, 1, 0, 0]);
  for (const [n, p] of [
    [301, 3],
    [100, 7],
    [5, 5],
  ] as const) {
    const s = shares(n, p);
    assert.equal(
      s.reduce((a, b) => a + b, 0),
      n,
    );
    assert.ok(Math.max(...s) - Math.min(...s) <= 1);
  }
});

test("each child gets its share of clients, connections and requests, and the shared settings", () => {
  const opts: BenchOptions = {
    endpoints: ["a:1", "b:2"],
    conns: 2,
    clients: 7,
    total: 100,
    durationSec: 0,
    keySize: 16,
    valSize: 256,
    keySpaceSize: 1000,
    sequentialKeys: true,
    consistency: "s",
    targetLeader: false,
    json: false,
    progress: false,
  };
  const args = [0, 1, 2].map((i) => childArgs("range", opts, 3, i));
  const value = (a: string[], flag: string) => a[a.indexOf(flag) + 1];
  assert.deepEqual(
    args.map((a) => Number(value(a, "--clients"))),
    [3, 2, 2],
  );
  assert.deepEqual(
    args.map((a) => Number(value(a, "--total"))),
    [34, 33, 33],
  );
  // Two connections for three processes: each process still needs one.
  assert.deepEqual(
    args.map((a) => Number(value(a, "--conns"))),
    [1, 1, 1],
  );
  for (const a of args) {
    assert.equal(value(a, "--endpoints"), "a:1,b:2");
    assert.equal(value(a, "--consistency"), "s");
    assert.ok(a.includes("--sequential-keys") && a.includes("--child-report") && a.includes("--json"));
  }
  const timed = childArgs("put", { ...opts, durationSec: 5 }, 2, 1);
  assert.equal(value(timed, "--duration"), "5");
  assert.ok(!timed.includes("--total"));
});
