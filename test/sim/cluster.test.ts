// Tests of the simulated cluster's own machinery: slow disks hold back everything that depends
// on the write, a crash keeps only what was persisted, members added later catch up through a
// snapshot, and partitions block traffic until healed.

import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfChangeType, MessageType, type Message } from "../../src/raft/types.js";
import { Cluster, TICK_MS } from "./cluster.js";
import type { MemberTuning } from "./member.js";
import { rawNodeBinding } from "./raft-binding.js";

const ELECTION_MS = 10 * TICK_MS * 2;

function cluster(n: number, over: Partial<MemberTuning> = {}): Cluster {
  const ids = Array.from({ length: n }, (_, i) => `n${i + 1}`);
  return new Cluster({
    seed: 7,
    ids,
    binding: rawNodeBinding,
    tuning: {
      electionTick: 10,
      heartbeatTick: 1,
      preVote: true,
      checkQuorum: true,
      maxSizePerMsg: 1 << 20,
      maxInflightMsgs: 256,
      snapshotEvery: 0,
      compactionLag: 0,
      unsafeRuleBreaks: undefined,
      ...over,
    },
  });
}

function withLeader(c: Cluster): string {
  assert.ok(
    c.runUntil(() => c.leader() !== undefined, 10 * ELECTION_MS),
    "a leader is elected",
  );
  return c.leader()!.id;
}

test("a slow disk holds back the messages of its Ready until the write completes", () => {
  const c = cluster(3);
  const lead = withLeader(c);
  c.runFor(ELECTION_MS);
  const sent: { at: number; m: Message }[] = [];
  c.network.filter = (m) => {
    sent.push({ at: c.now, m });
    return true;
  };
  c.member(lead).diskDelay = [30, 30];
  const proposedAt = c.now;
  assert.ok(c.propose(lead, "k"));
  const index = c.member(lead).node!.status().lastIndex;
  c.runFor(ELECTION_MS);
  const first = sent.find((s) => s.m.type === MessageType.App && s.m.entries.some((e) => e.index === index));
  assert.ok(first !== undefined, "the entry was replicated eventually");
  assert.ok(first.at >= proposedAt + 30, `sent at ${first.at}, write completed at ${proposedAt + 30}`);
  assert.equal(c.checker.count, 0);
});

test("a crash loses a write still in flight; restart recovers only what was persisted", () => {
  const c = cluster(3);
  const lead = withLeader(c);
  c.runFor(ELECTION_MS);
  const follower = [...c.members.keys()].find((id) => id !== lead)!;
  const f = c.member(follower);
  const before = f.disk.lastIndex();
  f.diskDelay = [50, 50];
  assert.ok(c.propose(lead, "k"));
  assert.ok(
    c.runUntil(() => f.diskBusy, ELECTION_MS),
    "the follower started a slow write",
  );
  c.crash(follower);
  c.runFor(100);
  assert.equal(f.disk.lastIndex(), before, "the pending write never reached the disk");
  f.diskDelay = [0, 0];
  c.restart(follower);
  const target = c.member(lead).node!.status().lastIndex;
  assert.ok(
    c.runUntil(() => f.applied >= target, 5 * ELECTION_MS),
    "the restarted member caught up",
  );
  assert.equal(f.sm.get("k")?.index, target);
  assert.equal(c.checker.count, 0);
});

test("a member added later is brought up to date by a snapshot", () => {
  const c = cluster(3, { snapshotEvery: 5 });
  const lead = withLeader(c);
  for (let i = 0; i < 12; i++) c.propose(lead, `k${i % 3}`);
  c.runFor(ELECTION_MS);
  assert.ok(c.proposeConfChange(lead, ConfChangeType.AddLearnerNode, "n4"));
  assert.ok(
    c.runUntil(() => c.members.has("n4"), ELECTION_MS),
    "the learner was added",
  );
  const target = c.member(lead).node!.status().lastIndex;
  assert.ok(
    c.runUntil(() => c.member("n4").applied >= target, 5 * ELECTION_MS),
    "the learner caught up",
  );
  assert.ok(c.stats.snapshotsInstalled >= 1, "through a snapshot");
  assert.deepEqual(c.member("n4").sm.get("k0"), c.member(lead).sm.get("k0"));
  assert.ok(c.proposeConfChange(c.leader()!.id, ConfChangeType.AddNode, "n4"));
  assert.ok(
    c.runUntil(() => c.config.voters.includes("n4"), ELECTION_MS),
    "and promoted",
  );
  assert.equal(c.checker.count, 0);
});

test("a partition stops traffic both ways until it heals", () => {
  const c = cluster(3);
  const lead = withLeader(c);
  c.network.isolate(lead, [...c.members.keys()]);
  const others = [...c.members.keys()].filter((id) => id !== lead);
  assert.ok(
    c.runUntil(() => others.some((id) => c.member(id).node!.status().role === "leader"), 10 * ELECTION_MS),
    "the majority side elects a new leader",
  );
  c.network.healPartitions();
  assert.ok(
    c.runUntil(
      () => c.member(lead).node!.status().role === "follower" && c.term(lead) === c.term(others[0]!),
      10 * ELECTION_MS,
    ),
    "the old leader rejoins as a follower",
  );
  assert.equal(c.checker.count, 0);
});
