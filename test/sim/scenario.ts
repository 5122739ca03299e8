// One randomized simulator run, fully determined by its seed: pick a cluster shape and raft
// tuning, run a fault phase (loss, delay, duplication, reordering, partitions, crashes, slow
// disks, membership changes, leader transfers, proposals, ReadIndex reads, snapshots), then heal
// everything and check liveness: a leader must emerge and a fresh write must reach every member.

import { ConfChangeType, type NodeId } from "../../src/raft/types.js";
import type { Violation } from "./checker.js";
import { Cluster, TICK_MS, type SimStats } from "./cluster.js";
import type { MemberTuning, RaftBinding } from "./member.js";
import { CALM } from "./network.js";
import { Prng } from "./prng.js";

export interface SeedOptions {
  seed: number;
  /** 3, 5 or 7; chosen by the seed when absent. */
  members?: number;
  /** Events processed in the fault phase. */
  steps: number;
  binding: RaftBinding;
  trace?: (line: string) => void;
  unsafeRuleBreaks?: MemberTuning["unsafeRuleBreaks"];
  /** Serve ReadIndex from the leader lease (needs check-quorum) instead of a heartbeat round. */
  leaseReads?: boolean;
  /** Called with the cluster after the run (debugging, tests). */
  inspect?: (cluster: Cluster) => void;
}

export interface SeedResult {
  seed: number;
  members: number;
  steps: number;
  virtualMs: number;
  violations: Violation[];
  violationCount: number;
  stats: SimStats;
}

const KEYS = ["a", "b", "c", "d"];
const ALL_IDS = ["n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9"];

export function runSeed(opts: SeedOptions): SeedResult {
  const rng = new Prng(opts.seed ^ 0x5eed);
  const size = opts.members ?? rng.pick([3, 5, 7]);
  const ids = ALL_IDS.slice(0, size);
  const tuning: MemberTuning = {
    electionTick: 10,
    heartbeatTick: rng.pick([1, 2, 3]),
    preVote: rng.chance(0.6),
    checkQuorum: rng.chance(0.6) || opts.leaseReads === true,
    maxSizePerMsg: rng.pick([1, 256, 1 << 20]),
    maxInflightMsgs: rng.pick([1, 4, 256]),
    snapshotEvery: rng.pick([5, 10, 25, 60]),
    compactionLag: rng.pick([0, 2, 10]),
    unsafeRuleBreaks: opts.unsafeRuleBreaks,
    readOnlyOption: opts.leaseReads === true ? "lease-based" : "safe",
  };
  // How stormy this seed is: a fault every 20..120 ms times this factor.
  const faultSpacing = rng.pick([1, 2, 5]);
  const cluster = new Cluster({ seed: opts.seed, ids, tuning, binding: opts.binding, trace: opts.trace });
  cluster.trace(
    `seed ${opts.seed}: ${size} members, heartbeat ${tuning.heartbeatTick}, preVote ${tuning.preVote}, checkQuorum ${tuning.checkQuorum}, reads ${tuning.readOnlyOption}, maxSizePerMsg ${tuning.maxSizePerMsg}, inflight ${tuning.maxInflightMsgs}, snapshot every ${tuning.snapshotEvery} lag ${tuning.compactionLag}, fault spacing x${faultSpacing}`,
  );
  const chaos = new Chaos(cluster, rng, size, faultSpacing);
  chaos.schedule();
  let faultSteps = 0;
  while (faultSteps < opts.steps && cluster.step()) faultSteps++;
  chaos.stop();
  checkLiveness(cluster, tuning);
  opts.inspect?.(cluster);
  return {
    seed: opts.seed,
    members: size,
    steps: cluster.steps,
    virtualMs: cluster.now,
    violations: cluster.checker.violations,
    violationCount: cluster.checker.count,
    stats: cluster.stats,
  };
}

/** The random fault and workload generator of the fault phase. */
class Chaos {
  private stopped = false;
  private readonly spare: NodeId[];

  constructor(
    private readonly cluster: Cluster,
    private readonly rng: Prng,
    size: number,
    private readonly faultSpacing: number,
  ) {
    this.spare = ALL_IDS.slice(size);
  }

  stop(): void {
    this.stopped = true;
  }

  /** Start the two random streams: client workload (frequent) and faults (rarer). */
  schedule(): void {
    this.loop("workload", 2, 15, () => this.workload());
    this.loop("fault", 20 * this.faultSpacing, 120 * this.faultSpacing, () => this.fault());
  }

  private loop(name: string, minMs: number, maxMs: number, act: () => void): void {
    if (this.stopped) return;
    this.cluster.at(this.cluster.now + this.rng.range(minMs, maxMs), name, () => {
      if (this.stopped) return;
      act();
      this.loop(name, minMs, maxMs, act);
    });
  }

  private upIds(): NodeId[] {
    return this.cluster
      .activeMembers()
      .filter((m) => m.up)
      .map((m) => m.id);
  }

  private workload(): void {
    const up = this.upIds();
    if (up.length === 0) return;
    if (this.rng.chance(0.65)) this.cluster.propose(this.rng.pick(up), this.rng.pick(KEYS));
    else this.cluster.read(this.rng.pick(up), this.rng.pick(KEYS));
  }

  private fault(): void {
    const c = this.cluster;
    const rng = this.rng;
    const r = rng.int(105);
    const active = c.activeMembers().map((m) => m.id);
    const up = this.upIds();
    if (r < 12) {
      // Crash a member (at most half of the members down at a time, to keep the run moving).
      const down = active.length - up.length;
      if (up.length > 0 && down < Math.ceil(active.length / 2)) c.crash(rng.pick(up));
    } else if (r < 26) {
      const down = c.activeMembers().filter((m) => !m.up);
      if (down.length > 0) c.restart(rng.pick(down).id);
    } else if (r < 36) {
      // Symmetric partition: a random split.
      c.network.healPartitions();
      const shuffled = rng.shuffle(active);
      const cut = rng.range(1, Math.max(1, shuffled.length - 1));
      c.network.partition(shuffled.slice(0, cut), shuffled.slice(cut));
      c.trace(`partition [${shuffled.slice(0, cut).join(",")}] | [${shuffled.slice(cut).join(",")}]`);
    } else if (r < 42) {
      // One-way partition: a member that can send but not receive, or one directed link.
      const a = rng.pick(active);
      if (rng.chance(0.5)) {
        for (const b of active) if (b !== a) c.network.block(b, a);
        c.trace(`block everyone -> ${a}`);
      } else {
        const b = rng.pick(active);
        if (a !== b) {
          c.network.block(a, b);
          c.trace(`block ${a} -> ${b}`);
        }
      }
    } else if (r < 56) {
      c.network.healPartitions();
      c.trace("heal partitions");
    } else if (r < 66) {
      const bad = rng.chance(0.6);
      c.network.conditions = bad
        ? {
            loss: rng.pick([0, 0.05, 0.2]),
            duplicate: rng.pick([0, 0.05, 0.2]),
            minDelay: 1,
            maxDelay: rng.pick([5, 20, 60, 300]),
          }
        : { ...CALM };
      c.trace(`network ${JSON.stringify(c.network.conditions)}`);
    } else if (r < 74) {
      const m = rng.pick(c.activeMembers());
      m.diskDelay = rng.chance(0.6) ? [1, rng.pick([5, 20, 50])] : [0, 0];
      c.trace(`disk of ${m.id} takes ${m.diskDelay[0]}..${m.diskDelay[1]} ms`);
    } else if (r < 88) {
      this.membershipChange();
    } else if (r < 96) {
      const lead = c.leader();
      const voters = c.config.voters.filter((v) => v !== lead?.id);
      if (lead !== undefined && voters.length > 0) c.transferLeadership(lead.id, rng.pick(voters));
    } else if (r < 100) {
      if (up.length > 0) c.campaign(rng.pick(up));
    } else if (r < 105) {
      if (up.length > 0) c.pause(rng.pick(up), rng.pick([50, 150, 400]));
    }
  }

  /** Add a learner, promote a learner, remove a member, or re-add a removed one. */
  private membershipChange(): void {
    const c = this.cluster;
    const rng = this.rng;
    const lead = c.leader();
    if (lead === undefined) return;
    const { voters, learners } = c.config;
    const choice = rng.int(3);
    if (choice === 0 && voters.length + learners.length < 7) {
      const removed = [...c.members.values()].filter((m) => m.removed).map((m) => m.id);
      const fresh = this.spare.filter((id) => !c.members.has(id));
      const pool = removed.length > 0 && rng.chance(0.5) ? removed : fresh;
      if (pool.length > 0) c.proposeConfChange(lead.id, ConfChangeType.AddLearnerNode, rng.pick(pool));
    } else if (choice === 1 && learners.length > 0) {
      c.proposeConfChange(lead.id, ConfChangeType.AddNode, rng.pick(learners));
    } else if (choice === 2) {
      const candidates = [...learners, ...(voters.length > 3 ? voters : [])];
      if (candidates.length > 0)
        c.proposeConfChange(lead.id, ConfChangeType.RemoveNode, rng.pick(candidates));
    }
  }
}

/**
 * Heal everything, then require a leader within 10 election timeouts and a fresh write applied on
 * every member of the configuration within 20 more.
 */
function checkLiveness(cluster: Cluster, tuning: MemberTuning): void {
  const c = cluster;
  c.trace("---- heal: calm network, all members up ----");
  c.network.healPartitions();
  c.network.conditions = { ...CALM };
  c.network.filter = undefined;
  for (const m of c.activeMembers()) {
    m.diskDelay = [0, 0];
    m.pausedUntil = 0;
    if (!m.up) c.restart(m.id);
  }
  const timeout = tuning.electionTick * TICK_MS * 2;
  if (!c.runUntil(() => c.leader() !== undefined, 10 * timeout)) {
    c.checker.report("liveness", `no leader within 10 election timeouts after healing`);
    return;
  }
  const values = new Set<string>();
  const deadline = c.now + 20 * timeout;
  let nextTry = c.now;
  const done = (): boolean =>
    c.activeMembers().every((m) => {
      const v = m.sm.get("live");
      return m.up && v !== undefined && values.has(v.value);
    });
  while (!done()) {
    if (c.now >= deadline) {
      const lagging = c
        .activeMembers()
        .filter((m) => !values.has(m.sm.get("live")?.value ?? ""))
        .map((m) => `${m.id}(applied ${m.applied})`);
      c.checker.report(
        "liveness",
        `fresh write not applied within 20 election timeouts on ${lagging.join(", ")}`,
      );
      return;
    }
    if (c.now >= nextTry) {
      const lead = c.leader();
      if (lead !== undefined) {
        const value = c.propose(lead.id, "live");
        if (value !== undefined) values.add(value);
      }
      nextTry = c.now + timeout;
    }
    c.runUntil(() => done() || c.now >= nextTry, nextTry - c.now + 1);
  }
  c.trace("---- liveness ok ----");
}
