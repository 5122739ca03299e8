// Property test of the indexed expiry heap against a plain Map model: after any sequence of
// upserts and removals, popping in order yields the model's entries sorted by deadline.
// Replay a failure with KVORUM_SEED=<seed printed below>.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { ExpiryQueue } from "./expiry-queue.js";

const seed = process.env.KVORUM_SEED !== undefined ? Number(process.env.KVORUM_SEED) : Date.now() ^ 0x5eed;

test(`expiry queue matches a map model (seed ${seed})`, () => {
  const op = fc.oneof(
    fc.record({
      kind: fc.constant("upsert" as const),
      id: fc.bigInt(0n, 20n),
      at: fc.integer({ min: 0, max: 50 }),
    }),
    fc.record({ kind: fc.constant("remove" as const), id: fc.bigInt(0n, 20n) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
      const queue = new ExpiryQueue();
      const model = new Map<bigint, number>();
      for (const o of ops) {
        if (o.kind === "upsert") {
          queue.upsert(o.id, o.at);
          model.set(o.id, o.at);
        } else {
          queue.remove(o.id);
          model.delete(o.id);
        }
        assert.equal(queue.size, model.size);
        const min = Math.min(...model.values());
        assert.equal(queue.peek()?.at, model.size === 0 ? undefined : min);
      }
      const popped: number[] = [];
      for (let top = queue.peek(); top !== undefined; top = queue.peek()) {
        assert.equal(model.get(top.id), top.at);
        popped.push(top.at);
        queue.remove(top.id);
      }
      assert.deepEqual(
        popped,
        [...model.values()].sort((a, b) => a - b),
      );
    }),
    { seed, numRuns: 300 },
  );
});

test("clear empties the queue", () => {
  const queue = new ExpiryQueue();
  queue.upsert(1n, 5);
  queue.clear();
  assert.equal(queue.size, 0);
  assert.equal(queue.peek(), undefined);
  queue.upsert(1n, 7);
  assert.deepEqual(queue.peek(), { id: 1n, at: 7 });
});

test(`reset builds the same order as upserts (seed ${seed})`, () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.bigInt(0n, 1000n)),
      fc.array(fc.integer({ min: 0, max: 99 })),
      (ids, ats) => {
        const entries = ids.map((id, i) => ({ id, at: ats[i % Math.max(ats.length, 1)] ?? 0 }));
        const queue = new ExpiryQueue();
        queue.upsert(5000n, -1);
        queue.reset(entries);
        const popped: number[] = [];
        for (let top = queue.peek(); top !== undefined; top = queue.peek()) {
          popped.push(top.at);
          queue.remove(top.id);
        }
        assert.deepEqual(
          popped,
          entries.map((e) => e.at).sort((a, b) => a - b),
        );
      },
    ),
    { seed, numRuns: 200 },
  );
  assert.throws(
    () =>
      new ExpiryQueue().reset([
        { id: 1n, at: 1 },
        { id: 1n, at: 2 },
      ]),
    /twice/,
  );
});
