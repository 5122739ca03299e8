// Smoke test of the whole core: three members elect a leader, replicate and commit proposals.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Router, enc } from "./router.test-util.js";

describe("raft smoke", () => {
  test("three members elect a leader, replicate and apply proposals in order", () => {
    const r = new Router(["a", "b", "c"]);
    r.elect("a");
    assert.deepEqual(r.leaders(), ["a"]);
    for (let i = 0; i < 5; i++) r.node("a").propose(enc(`v${i}`));
    r.stabilize();
    for (const id of ["a", "b", "c"]) {
      assert.deepEqual(r.appliedData(id), ["v0", "v1", "v2", "v3", "v4"]);
      assert.equal(r.node(id).status().hardState.commit, 6);
    }
  });

  test("an election happens by ticking alone", () => {
    const r = new Router(["a", "b", "c"], {}, []);
    r.tickAll(25);
    assert.equal(r.leaders().length, 1);
  });

  test("determinism: the same inputs (including the random source) give the same Readys", () => {
    const trace = (): string[] => {
      const r = new Router(["a", "b", "c"]);
      const out: string[] = [];
      r.filter = (m) => {
        out.push(
          `${m.type} ${m.from}>${m.to} t${m.term} i${m.index} c${m.commit} n${m.entries.length} ${m.reject}`,
        );
        return true;
      };
      r.tickAll(25);
      const leader = r.leaders()[0]!;
      for (let i = 0; i < 10; i++) r.node(leader).propose(enc(`v${i}`));
      r.tickAll(5);
      return out;
    };
    const first = trace();
    assert.ok(first.length > 50);
    assert.deepEqual(trace(), first);
  });
});
