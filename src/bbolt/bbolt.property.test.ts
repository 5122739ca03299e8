// Round trips of the bbolt writer through the reader: random buckets of random keys and values
// (empty values, values larger than a page so leaves get overflow pages, long keys and many of
// them so trees get several branch levels), and the meta page rules bbolt applies on open.
// Replay a failure with KVORUM_SEED=<seed printed in the test name>.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { BoltReader } from "./reader.js";
import { BoltWriter, writeBoltFile, type BoltEntry } from "./writer.js";
import { PAGE_HEADER_SIZE } from "./layout.js";

const seed = process.env.KVORUM_SEED !== undefined ? Number(process.env.KVORUM_SEED) : Date.now() ^ 0x5eed;

/** A value: mostly short, sometimes empty, sometimes spanning several pages. */
const value = fc.oneof(
  { weight: 6, arbitrary: fc.uint8Array({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.constant(new Uint8Array(0)) },
  { weight: 1, arbitrary: fc.integer({ min: 3000, max: 20_000 }).map((n) => fill(n)) },
);
const key = fc.uint8Array({ minLength: 1, maxLength: 24 });
const bucketContents = fc.uniqueArray(fc.record({ key, value }), {
  size: "medium",
  maxLength: 300,
  selector: (e) => Buffer.from(e.key).toString("hex"),
});
const bucketName = fc.stringMatching(/^[a-z_]{1,12}$/);
const database = fc.uniqueArray(fc.tuple(bucketName, bucketContents), {
  maxLength: 8,
  selector: (b) => b[0],
});

function fill(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + 7) & 0xff;
  return out;
}

function sorted(entries: readonly BoltEntry[]): BoltEntry[] {
  return [...entries].sort((a, b) => Buffer.compare(a.key, b.key));
}

function assertSame(db: BoltReader, buckets: [string, BoltEntry[]][]): void {
  assert.deepEqual(db.check(), []);
  const names = buckets.map(([n]) => n).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  assert.deepEqual(
    db.bucketNames().map((b) => b.toString("utf8")),
    names,
  );
  for (const [name, entries] of buckets) {
    const got = [...db.entries(name)].map((i) => ({ key: Buffer.from(i.key), value: Buffer.from(i.value) }));
    const want = sorted(entries).map((e) => ({ key: Buffer.from(e.key), value: Buffer.from(e.value) }));
    assert.deepEqual(got, want, `bucket ${name}`);
  }
}

test(`random databases read back as written (seed ${seed})`, () => {
  fc.assert(
    fc.property(database, (buckets) => {
      const file = writeBoltFile(buckets);
      assert.equal(file.length % 4096, 0);
      const db = BoltReader.open(file);
      assert.equal(db.size, file.length);
      assertSame(db, buckets);
      // bbolt's inline rule: a bucket whose leaf image fits in a quarter page is stored inline.
      for (const [name, entries] of buckets) {
        const bytes = entries.reduce((n, e) => n + 16 + e.key.length + e.value.length, PAGE_HEADER_SIZE);
        assert.equal(db.isInline(name), bytes <= 1024, `bucket ${name} of ${bytes} bytes`);
      }
    }),
    { seed, numRuns: 60 },
  );
});

test(`many long keys build several branch levels (seed ${seed})`, () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1500, max: 4000 }),
      fc.integer({ min: 150, max: 400 }),
      (count, keyLength) => {
        const entries: BoltEntry[] = [];
        for (let i = 0; i < count; i++) {
          const k = Buffer.alloc(keyLength, 0x6b);
          k.writeUInt32BE(i * 7919, keyLength - 4);
          entries.push({ key: k, value: Buffer.from(String(i)) });
        }
        const db = BoltReader.open(writeBoltFile([["big", entries]]));
        assert.ok(db.depth("big") >= 3, `depth ${db.depth("big")}`);
        assertSame(db, [["big", entries]]);
      },
    ),
    { seed, numRuns: 4 },
  );
});

test("a value larger than a page is stored with overflow pages", () => {
  const big = fill(50_000);
  const db = BoltReader.open(writeBoltFile([["b", [{ key: Buffer.from("k"), value: big }]]]));
  assert.deepEqual(Buffer.from([...db.entries("b")][0]!.value), Buffer.from(big));
  assert.equal(db.size, (3 + 13 + 1) * 4096); // meta x2, freelist, leaf + 12 overflow, root leaf
  assert.deepEqual(db.check(), []);
});

test("an empty database has only the root bucket", () => {
  const db = BoltReader.open(writeBoltFile([]));
  assert.deepEqual(db.bucketNames(), []);
  assert.equal(db.size, 4 * 4096);
  assert.equal(db.meta.root, 3);
});

test("open uses the newest valid meta page and rejects a file without one", () => {
  const file = writeBoltFile([["b", [{ key: Buffer.from("k"), value: Buffer.from("v") }]]]);
  assert.equal(BoltReader.open(file).meta.txid, 1n);
  const meta1Damaged = Buffer.from(file);
  meta1Damaged[4096 + PAGE_HEADER_SIZE + 20] ^= 0xff; // inside meta 1, under its checksum
  assert.equal(BoltReader.open(meta1Damaged).meta.txid, 0n);
  const bothDamaged = Buffer.from(meta1Damaged);
  bothDamaged[PAGE_HEADER_SIZE + 20] ^= 0xff;
  assert.throws(() => BoltReader.open(bothDamaged), /checksum error/);
  const notBolt = Buffer.alloc(16384);
  assert.throws(() => BoltReader.open(notBolt), /invalid database/);
});

test("the writer refuses out-of-order or empty keys and bucket names", () => {
  const w = new BoltWriter();
  const b = w.bucket("b");
  b.add(Buffer.from("b"), Buffer.alloc(0));
  assert.throws(() => b.add(Buffer.from("a"), Buffer.alloc(0)), /ascending/);
  assert.throws(() => b.add(Buffer.alloc(0), Buffer.alloc(0)), /empty key/);
  assert.throws(() => w.bucket("a"), /ascending name order/);
});

test("a bucket is inline up to a quarter page of leaf image, and not one byte more", () => {
  // bbolt inlines a bucket whose leaf image (page header + elements + keys + values) is <= 1024.
  const entries = (extra: number): BoltEntry[] =>
    Array.from({ length: 31 }, (_, i) => ({
      key: Buffer.from(String(i).padStart(4, "0")),
      value: Buffer.alloc(i === 30 ? 12 + extra : 12),
    }));
  const size = (e: BoltEntry[]) =>
    e.reduce((n, x) => n + 16 + x.key.length + x.value.length, PAGE_HEADER_SIZE);
  const fits = entries(1024 - size(entries(0)));
  assert.equal(size(fits), 1024);
  assert.equal(BoltReader.open(writeBoltFile([["b", fits]])).isInline("b"), true);
  const over = entries(1025 - size(entries(0)));
  assert.equal(BoltReader.open(writeBoltFile([["b", over]])).isInline("b"), false);
  assert.equal(BoltReader.open(writeBoltFile([["b", over]])).depth("b"), 1);
});
