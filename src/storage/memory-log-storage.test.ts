import { test } from "node:test";
import assert from "node:assert/strict";
import { MemoryLogStorage } from "./memory-log-storage.js";
import { LogCompactedError, LogUnavailableError } from "../raft/errors.js";
import { EntryType, type Entry } from "../raft/types.js";

const ent = (index: number, term: number): Entry => ({
  index,
  term,
  type: EntryType.Normal,
  data: new Uint8Array([index]),
});

test("a new log is empty: first index 1, last index 0, term(0) = 0", () => {
  const s = new MemoryLogStorage({ voters: ["a"], learners: [] });
  assert.equal(s.firstIndex(), 1);
  assert.equal(s.lastIndex(), 0);
  assert.equal(s.term(0), 0);
  assert.deepEqual(s.initialState().confState.voters, ["a"]);
});

test("append replaces a conflicting suffix", () => {
  const s = new MemoryLogStorage();
  s.append([ent(1, 1), ent(2, 1), ent(3, 1)]);
  s.append([ent(2, 2)]);
  assert.equal(s.lastIndex(), 2);
  assert.equal(s.term(2), 2);
  assert.throws(() => s.term(3), LogUnavailableError);
});

test("append refuses a gap", () => {
  const s = new MemoryLogStorage();
  s.append([ent(1, 1)]);
  assert.throws(() => s.append([ent(3, 1)]), LogUnavailableError);
});

test("compact keeps the term of the compacted index and refuses reads before it", () => {
  const s = new MemoryLogStorage();
  s.append([ent(1, 1), ent(2, 1), ent(3, 2), ent(4, 2)]);
  s.compact(3);
  assert.equal(s.firstIndex(), 4);
  assert.equal(s.term(3), 2);
  assert.throws(() => s.entries(3, 5), LogCompactedError);
  assert.deepEqual(
    s.entries(4, 5).map((e) => e.index),
    [4],
  );
});

test("entries honours maxBytes but always returns at least one entry", () => {
  const s = new MemoryLogStorage();
  s.append([ent(1, 1), ent(2, 1), ent(3, 1)]);
  assert.equal(s.entries(1, 4, 0).length, 1);
  assert.equal(s.entries(1, 4).length, 3);
});

test("applySnapshot resets the log to the snapshot point", () => {
  const s = new MemoryLogStorage();
  s.append([ent(1, 1), ent(2, 1)]);
  s.applySnapshot({
    metadata: { index: 10, term: 3, confState: { voters: ["a", "b"], learners: [] } },
    data: new Uint8Array(),
  });
  assert.equal(s.firstIndex(), 11);
  assert.equal(s.lastIndex(), 10);
  assert.equal(s.term(10), 3);
  s.append([ent(11, 3)]);
  assert.equal(s.lastIndex(), 11);
});
