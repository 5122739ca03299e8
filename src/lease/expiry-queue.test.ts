// Property tests of the intrusive expiry heap against a plain Map model: after any sequence of
// upserts and removals, popping in order yields the model's entries sorted by deadline; reset()
// builds the same order. Replay a failure with KVORUM_SEED=<seed printed in the test name>.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { ExpiryQueue } from "./expiry-queue.js";

const seed = process.env.KVORUM_SEED !== undefined ? Number(process.env.KVORUM_SEED) : Date.now() ^ 0x5eed;

interface Item {
  id: number;
  at: number;
  heapIndex: number;
}

const items = (n: number): Item[] => Array.from({ length: n }, (_, id) => ({ id, at: 0, heapIndex: -1 }));

function drain(queue: ExpiryQueue<Item>): number[] {
  const out: number[] = [];
  for (let top = queue.peek(); top !== undefined; top = queue.peek()) {
    out.push(top.at);
    queue.remove(top);
    assert.equal(top.heapIndex, -1);
  }
  return out;
}

test(`expiry queue matches a map model (seed ${seed})`, () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant("upsert" as const), id: fc.nat(20), at: fc.integer({ min: 0, max: 50 }) }),
    fc.record({ kind: fc.constant("remove" as const), id: fc.nat(20) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
      const pool = items(21);
      const queue = new ExpiryQueue<Item>();
      const model = new Map<number, number>();
      for (const o of ops) {
        if (o.kind === "upsert") {
          queue.upsert(pool[o.id]!, o.at);
          model.set(o.id, o.at);
        } else {
          queue.remove(pool[o.id]!);
          model.delete(o.id);
        }
        assert.equal(queue.size, model.size);
        assert.equal(queue.peek()?.at, model.size === 0 ? undefined : Math.min(...model.values()));
        for (const item of pool) assert.equal(queue.has(item), model.has(item.id));
      }
      assert.deepEqual(
        drain(queue),
        [...model.values()].sort((a, b) => a - b),
      );
    }),
    { seed, numRuns: 300 },
  );
});

test(`reset builds the same order as upserts (seed ${seed})`, () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 99 }), { maxLength: 100 }), (ats) => {
      const pool = items(ats.length + 1);
      const queue = new ExpiryQueue<Item>();
      queue.upsert(pool[ats.length]!, -1); // dropped by reset
      const given = ats.map((at, i) => Object.assign(pool[i]!, { at }));
      queue.reset(given);
      assert.equal(queue.has(pool[ats.length]!), false);
      assert.deepEqual(
        drain(queue),
        [...ats].sort((a, b) => a - b),
      );
    }),
    { seed, numRuns: 200 },
  );
  const [a] = items(1);
  assert.throws(() => new ExpiryQueue<Item>().reset([a!, a!]), /twice/);
});

test("clear empties the queue and releases its items", () => {
  const [a] = items(1);
  const queue = new ExpiryQueue<Item>();
  queue.upsert(a!, 5);
  queue.clear();
  assert.equal(queue.size, 0);
  assert.equal(queue.peek(), undefined);
  assert.equal(queue.has(a!), false);
  queue.upsert(a!, 7);
  assert.equal(queue.peek(), a);
  assert.equal(a!.at, 7);
});
