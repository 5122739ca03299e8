// Who is in the cluster as this member currently sees it: voters, learners, and the leader's
// replication progress for each of them. Pure bookkeeping; what a change means for the role
// state machine (commit, stepping down) is decided in raft.ts.

import type { ProgressStatus } from "./api.js";
import { decodeConfChange } from "./confchange.js";
import { Progress } from "./progress.js";
import { ConfChangeType, type ConfChange, type ConfState, type Entry, type NodeId } from "./types.js";

export type AddOutcome = "added" | "promoted" | "unchanged" | "demotion-refused";

export class Membership {
  readonly prs = new Map<NodeId, Progress>();
  voters: NodeId[] = [];
  learners: NodeId[] = [];

  constructor(private readonly maxInflight: number) {}

  /** Replace the whole configuration (bootstrap, restart, snapshot install). */
  reset(cs: ConfState, next: number): void {
    this.prs.clear();
    this.voters = [];
    this.learners = [];
    for (const id of cs.voters) {
      if (this.prs.has(id)) continue;
      this.voters.push(id);
      this.prs.set(id, new Progress(next, this.maxInflight, false));
    }
    for (const id of cs.learners) {
      if (this.prs.has(id)) continue;
      this.learners.push(id);
      this.prs.set(id, new Progress(next, this.maxInflight, true));
    }
  }

  /** Fresh progress for everyone (a new term); `self` starts matched at `selfMatch`. */
  resetProgress(next: number, self: NodeId, selfMatch: number): void {
    for (const [id, old] of this.prs) {
      const pr = new Progress(next, this.maxInflight, old.isLearner);
      if (id === self) pr.match = selfMatch;
      this.prs.set(id, pr);
    }
  }

  /** Add a voter or learner; AddNode on a learner promotes it. Voters are never demoted. */
  add(id: NodeId, asLearner: boolean, next: number): AddOutcome {
    const pr = this.prs.get(id);
    if (pr === undefined) {
      const np = new Progress(next, this.maxInflight, asLearner);
      // A new member is presumed alive so that it gets a snapshot without waiting a round.
      np.recentActive = true;
      this.prs.set(id, np);
      (asLearner ? this.learners : this.voters).push(id);
      return "added";
    }
    if (asLearner && !pr.isLearner) return "demotion-refused";
    if (!asLearner && pr.isLearner) {
      pr.isLearner = false;
      this.learners = this.learners.filter((x) => x !== id);
      this.voters.push(id);
      return "promoted";
    }
    return "unchanged";
  }

  /** Remove a member; returns whether it was there. */
  remove(id: NodeId): boolean {
    if (!this.prs.delete(id)) return false;
    this.voters = this.voters.filter((x) => x !== id);
    this.learners = this.learners.filter((x) => x !== id);
    return true;
  }

  isVoter(id: NodeId): boolean {
    return this.voters.includes(id);
  }

  confState(): ConfState {
    return { voters: [...this.voters], learners: [...this.learners] };
  }

  progressStatus(): Map<NodeId, ProgressStatus> {
    const out = new Map<NodeId, ProgressStatus>();
    for (const [id, pr] of this.prs) out.set(id, pr.status());
    return out;
  }

  /** Why a proposed ConfChange entry makes no sense for this configuration, if it does not. */
  refusal(e: Entry): string | undefined {
    let cc: ConfChange;
    try {
      cc = decodeConfChange(e.data);
    } catch {
      return "malformed configuration change";
    }
    const pr = this.prs.get(cc.nodeId);
    if (cc.type === ConfChangeType.RemoveNode && this.voters.length === 1 && this.voters[0] === cc.nodeId) {
      return "cannot remove the last voter";
    }
    if (cc.type === ConfChangeType.AddLearnerNode && pr !== undefined && !pr.isLearner) {
      return "cannot demote a voter to a learner";
    }
    return undefined;
  }
}
