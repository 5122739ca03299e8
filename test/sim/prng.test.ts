// The simulator's PRNG and event queue: reproducible from a seed, in range, and ordered.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Prng } from "./prng.js";
import { EventQueue } from "./event-queue.js";

test("the same seed gives the same sequence; different seeds differ", () => {
  const a = new Prng(7);
  const b = new Prng(7);
  const c = new Prng(8);
  const sa = Array.from({ length: 50 }, () => a.nextU32());
  const sb = Array.from({ length: 50 }, () => b.nextU32());
  const sc = Array.from({ length: 50 }, () => c.nextU32());
  assert.deepEqual(sa, sb);
  assert.notDeepEqual(sa, sc);
});

test("values stay in range and cover it", () => {
  const r = new Prng(1);
  const seen = new Set<number>();
  for (let i = 0; i < 2000; i++) {
    const f = r.next();
    assert.ok(f >= 0 && f < 1);
    const n = r.range(3, 7);
    assert.ok(n >= 3 && n <= 7 && Number.isInteger(n));
    seen.add(n);
  }
  assert.deepEqual([...seen].sort(), [3, 4, 5, 6, 7]);
});

test("shuffle is a permutation", () => {
  const r = new Prng(3);
  const items = [1, 2, 3, 4, 5, 6];
  assert.deepEqual([...r.shuffle(items)].sort(), items);
});

test("event queue pops by time, then by insertion order", () => {
  const q = new EventQueue<string>();
  const r = new Prng(9);
  const pushed: { t: number; s: string }[] = [];
  for (let i = 0; i < 200; i++) {
    const t = r.int(20);
    q.push(t, `e${i}`);
    pushed.push({ t, s: `e${i}` });
  }
  q.removeWhere((s) => s.endsWith("7"));
  const expected = pushed
    .filter((p) => !p.s.endsWith("7"))
    .sort((a, b) => a.t - b.t)
    .map((p) => p.s);
  const got: string[] = [];
  for (let e = q.pop(); e !== undefined; e = q.pop()) got.push(e.item);
  assert.deepEqual(got, expected);
});
