// Tests of server-chosen lease ids: layout, positivity, never 0, uniqueness within a run, across
// members, and across a restart a millisecond later.

import assert from "node:assert/strict";
import { test } from "node:test";
import { LeaseIdGenerator } from "./id-generator.js";

const T0 = 1_763_900_000_000;

test("layout: member prefix, start timestamp, counter starting at 1", () => {
  const gen = new LeaseIdGenerator(0xabcdn, T0);
  const id = gen.next();
  assert.equal(id >> 48n, 0x2bcdn, "low 16 bits of the member id, top bit cleared");
  assert.equal((id >> 8n) & ((1n << 40n) - 1n), BigInt(T0) & ((1n << 40n) - 1n));
  assert.equal(id & 0xffn, 1n);
  assert.equal(gen.next(), id + 1n);
});

test("ids are positive int64s, even with all member bits set", () => {
  const gen = new LeaseIdGenerator((1n << 64n) - 1n, T0);
  for (let i = 0; i < 1000; i++) {
    const id = gen.next();
    assert.ok(id > 0n && id < 1n << 63n);
  }
});

test("never 0: member 0 at time 0 skips the zero id", () => {
  const gen = new LeaseIdGenerator(0n, 0);
  assert.equal(gen.next(), 1n);
  const wrapping = new LeaseIdGenerator(0x8000n, 2 ** 40 - 1);
  // suffix is all ones: next wraps the 48-bit suffix to 0 and the prefix bit is masked off.
  for (let i = 0; i < 300; i++) assert.notEqual(wrapping.next(), 0n);
});

test("skips ids reported taken", () => {
  const gen = new LeaseIdGenerator(1n, T0);
  const first = new LeaseIdGenerator(1n, T0).next();
  assert.equal(
    gen.next((id) => id === first),
    first + 1n,
  );
});

test("unique within a run, across members, and after a restart 1 ms later", () => {
  const seen = new Set<bigint>();
  const a = new LeaseIdGenerator(1n, T0);
  const b = new LeaseIdGenerator(2n, T0);
  for (let i = 0; i < 200; i++) {
    seen.add(a.next());
    seen.add(b.next());
  }
  const restarted = new LeaseIdGenerator(1n, T0 + 1);
  for (let i = 0; i < 200; i++) seen.add(restarted.next());
  assert.equal(seen.size, 600);
});

test("refuses a bad start time", () => {
  assert.throws(() => new LeaseIdGenerator(1n, -1), RangeError);
  assert.throws(() => new LeaseIdGenerator(1n, 1.5), RangeError);
});
