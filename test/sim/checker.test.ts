// Unit tests of the simulator's safety checkers on hand-made observations: each rule break is
// reported with its kind, and correct histories report nothing.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Checker } from "./checker.js";
import { MemoryLogStorage } from "../../src/storage/memory-log-storage.js";
import { EntryType, type Entry } from "../../src/raft/types.js";

const ent = (index: number, term: number, data = `x${index}`): Entry => ({
  index,
  term,
  type: EntryType.Normal,
  data: new TextEncoder().encode(data),
});

const kinds = (c: Checker): string[] => c.violations.map((v) => v.kind);

test("one leader per term is fine; a second leader in the same term is reported", () => {
  const c = new Checker();
  c.observeRole("a", "leader", 1);
  c.observeRole("a", "leader", 1);
  c.observeRole("b", "leader", 2);
  c.observeRole("c", "follower", 2);
  assert.deepEqual(kinds(c), []);
  c.observeRole("c", "leader", 2);
  assert.deepEqual(kinds(c), ["two-leaders-in-term"]);
});

test("log matching: same index and term with a different entry or a different prefix", () => {
  const c = new Checker();
  const a = new MemoryLogStorage();
  const b = new MemoryLogStorage();
  a.append([ent(1, 1), ent(2, 1)]);
  c.observePersistedEntries("a", a, [ent(1, 1), ent(2, 1)]);
  b.append([ent(1, 1), ent(2, 1)]);
  c.observePersistedEntries("b", b, [ent(1, 1), ent(2, 1)]);
  assert.deepEqual(kinds(c), []);
  const d = new MemoryLogStorage();
  d.append([ent(1, 2), ent(2, 1)]);
  c.observePersistedEntries("d", d, [ent(1, 2), ent(2, 1)]);
  assert.deepEqual(kinds(c), ["log-matching"], "entry 2 term 1 after a different entry 1");
  const e = new MemoryLogStorage();
  e.append([ent(1, 1), ent(2, 1, "other")]);
  c.observePersistedEntries("e", e, [ent(1, 1), ent(2, 1, "other")]);
  assert.deepEqual(kinds(c), ["log-matching", "log-matching"]);
});

test("state-machine safety and applying beyond commit", () => {
  const c = new Checker();
  assert.equal(c.observeApply("a", ent(1, 1), 1, "k"), true);
  assert.equal(c.observeApply("b", ent(1, 1), 1, "k"), false);
  assert.deepEqual(kinds(c), []);
  c.observeApply("c", ent(1, 2), 1, "k");
  assert.deepEqual(kinds(c), ["state-machine-safety"]);
  c.observeApply("c", ent(2, 2), 1, "k");
  assert.deepEqual(kinds(c), ["state-machine-safety", "apply-uncommitted"]);
});

test("commit may not go down in memory, on disk, or across a restart", () => {
  const c = new Checker();
  c.observeMemoryCommit("a#0#1", "a#0", 0);
  c.observeMemoryCommit("a#0#1", "a#0", 5);
  c.observePersistedHardState("a#0", { term: 1, vote: "a", commit: 5 });
  c.observeMemoryCommit("a#0#2", "a#0", 5);
  assert.deepEqual(kinds(c), []);
  c.observeMemoryCommit("a#0#2", "a#0", 4);
  c.observePersistedHardState("a#0", { term: 1, vote: "a", commit: 3 });
  c.observeMemoryCommit("a#0#3", "a#0", 2);
  assert.deepEqual(kinds(c), ["commit-decreased", "commit-decreased", "commit-decreased"]);
});

test("a read must see writes acknowledged before it was issued", () => {
  const c = new Checker();
  c.observeApply("a", ent(1, 1), 1, "k");
  c.readIssued("r1", "k");
  c.observeApply("a", ent(2, 1), 2, "k");
  c.readIndexGranted("r1", "a", 1);
  c.readCompleted("r1", "a", 1);
  assert.deepEqual(kinds(c), [], "the write at 2 came after the read was issued");
  c.readIssued("r2", "k");
  c.readIndexGranted("r2", "b", 1);
  c.readCompleted("r2", "b", 1);
  assert.deepEqual(kinds(c), ["stale-read", "stale-read"]);
});

test("leader completeness: a new leader must hold every committed entry", () => {
  const c = new Checker();
  c.observeApply("a", ent(1, 1), 2, undefined);
  c.observeApply("a", ent(2, 1), 2, undefined);
  const good = new MemoryLogStorage();
  good.append([ent(1, 1), ent(2, 1), ent(3, 2)]);
  c.checkLeaderCompleteness("b#0", 2, 3, good);
  assert.deepEqual(kinds(c), []);
  const short = new MemoryLogStorage();
  short.append([ent(1, 1), ent(2, 3)]);
  c.checkLeaderCompleteness("c#0", 3, 2, short);
  assert.deepEqual(kinds(c), ["leader-completeness"]);
});

test("a flood of one kind is counted in full but listed only a few times", () => {
  const c = new Checker();
  for (let t = 1; t <= 20; t++) {
    c.observeRole("a", "leader", t);
    c.observeRole("b", "leader", t);
  }
  assert.equal(c.count, 20);
  assert.ok(c.violations.length < 20);
});
