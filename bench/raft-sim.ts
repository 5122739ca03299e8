// Benchmark: proposals committed per second (wall clock) in the deterministic simulator, with 3
// and 5 members, a calm network, no faults and no I/O. Checkers stay on: this measures the
// simulator as the CI runs it, raft core included.
//   node --import tsx bench/raft-sim.ts [seconds per row, default 2]

import { Cluster } from "../test/sim/cluster.js";
import type { MemberTuning } from "../test/sim/member.js";
import { rawNodeBinding } from "../test/sim/raft-binding.js";

const BATCH = 64;

interface Row {
  members: number;
  committed: number;
  seconds: number;
  steps: number;
}

function measure(members: number, seconds: number): Row {
  const ids = Array.from({ length: members }, (_, i) => `n${i + 1}`);
  const tuning: MemberTuning = {
    electionTick: 10,
    heartbeatTick: 1,
    preVote: true,
    checkQuorum: true,
    maxSizePerMsg: 1 << 20,
    maxInflightMsgs: 256,
    snapshotEvery: 10_000,
    compactionLag: 1000,
    unsafeRuleBreaks: undefined,
  };
  const c = new Cluster({ seed: 1, ids, tuning, binding: rawNodeBinding });
  if (!c.runUntil(() => c.leader() !== undefined, 10_000)) throw new Error("bench: no leader");
  const all = [...c.members.values()];
  const start = performance.now();
  const startApplied = Math.min(...all.map((m) => m.applied));
  const startSteps = c.steps;
  let key = 0;
  while (performance.now() - start < seconds * 1000) {
    const lead = c.leader();
    if (lead === undefined) throw new Error("bench: lost the leader without faults");
    for (let i = 0; i < BATCH; i++) c.propose(lead.id, `k${key++ % 16}`);
    const target = lead.node!.status().lastIndex;
    if (!c.runUntil(() => all.every((m) => m.applied >= target), 10_000)) throw new Error("bench: stalled");
  }
  const elapsed = (performance.now() - start) / 1000;
  const committed = Math.min(...all.map((m) => m.applied)) - startApplied;
  if (c.checker.count > 0) throw new Error(`bench: ${c.checker.count} safety violations`);
  return { members, committed, seconds: elapsed, steps: c.steps - startSteps };
}

const seconds = Number(process.argv[2] ?? 2);
measure(3, 0.5); // warm up the JIT so the first row is not penalised
console.log("members  committed  wall s   proposals/s   sim steps/s");
for (const n of [3, 5]) {
  const r = measure(n, seconds);
  console.log(
    `${String(r.members).padStart(7)}  ${String(r.committed).padStart(9)}  ${r.seconds.toFixed(2).padStart(6)}  ${Math.round(
      r.committed / r.seconds,
    )
      .toString()
      .padStart(12)}  ${Math.round(r.steps / r.seconds)
      .toString()
      .padStart(12)}`,
  );
}
