import assert from "node:assert/strict";
import { test } from "node:test";
import { ByteQueue } from "./byte-queue.js";

test("takes across chunk boundaries, in order, and peek leaves the bytes", () => {
  const q = new ByteQueue();
  q.push(Buffer.from([1, 2]));
  q.push(Buffer.alloc(0));
  q.push(Buffer.from([3, 4, 5]));
  q.push(Buffer.from([6]));
  assert.equal(q.length, 6);
  assert.deepEqual([...q.peek(3)], [1, 2, 3]);
  assert.equal(q.length, 6);
  assert.deepEqual([...q.take(0)], []);
  assert.deepEqual([...q.take(1)], [1]);
  assert.deepEqual([...q.take(3)], [2, 3, 4]);
  assert.equal(q.length, 2);
  assert.deepEqual([...q.take(2)], [5, 6]);
  assert.equal(q.length, 0);
  assert.deepEqual([...q.take(0)], []);
});
