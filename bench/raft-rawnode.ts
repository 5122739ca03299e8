// Throughput of the pure Raft core, without disk or network: how many entries per second a
// 3-member in-memory cluster commits and applies, in batches (as group commit would hand them in),
// and the cost of one propose -> ready -> advance round on a single member.
// Run: npm run bench:raft (or node --import tsx bench/raft-rawnode.ts)

import { Router } from "../src/raft/router.test-util.js";

function threeMembers(total: number, batch: number, size: number): number {
  const r = new Router(["a", "b", "c"], { maxSizePerMsg: 1 << 20, maxInflightMsgs: 256 });
  r.elect("a");
  const a = r.node("a");
  const payload = new Uint8Array(size);
  const start = process.hrtime.bigint();
  for (let done = 0; done < total; done += batch) {
    for (let i = 0; i < batch; i++) a.propose(payload);
    r.stabilize();
    for (const m of r.members.values()) m.applied.length = 0; // keep memory flat
  }
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  if (a.status().hardState.commit < total) throw new Error("bench: not everything committed");
  return total / secs;
}

function singleMemberRounds(rounds: number): number {
  const r = new Router(["a"]);
  r.elect("a");
  const a = r.get("a");
  const payload = new Uint8Array(100);
  const start = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) {
    a.node.propose(payload);
    while (r.processReady("a") !== undefined);
    a.applied.length = 0;
  }
  return Number(process.hrtime.bigint() - start) / 1e3 / rounds;
}

threeMembers(20_000, 64, 100); // warm up
for (const batch of [1, 16, 256]) {
  const rate = threeMembers(100_000, batch, 100);
  console.log(
    `3 members, batch ${batch}, 100 B entries: ${Math.round(rate).toLocaleString("en")} entries/s committed and applied`,
  );
}
console.log(
  `1 member: ${singleMemberRounds(50_000).toFixed(2)} µs per propose -> ready -> persist -> advance -> apply round`,
);
