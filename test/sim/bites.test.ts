// Proof that the simulator bites: for each deliberate rule break (config.unsafeRuleBreaks) a
// scripted scenario makes the checkers report the matching violation, and the same scenario
// without the break reports nothing. Plus: a clean randomized run finds no violations, and one
// seed always produces the same trace.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { UnsafeRuleBreak } from "../../src/raft/api.js";
import { MessageType, type NodeId } from "../../src/raft/types.js";
import { Cluster, TICK_MS } from "./cluster.js";
import type { MemberTuning } from "./member.js";
import { rawNodeBinding } from "./raft-binding.js";
import { runSeed } from "./scenario.js";

const ELECTION_MS = 10 * TICK_MS * 2;

/** The trace of each scripted cluster, shown when a scenario does not go as planned. */
const traces = new WeakMap<Cluster, string[]>();

function scripted(n: number, breaks: UnsafeRuleBreak[], over: Partial<MemberTuning> = {}): Cluster {
  const ids = Array.from({ length: n }, (_, i) => `n${i + 1}`);
  const tuning: MemberTuning = {
    electionTick: 10,
    heartbeatTick: 1,
    preVote: false,
    checkQuorum: false,
    maxSizePerMsg: 1 << 20,
    maxInflightMsgs: 256,
    snapshotEvery: 0,
    compactionLag: 0,
    unsafeRuleBreaks: breaks,
    ...over,
  };
  const trace: string[] = [];
  const c = new Cluster({ seed: 1, ids, tuning, binding: rawNodeBinding, trace: (l) => trace.push(l) });
  traces.set(c, trace);
  return c;
}

/** Kinds found, with the trace tail on failure to make a broken scenario debuggable. */
function kinds(c: Cluster): string[] {
  return [...new Set(c.checker.violations.map((v) => v.kind))].sort();
}

function explain(c: Cluster): string {
  const log = traces.get(c) ?? [];
  return `violations: ${JSON.stringify(c.checker.violations)}\ntrace tail:\n${log.slice(-80).join("\n")}`;
}

/** Make `id` leader by campaigning until it wins (other members must be able to vote for it). */
function elect(c: Cluster, id: NodeId): void {
  for (let i = 0; i < 10; i++) {
    c.campaign(id);
    if (c.runUntil(() => c.member(id).node?.status().role === "leader", ELECTION_MS)) return;
  }
  assert.fail(`could not elect ${id}\n${explain(c)}`);
}

function isolate(c: Cluster, id: NodeId): void {
  c.network.isolate(id, [...c.members.keys()]);
}

function appliedEverywhere(c: Cluster, index: number, ids: NodeId[]): boolean {
  return ids.every((id) => c.member(id).applied >= index);
}

/** Two candidates campaign at once; the third member gets both vote requests. */
function twoCandidates(breaks: UnsafeRuleBreak[]): Cluster {
  const c = scripted(3, breaks);
  c.network.partition(["n1"], ["n2"]);
  c.campaign("n1");
  c.campaign("n2");
  c.runFor(ELECTION_MS / 4);
  return c;
}

/** A leader cut off from the rest keeps answering reads while a new leader takes writes. */
function partitionedOldLeaderRead(breaks: UnsafeRuleBreak[]): Cluster {
  const c = scripted(3, breaks);
  elect(c, "n1");
  assert.ok(c.propose("n1", "k"));
  assert.ok(
    c.runUntil(() => appliedEverywhere(c, 2, ["n1", "n2", "n3"]), ELECTION_MS),
    explain(c),
  );
  isolate(c, "n1");
  elect(c, "n2");
  assert.ok(c.propose("n2", "k"));
  const target = c.member("n2").node!.status().lastIndex;
  assert.ok(
    c.runUntil(() => c.member("n2").applied >= target, ELECTION_MS),
    explain(c),
  );
  c.read("n1", "k");
  c.runFor(ELECTION_MS / 2);
  return c;
}

/** A leader that cannot reach anyone takes a write. */
function uncommittedWrite(breaks: UnsafeRuleBreak[]): Cluster {
  const c = scripted(3, breaks);
  elect(c, "n1");
  assert.ok(
    c.runUntil(() => appliedEverywhere(c, 1, ["n1", "n2", "n3"]), ELECTION_MS),
    explain(c),
  );
  isolate(c, "n1");
  assert.ok(c.propose("n1", "k"));
  c.runFor(ELECTION_MS / 2);
  return c;
}

/**
 * Raft paper, Figure 8: an entry of an old term replicated on a majority by a later leader is
 * overwritten after that leader fails, unless the leader waits for an entry of its own term.
 */
function figure8(breaks: UnsafeRuleBreak[]): Cluster {
  const c = scripted(5, breaks, { maxSizePerMsg: 1 });
  const all = ["n1", "n2", "n3", "n4", "n5"];
  // (a) n1 leads term t1 and replicates entry 2 to n2 only.
  elect(c, "n1");
  assert.ok(
    c.runUntil(() => appliedEverywhere(c, 1, all), ELECTION_MS),
    explain(c),
  );
  c.network.partition(["n1", "n2"], ["n3", "n4", "n5"]);
  assert.ok(c.propose("n1", "k"));
  assert.ok(
    c.runUntil(() => c.member("n2").disk.lastIndex() >= 2, ELECTION_MS),
    explain(c),
  );
  // (b) n1 fails; n5 wins a later term with votes of n3, n4 and stores its own entry 2 alone.
  c.crash("n1");
  c.network.healPartitions();
  c.network.partition(["n2"], ["n3", "n4", "n5"]);
  c.network.filter = (m) => !(m.from === "n5" && m.type === MessageType.App && m.entries.length > 0);
  elect(c, "n5");
  assert.ok(
    c.runUntil(() => c.member("n5").disk.lastIndex() >= 2, ELECTION_MS),
    explain(c),
  );
  // (c) n5 fails; n1 comes back, wins with n2, n3, n4 and replicates its term-1 entry 2 to n3,
  // but nothing of its own term reaches anyone.
  c.crash("n5");
  c.network.healPartitions();
  c.restart("n1");
  // Strip n1's entries of its new term from everything it sends (probes still get through).
  c.network.filter = (m) => {
    if (m.from !== "n1" || m.type !== MessageType.App) return true;
    const cut = m.entries.findIndex((e) => e.term === c.term("n1"));
    return cut < 0 ? true : { ...m, entries: m.entries.slice(0, cut) };
  };
  elect(c, "n1");
  assert.ok(
    c.runUntil(
      () => c.member("n3").disk.lastIndex() >= 2 && c.member("n3").disk.term(2) < c.term("n1"),
      ELECTION_MS,
    ),
    explain(c),
  );
  c.runFor(ELECTION_MS / 2);
  // (d) n1 fails; n5 returns and wins with n2, n3, n4 (its last term is newer) and overwrites 2.
  c.crash("n1");
  c.network.filter = undefined;
  c.restart("n5");
  elect(c, "n5");
  c.runFor(ELECTION_MS);
  return c;
}

describe("the checkers catch each deliberate rule break", () => {
  test("grant-two-votes-per-term: two leaders in one term", () => {
    const bad = twoCandidates(["grant-two-votes-per-term"]);
    assert.ok(kinds(bad).includes("two-leaders-in-term"), explain(bad));
    const good = twoCandidates([]);
    assert.deepEqual(kinds(good), [], explain(good));
  });

  test("read-index-without-quorum-check: a partitioned old leader serves a stale read", () => {
    const bad = partitionedOldLeaderRead(["read-index-without-quorum-check"]);
    assert.ok(kinds(bad).includes("stale-read"), explain(bad));
    const good = partitionedOldLeaderRead([]);
    assert.deepEqual(kinds(good), [], explain(good));
  });

  test("apply-before-commit: an entry is applied before it is committed", () => {
    const bad = uncommittedWrite(["apply-before-commit"]);
    assert.ok(kinds(bad).includes("apply-uncommitted"), explain(bad));
    const good = uncommittedWrite([]);
    assert.deepEqual(kinds(good), [], explain(good));
  });

  test("commit-previous-term-by-counting: Figure 8 loses a committed entry", () => {
    const bad = figure8(["commit-previous-term-by-counting"]);
    const found = kinds(bad);
    assert.ok(found.includes("state-machine-safety") || found.includes("leader-completeness"), explain(bad));
    const good = figure8([]);
    assert.deepEqual(kinds(good), [], explain(good));
  });
});

describe("randomized runs", () => {
  test("a few clean seeds report no violations", () => {
    for (let seed = 1; seed <= 4; seed++) {
      const r = runSeed({ seed, steps: 1500, binding: rawNodeBinding });
      assert.equal(r.violationCount, 0, `seed ${seed}: ${JSON.stringify(r.violations)}`);
      assert.ok(r.stats.proposed > 0 && r.stats.readsDone > 0, `seed ${seed} did some work`);
    }
  });

  test("the same seed produces the same trace twice", () => {
    const runs = [0, 1].map(() => {
      const lines: string[] = [];
      runSeed({ seed: 11, steps: 1500, binding: rawNodeBinding, trace: (l) => lines.push(l) });
      return lines;
    });
    assert.ok(runs[0]!.length > 100);
    assert.deepEqual(runs[0], runs[1]);
  });
});
