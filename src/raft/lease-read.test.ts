// Lease-based ReadIndex (docs/adr/0005-lease-reads.md): the leader answers from its lease only
// while a quorum acknowledged a recent heartbeat and no transfer is under way; otherwise it falls
// back to a heartbeat round. A restarted member keeps the lease promise it may have forgotten.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { RaftConfig } from "./api.js";
import { makeMessage } from "./raft.js";
import { Router, dec, enc } from "./router.test-util.js";
import { MessageType } from "./types.js";

const ELECTION_TICK = 10;
/** electionTick - margin (1 + ceil(10 / 10)): the last tick age at which a lease still holds. */
const LEASE_TICKS = 8;

// random 0.9: randomized election timeouts of 19 ticks, so nobody campaigns on its own while the
// members' first election timeout (no votes after start in lease mode) passes.
const LEASE: Partial<RaftConfig> = {
  readOnlyOption: "lease-based",
  checkQuorum: true,
  electionTick: ELECTION_TICK,
  random: () => 0.9,
};

/** Three members, "a" leading, one acknowledged heartbeat round behind it. */
function leaseCluster(over: Partial<RaftConfig> = {}): Router {
  const r = new Router(["a", "b", "c"], { ...LEASE, ...over });
  r.tickAll(ELECTION_TICK);
  r.elect("a");
  assert.equal(r.node("a").status().role, "leader");
  r.tickAll(1);
  return r;
}

function answered(r: Router): string[] {
  return r.get("a").readStates.map((s) => dec(s.requestCtx));
}

describe("lease-based ReadIndex", () => {
  test("a leader with a fresh quorum acknowledgement answers at once, without a heartbeat round", () => {
    const r = leaseCluster();
    r.isolated.add("b");
    r.isolated.add("c");
    r.node("a").readIndex(enc("r1"));
    const sent = r.flushReadys();
    assert.deepEqual(answered(r), ["r1"]);
    assert.ok(!sent.some((m) => m.type === MessageType.Heartbeat && dec(m.context) === "r1"));
  });

  test("a leader cut off from the quorum stops serving within electionTick - margin ticks, then falls back", () => {
    const r = leaseCluster();
    r.isolated.add("a");
    // age: leader ticks since the last acknowledged heartbeat was sent.
    let lastServed = -1;
    for (let age = 0; age <= ELECTION_TICK; age++) {
      r.node("a").readIndex(enc(`t${age}`));
      r.flushReadys();
      if (answered(r).includes(`t${age}`)) lastServed = age;
      if (r.node("a").status().role !== "leader") break;
      r.tick("a");
      r.flushReadys();
    }
    assert.ok(lastServed >= 0, "a fresh lease was used at all");
    assert.ok(lastServed < LEASE_TICKS, `served a lease read ${lastServed} ticks after the last ack`);
    const unanswered = r.get("a").readStates.length;
    r.node("a").readIndex(enc("late"));
    r.flushReadys();
    assert.equal(r.get("a").readStates.length, unanswered, "no answer while partitioned");
  });

  test("after the lease lapsed, a read is answered by a heartbeat round once the quorum is back", () => {
    const r = leaseCluster();
    r.isolated.add("a");
    r.tick("a", LEASE_TICKS);
    r.flushReadys();
    r.node("a").readIndex(enc("r1"));
    r.flushReadys();
    assert.deepEqual(answered(r), [], "not from an expired lease");
    r.isolated.clear();
    r.tickAll(1);
    assert.deepEqual(answered(r), ["r1"]);
  });

  test("a leadership transfer in progress disables the lease", () => {
    const r = leaseCluster();
    r.isolated.add("b"); // the transfer cannot finish
    r.node("a").transferLeadership("b");
    r.isolated.add("c");
    r.node("a").readIndex(enc("r1"));
    r.flushReadys();
    assert.deepEqual(answered(r), []);
  });

  test("a restarted member in lease mode grants no vote during its first electionTick ticks", () => {
    const r = leaseCluster();
    const c = r.get("c");
    const term = r.node("c").status().hardState.term;
    const restarted = r.start("c", c.storage, LEASE);
    const vote = (): void =>
      restarted.node.step(
        makeMessage({
          type: MessageType.Vote,
          from: "b",
          to: "c",
          term: term + 1,
          index: 100,
          logTerm: term,
        }),
      );
    const granted = (): boolean => {
      const rd = restarted.node.hasReady() ? restarted.node.ready() : undefined;
      if (rd !== undefined) restarted.node.advance(rd);
      return (rd?.messages ?? []).some((m) => m.type === MessageType.VoteResp && !m.reject);
    };
    for (let t = 0; t < ELECTION_TICK; t++) {
      vote();
      assert.equal(granted(), false, `vote granted ${t} ticks after the restart`);
      restarted.node.tick();
    }
    vote();
    assert.equal(granted(), true, "votes again once an election timeout passed");
  });

  test("safe mode: a restarted member votes at once, as before", () => {
    const r = new Router(["a", "b", "c"], { checkQuorum: true });
    r.elect("a");
    const restarted = r.start("c", r.get("c").storage, { checkQuorum: true });
    restarted.node.step(
      makeMessage({ type: MessageType.Vote, from: "b", to: "c", term: 2, index: 100, logTerm: 1 }),
    );
    const rd = restarted.node.ready();
    assert.ok(rd.messages.some((m) => m.type === MessageType.VoteResp && !m.reject));
  });
});
