// The RaftLogStore contract, run against the in-memory twin and the durable store alike. Every
// check is repeated after a restart (a no-op for the twin, a full recovery for the durable store).

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { LogCompactedError, LogUnavailableError } from "../raft/errors.js";
import type { RaftLogStore } from "./raft-log-store.js";
import {
  durableFactory,
  entry,
  memoryFactory,
  range,
  type StoreFactory,
} from "./store-factories.test-util.js";

const conf = { voters: ["a", "b", "c"], learners: ["d"] };

function terms(s: RaftLogStore, lo: number, hi: number): number[] {
  return s.entries(lo, hi).map((e) => e.term);
}

for (const factory of [memoryFactory(), durableFactory()] as StoreFactory[]) {
  describe(`RaftLogStore contract: ${factory.name}`, () => {
    after(() => factory.cleanup());

    test("a new store is empty and reports the bootstrap membership", async () => {
      let s = await factory.open(conf, 0);
      for (let round = 0; round < 2; round++) {
        assert.equal(s.firstIndex(), 1);
        assert.equal(s.lastIndex(), 0);
        assert.equal(s.term(0), 0);
        assert.deepEqual(s.initialState(), { hardState: { term: 0, vote: "", commit: 0 }, confState: conf });
        s = await factory.restart(s);
      }
      await s.close();
    });

    test("entries and hard state are read back; an overwrite replaces the suffix", async () => {
      let s = await factory.open(conf, 0);
      await s.save({ entries: range(1, 5, 1), hardState: { term: 1, vote: "a", commit: 2 } }, true);
      await s.save({ entries: range(4, 6, 2), hardState: { term: 2, vote: "b", commit: 3 } }, true);
      for (let round = 0; round < 2; round++) {
        assert.equal(s.lastIndex(), 6);
        assert.deepEqual(terms(s, 1, 7), [1, 1, 1, 2, 2, 2]);
        assert.deepEqual(s.entries(4, 5)[0]!.data, entry(4, 2).data);
        assert.deepEqual(s.initialState().hardState, { term: 2, vote: "b", commit: 3 });
        assert.throws(() => s.term(7), LogUnavailableError);
        s = await factory.restart(s);
      }
      await s.close();
    });

    test("a saved leader snapshot replaces the log", async () => {
      let s = await factory.open(conf, 0);
      await s.save({ entries: range(1, 3, 1) }, true);
      const snap = {
        metadata: { index: 10, term: 3, confState: { voters: ["a", "b"], learners: [] } },
        data: new Uint8Array([9, 9]),
      };
      await s.save(
        { snapshot: snap, entries: range(11, 12, 3), hardState: { term: 3, vote: "", commit: 10 } },
        true,
      );
      for (let round = 0; round < 2; round++) {
        assert.equal(s.firstIndex(), 11);
        assert.equal(s.lastIndex(), 12);
        assert.equal(s.term(10), 3);
        assert.deepEqual(s.snapshot(), snap);
        assert.deepEqual(s.initialState().confState, snap.metadata.confState);
        assert.throws(() => s.entries(10, 12), LogCompactedError);
        s = await factory.restart(s);
      }
      await s.close();
    });

    test("createSnapshot keeps a catch-up tail and compact discards older entries", async () => {
      let s = await factory.open(conf, 3);
      await s.save({ entries: range(1, 20, 1) }, true);
      const snap = await s.createSnapshot(10, conf, new Uint8Array([1, 2, 3]));
      assert.equal(snap.metadata.term, 1);
      assert.equal(s.firstIndex(), 8);
      for (let round = 0; round < 2; round++) {
        assert.ok(s.firstIndex() <= 8, `first index ${s.firstIndex()}`);
        assert.equal(s.lastIndex(), 20);
        assert.equal(s.snapshot().metadata.index, 10);
        assert.deepEqual(s.snapshot().data, new Uint8Array([1, 2, 3]));
        assert.deepEqual(terms(s, 8, 21), Array(13).fill(1));
        s = await factory.restart(s);
      }
      await s.compact(10);
      assert.equal(s.firstIndex(), 11);
      assert.throws(() => s.entries(10, 11), LogCompactedError);
      await assert.rejects(s.createSnapshot(9, conf, new Uint8Array()));
      await s.close();
    });

    test("an overwrite reaching back past the newest segment's start survives release and restart", async () => {
      let s = await factory.open(conf, 2);
      const big = (i: number, t: number) => entry(i, t, new Uint8Array(100).fill(t));
      // ~30 of these fill a 4 KiB segment: entries 1..40 span two segments.
      for (let i = 1; i <= 40; i++) await s.save({ entries: [big(i, 1)] }, true);
      // Rewrite from 20 (below the newest segment's first index), then continue to 45.
      const rewrite = [];
      for (let i = 20; i <= 45; i++) rewrite.push(big(i, 2));
      await s.save({ entries: rewrite }, true);
      // Release the older segment: the newest one now starts the WAL.
      await s.createSnapshot(38, conf, new Uint8Array([7]));
      s = await factory.restart(s);
      assert.equal(s.lastIndex(), 45);
      for (let i = Math.max(s.firstIndex(), 20); i <= 45; i++) assert.equal(s.term(i), 2, `term of ${i}`);
      const before = s.firstIndex() - 1;
      assert.equal(s.term(before), before >= 20 ? 2 : 1, `term of ${before}`);
      await s.close();
    });

    test("entries honours maxBytes but returns at least one entry", async () => {
      const s = await factory.open(conf, 0);
      await s.save({ entries: range(1, 3, 1) }, true);
      assert.equal(s.entries(1, 4, 0).length, 1);
      assert.equal(s.entries(1, 4).length, 3);
      await s.close();
    });

    test("a gap in appended entries is refused", async () => {
      const s = await factory.open(conf, 0);
      await s.save({ entries: range(1, 2, 1) }, true);
      await assert.rejects(s.save({ entries: range(4, 4, 1) }, true), LogUnavailableError);
      await s.close();
    });
  });
}
