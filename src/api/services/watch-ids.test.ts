import assert from "node:assert/strict";
import { test } from "node:test";
import { WatchIdMap } from "./watch-ids.js";

test("safe watch IDs pass through; larger ones get non-integer stand-ins while they live", () => {
  const ids = new WatchIdMap();
  assert.deepEqual(ids.forCreate(0n), { id: 0, fresh: false });
  assert.deepEqual(ids.forCreate(-5n), { id: -5, fresh: false });
  assert.deepEqual(ids.forCreate(9007199254740991n), { id: 9007199254740991, fresh: false });

  const big = 9007199254740993n;
  const min = -(2n ** 63n);
  const a = ids.forCreate(big);
  const b = ids.forCreate(min);
  assert.ok(a.fresh && b.fresh);
  assert.ok(!Number.isInteger(a.id) && !Number.isInteger(b.id) && a.id !== b.id);
  assert.deepEqual(ids.forCreate(big), { id: a.id, fresh: false }, "the same ID maps the same way");
  assert.equal(ids.lookup(big), a.id);
  assert.equal(ids.lookup(9007199254740995n), undefined);
  assert.equal(ids.lookup(7n), 7);
  assert.equal(ids.clientId(a.id), "9007199254740993");
  assert.equal(ids.clientId(b.id), "-9223372036854775808");
  assert.equal(ids.clientId(-1), "-1");
  assert.equal(ids.clientId(42), "42");

  ids.release(a.id);
  assert.equal(ids.lookup(big), undefined);
  assert.equal(ids.clientId(a.id), String(a.id));
  ids.release(3); // not a stand-in: nothing happens
  assert.equal(ids.lookup(min), b.id);
});
