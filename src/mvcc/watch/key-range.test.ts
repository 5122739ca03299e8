// KeyRange normalisation (etcd's range-end conventions), prefixEnd, and the watcher index checked
// against brute force on random ranges and keys (replay with KVORUM_SEED=<seed printed below>).
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { KeyRange, prefixEnd } from "./key-range.js";
import { WatcherIndex } from "./watcher-index.js";

const b = (...bytes: number[]) => new Uint8Array(bytes);
const seed = process.env.KVORUM_SEED !== undefined ? Number(process.env.KVORUM_SEED) : Date.now() % 2 ** 31;

test("prefixEnd increments the last byte below 0xff and drops trailing 0xff", () => {
  assert.deepEqual(prefixEnd(b(1, 2)), b(1, 3));
  assert.deepEqual(prefixEnd(b(1, 0xff)), b(2));
  assert.deepEqual(prefixEnd(b(0xff, 0xff)), b(0));
});

test("KeyRange.of and prefixEnd never modify the caller's Buffer", () => {
  const key = Buffer.from("/a/");
  const end = Buffer.from("/a0");
  assert.deepEqual(prefixEnd(key), b(0x2f, 0x61, 0x30));
  const range = KeyRange.of(key, end)!;
  assert.equal(key.toString(), "/a/");
  assert.equal(range.kind, "prefix");
  key[1] = 0x7a; // the caller reuses its buffer
  assert.ok(range.contains(Buffer.from("/a/x")) && !range.contains(Buffer.from("/z/x")));
});

test("KeyRange.of follows etcd's conventions", () => {
  assert.equal(KeyRange.of(b(5))!.kind, "single");
  assert.equal(KeyRange.of(b(5), b())!.kind, "single");
  assert.equal(KeyRange.of(b(5), b(0))!.kind, "fromKey");
  assert.equal(KeyRange.of(b(5), b(6))!.kind, "prefix");
  assert.equal(KeyRange.of(b(5), b(7))!.kind, "range");
  assert.equal(KeyRange.of(b(5), b(5)), undefined);
  assert.equal(KeyRange.of(b(6), b(5)), undefined);
  const everything = KeyRange.of(b(), b(0))!; // empty key = "\0"
  assert.ok(everything.contains(b(0)) && everything.contains(b(0xff, 0xff)));
  const prefix = KeyRange.of(b(1, 0xff), b(2))!;
  assert.equal(prefix.kind, "prefix");
  assert.ok(prefix.contains(b(1, 0xff, 7)) && !prefix.contains(b(2)) && !prefix.contains(b(1, 0xfe)));
});

test(`watcher index matches brute force (seed ${seed})`, () => {
  const key = fc.uint8Array({ minLength: 0, maxLength: 3, max: 4 });
  const spec = fc.record({ key, end: fc.oneof(fc.constant(undefined), fc.constant(b(0)), key) });
  fc.assert(
    fc.property(
      fc.array(spec, { maxLength: 30 }),
      fc.array(key, { maxLength: 20 }),
      fc.nat(),
      (specs, keys, drop) => {
        const index = new WatcherIndex<{ range: KeyRange; n: number }>();
        const all = specs.flatMap((s, n) => {
          const range = KeyRange.of(s.key, s.end);
          return range ? [{ range, n }] : [];
        });
        for (const w of all) index.add(w);
        const removed = all.filter((_, i) => (i + drop) % 3 === 0);
        for (const w of removed) index.remove(w);
        const live = all.filter((w) => !removed.includes(w));
        assert.equal(index.size, live.length);
        for (const k of keys) {
          const probe = k.length === 0 ? b(0) : k;
          const found: number[] = [];
          index.forEachMatch(probe, Buffer.from(probe).toString("latin1"), (w) => found.push(w.n));
          const expected = live.filter((w) => w.range.contains(probe)).map((w) => w.n);
          assert.deepEqual(
            found.sort((x, y) => x - y),
            expected.sort((x, y) => x - y),
          );
        }
      },
    ),
    { seed, numRuns: 300 },
  );
});
