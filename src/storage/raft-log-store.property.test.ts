// Property test: random sequences of append / overwrite (raft truncation) / leader snapshot /
// createSnapshot / compact / hard state / restart, run against both RaftLogStore implementations
// and checked after every step against a simple model of the log.
// Replay a failure with KVORUM_SEED=<seed> (the seed is printed on every run).

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import type { RaftLogStore } from "./raft-log-store.js";
import { durableFactory, memoryFactory, type StoreFactory } from "./store-factories.test-util.js";
import { EntryType, type ConfState, type Entry, type HardState } from "../raft/types.js";

const seed = process.env.KVORUM_SEED ? Number(process.env.KVORUM_SEED) : Date.now() % 2 ** 31;
console.log(`raft-log-store property test seed: ${seed} (replay with KVORUM_SEED=${seed})`);

const CATCH_UP = 3;
const bootstrap: ConfState = { voters: ["a"], learners: [] };

/** The model: a map of live entries plus the snapshot, kept as plainly as possible. */
class Model {
  ents = new Map<number, Entry>();
  /** Every entry of the current log history, compacted ones included (a leader snapshot clears it). */
  history = new Map<number, Entry>();
  first = 1;
  last = 0;
  sentinelTerm = 0;
  maxTerm = 1;
  hs: HardState = { term: 0, vote: "", commit: 0 };
  snap: { index: number; term: number; conf: ConfState; data: Uint8Array } = {
    index: 0,
    term: 0,
    conf: bootstrap,
    data: new Uint8Array(),
  };

  termAt(i: number): number {
    return i === this.first - 1 ? this.sentinelTerm : this.ents.get(i)!.term;
  }
  append(es: Entry[]): void {
    for (let i = es[0]!.index; i <= this.last; i++) this.ents.delete(i);
    for (let i = es[0]!.index; this.history.has(i); i++) this.history.delete(i);
    for (const e of es) this.ents.set(e.index, e);
    for (const e of es) this.history.set(e.index, e);
    this.last = es[es.length - 1]!.index;
  }
  compact(i: number): void {
    this.sentinelTerm = this.termAt(i);
    for (let j = this.first; j <= i; j++) this.ents.delete(j);
    this.first = i + 1;
  }
  leaderSnapshot(index: number, term: number, conf: ConfState, data: Uint8Array): void {
    this.ents.clear();
    this.history.clear();
    this.first = index + 1;
    this.last = index;
    this.sentinelTerm = term;
    this.snap = { index, term, conf, data };
  }
}

type Op = [kind: number, a: number, b: number];
const opArb = fc.tuple(fc.integer({ min: 0, max: 99 }), fc.nat(1000), fc.nat(1000));

function pick(lo: number, hi: number, r: number): number {
  return lo + (r % (hi - lo + 1));
}

function makeEntries(from: number, count: number, term: number, salt: number): Entry[] {
  const out: Entry[] = [];
  for (let i = 0; i < count; i++) {
    const data = new Uint8Array(1 + ((salt + i) % 40)).fill((from + i + salt) & 0xff);
    out.push({ index: from + i, term, type: EntryType.Normal, data });
  }
  return out;
}

function check(s: RaftLogStore, m: Model, exactFirst: boolean): void {
  assert.equal(s.lastIndex(), m.last, "last index");
  if (exactFirst) assert.equal(s.firstIndex(), m.first, "first index");
  else assert.ok(s.firstIndex() <= m.first, `first index ${s.firstIndex()} > model ${m.first}`);
  assert.equal(s.term(m.first - 1), m.sentinelTerm, "term before first index");
  if (m.last >= m.first) {
    const got = s.entries(m.first, m.last + 1);
    assert.equal(got.length, m.last - m.first + 1);
    for (const e of got) assert.deepEqual(e, m.ents.get(e.index), `entry ${e.index}`);
  }
  // Entries kept before the model's first index (a durable store may hold more after a restart)
  // must be the ones the log really had.
  for (let i = s.firstIndex(); i < m.first; i++) {
    const want = m.history.get(i);
    if (want) assert.deepEqual(s.entries(i, i + 1)[0], want, `retained entry ${i}`);
    const prev = m.history.get(i - 1);
    if (i - 1 === s.firstIndex() - 1 && prev) assert.equal(s.term(i - 1), prev.term, `term of ${i - 1}`);
  }
  const snap = s.snapshot();
  assert.equal(snap.metadata.index, m.snap.index, "snapshot index");
  assert.equal(snap.metadata.term, m.snap.term, "snapshot term");
  assert.deepEqual(snap.data, m.snap.data, "snapshot data");
  assert.deepEqual(s.initialState(), { hardState: m.hs, confState: m.snap.conf });
}

async function runOps(factory: StoreFactory, ops: Op[]): Promise<void> {
  const m = new Model();
  let s = await factory.open(bootstrap, CATCH_UP);
  let restarted = false;
  try {
    for (const [kind, a, b] of ops) {
      if (kind < 45) {
        const lo = Math.max(m.first, m.snap.index + 1);
        const overwrite = a % 3 === 0 && m.last >= lo;
        const from = overwrite ? pick(lo, m.last, b) : m.last + 1;
        if (overwrite) m.maxTerm++;
        const es = makeEntries(from, 1 + (b % 5), m.maxTerm, a);
        const hs =
          a % 2 === 0
            ? { term: m.maxTerm, vote: "a", commit: Math.min(from - 1, m.hs.commit + 1) }
            : undefined;
        await s.save(hs ? { entries: es, hardState: hs } : { entries: es }, true);
        m.append(es);
        if (hs) m.hs = hs;
      } else if (kind < 55) {
        m.hs = { term: m.maxTerm, vote: b % 2 ? "b" : "", commit: Math.min(m.last, m.hs.commit + (a % 3)) };
        await s.save({ entries: [], hardState: m.hs }, true);
      } else if (kind < 65) {
        if (m.last <= m.snap.index || m.last < m.first) continue;
        const index = pick(Math.max(m.snap.index + 1, m.first), m.last, a);
        const conf = { voters: ["a", ...(b % 2 ? ["b"] : [])], learners: b % 3 ? [] : ["c"] };
        const data = new Uint8Array([a & 0xff, b & 0xff, index & 0xff]);
        await s.createSnapshot(index, conf, data);
        m.snap = { index, term: m.termAt(index), conf, data };
        if (index - CATCH_UP > m.first - 1) m.compact(index - CATCH_UP);
      } else if (kind < 75) {
        if (m.last < m.first) continue;
        const index = pick(m.first, m.last, a);
        await s.compact(index);
        m.compact(index);
      } else if (kind < 83) {
        // A leader's snapshot: usually past our log with a new term, sometimes matching an entry
        // we hold (the log is still replaced, as MemoryLogStorage.applySnapshot does).
        const lo = Math.max(m.snap.index + 1, m.first);
        const matching = a % 5 === 0 && m.last >= lo;
        const index = matching
          ? pick(lo, m.last, b)
          : Math.max(m.snap.index + 1, m.last + 1 - (a % 4)) + (b % 3);
        const term = matching ? m.termAt(index) : ++m.maxTerm;
        const conf = { voters: ["a", "b"], learners: [] };
        const data = new Uint8Array([9, index & 0xff]);
        const es = makeEntries(index + 1, a % 3, m.maxTerm, b);
        const snapshot = { metadata: { index, term, confState: conf }, data };
        m.hs = { term: m.maxTerm, vote: "", commit: index };
        await s.save({ snapshot, entries: es, hardState: m.hs }, true);
        m.leaderSnapshot(index, term, conf, data);
        if (es.length > 0) m.append(es);
      } else {
        s = await factory.restart(s);
        restarted = true;
      }
      check(s, m, factory.name === "MemoryRaftLogStore" || !restarted);
    }
    s = await factory.restart(s);
    check(s, m, factory.name === "MemoryRaftLogStore");
  } finally {
    await s.close();
    await factory.cleanup();
  }
}

describe("RaftLogStore against a model", () => {
  for (const [factory, runs] of [
    [memoryFactory(), 300],
    [durableFactory(2048), 40],
  ] as const) {
    test(`${factory.name}: random operation sequences match the model`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 60 }), (ops) => runOps(factory, ops)),
        { seed, numRuns: runs },
      );
    });
  }
});
