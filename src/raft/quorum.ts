// Majority arithmetic over a set of voters: the commit index a quorum has reached and the outcome
// of a vote. Learners are never passed in here; callers hand over voters only.

import type { NodeId } from "./types.js";

export type VoteOutcome = "won" | "lost" | "pending";

/** Smallest number of voters that forms a majority of `n`. */
export function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

/**
 * The highest index that a majority of `voters` have reached, given each voter's match index.
 * With no voters nothing can be committed, so the answer is 0.
 */
export function quorumIndex(voters: readonly NodeId[], matchOf: (id: NodeId) => number): number {
  if (voters.length === 0) return 0;
  const matches = voters.map(matchOf).sort((a, b) => b - a);
  return matches[majority(voters.length) - 1]!;
}

/** Outcome of an election (or of any yes/no poll) among `voters`; answers from others are ignored. */
export function voteOutcome(voters: readonly NodeId[], answers: ReadonlyMap<NodeId, boolean>): VoteOutcome {
  if (voters.length === 0) return "won";
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const a = answers.get(id);
    if (a === true) granted++;
    else if (a === false) rejected++;
  }
  const need = majority(voters.length);
  if (granted >= need) return "won";
  if (voters.length - rejected < need) return "lost";
  return "pending";
}
