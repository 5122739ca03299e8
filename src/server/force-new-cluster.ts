// --force-new-cluster, as etcd 3.4 does it (etcdserver's restartAsStandaloneNode): a member that
// restarts on an existing WAL with the flag drops the entries past its commit index, appends
// membership changes that leave it the only voter (it adds itself if its configuration lacks it,
// then removes every other member), marks them committed and saves all that to the WAL before raft
// starts. Raft and the member table then apply those entries like any other committed change, so
// the one-member configuration is in the log for good: a later restart without the flag replays
// the same entries and stays alone. Data, member ID and cluster ID are kept. Without a WAL (a new
// data dir, or in-memory storage) the flag changes nothing, as in etcd.
import { readdirSync } from "node:fs";
import { ConfChangeType, EntryType, encodeConfChange, decodeConfChange } from "../raft/index.js";
import type { ConfChange, Entry, NodeId } from "../raft/index.js";
import type { RaftLogStore } from "../storage/raft-log-store.js";
import { storagePaths } from "../storage/raft-log-store.js";
import type { ServerConfig } from "../config/server-config.js";
import { nodeIdOf, type MemberIdentity } from "./identity.js";
import { encodeContext } from "./membership.js";

interface Logger {
  info(obj: object, msg: string): void;
}

/** Whether the data dir already holds WAL segments (etcd's haveWAL), checked before opening it. */
export function hasWal(dataDir: string): boolean {
  try {
    return readdirSync(storagePaths(dataDir).walDir).some((name) => name.endsWith(".wal"));
  } catch {
    return false;
  }
}

export interface ForceNewClusterSelf {
  nodeId: NodeId;
  clusterId: string;
  /** Used only when the configuration lacks this member and it must be added back. */
  name: string;
  peerUrls: string[];
}

/** This member as the rewrite needs it. */
export function forceSelf(config: ServerConfig, identity: MemberIdentity): ForceNewClusterSelf {
  return {
    nodeId: nodeIdOf(identity.memberId),
    clusterId: nodeIdOf(identity.clusterId),
    name: config.name,
    peerUrls: [...config.initialAdvertisePeerUrls],
  };
}

const byId = (a: NodeId, b: NodeId): number => {
  const x = BigInt(`0x${a}`);
  const y = BigInt(`0x${b}`);
  return x < y ? -1 : x > y ? 1 : 0;
};

/**
 * The voters and learners as of the commit index: the snapshot's configuration plus the committed
 * membership changes after it (etcd's getIDs, keeping learners apart so a learner is promoted).
 */
export function committedMembership(store: RaftLogStore): { voters: Set<NodeId>; learners: Set<NodeId> } {
  const snap = store.snapshot().metadata;
  const voters = new Set(snap.confState.voters);
  const learners = new Set(snap.confState.learners);
  const commit = store.initialState().hardState.commit;
  const ents = commit > snap.index ? store.entries(snap.index + 1, commit + 1) : [];
  for (const e of ents) {
    if (e.type !== EntryType.ConfChange) continue;
    const cc = decodeConfChange(e.data);
    switch (cc.type) {
      case ConfChangeType.AddNode:
        learners.delete(cc.nodeId);
        voters.add(cc.nodeId);
        break;
      case ConfChangeType.AddLearnerNode:
        if (!voters.has(cc.nodeId)) learners.add(cc.nodeId);
        break;
      case ConfChangeType.RemoveNode:
        voters.delete(cc.nodeId);
        learners.delete(cc.nodeId);
        break;
      case ConfChangeType.UpdateNode:
        break;
    }
  }
  return { voters, learners };
}

/** The membership changes that leave `self` the only voter (etcd's createConfigChangeEnts). */
export function standaloneChanges(
  members: { voters: Set<NodeId>; learners: Set<NodeId> },
  self: ForceNewClusterSelf,
): ConfChange[] {
  const changes: ConfChange[] = [];
  // Self first: raft must never be left without a voter.
  if (!members.voters.has(self.nodeId)) {
    const member = {
      id: self.nodeId,
      name: self.name,
      peerUrls: self.peerUrls,
      clientUrls: [],
      isLearner: false,
    };
    changes.push({
      type: ConfChangeType.AddNode,
      nodeId: self.nodeId,
      context: encodeContext({ requestId: "", member }),
    });
  }
  const others = [...members.voters, ...members.learners].filter((id) => id !== self.nodeId).sort(byId);
  for (const id of others) {
    changes.push({ type: ConfChangeType.RemoveNode, nodeId: id, context: new Uint8Array(0) });
  }
  return changes;
}

/**
 * Rewrites the opened log store to a one-member configuration (see the file comment). Returns the
 * commit index the member starts from.
 */
export async function forceNewCluster(
  store: RaftLogStore,
  self: ForceNewClusterSelf,
  logger: Logger,
): Promise<number> {
  const initial = store.initialState().hardState;
  // A member that never saw an election has term 0, which no entry may carry.
  const hardState = { ...initial, term: Math.max(1, initial.term) };
  const lastIndex = store.lastIndex();
  const commit = hardState.commit;
  const changes = standaloneChanges(committedMembership(store), self);
  if (lastIndex > commit) {
    logger.info(
      {
        "entry-index": commit + 1,
        "commit-index-from-wal": commit,
        "number-of-discarded-entries": lastIndex - commit,
      },
      "discarding uncommitted WAL entries",
    );
  }
  // Written right after the commit index, these replace the uncommitted suffix in the WAL too. A
  // member that is already alone but has such a suffix gets an empty entry there instead (what a
  // new leader appends), so the discarded entries cannot come back on a later restart.
  const entries: Entry[] = changes.map((cc, i) => ({
    term: hardState.term,
    index: commit + 1 + i,
    type: EntryType.ConfChange,
    data: encodeConfChange(cc),
  }));
  if (entries.length === 0 && lastIndex > commit) {
    entries.push({
      term: hardState.term,
      index: commit + 1,
      type: EntryType.Normal,
      data: new Uint8Array(0),
    });
  }
  const newCommit = commit + entries.length;
  if (entries.length > 0) {
    await store.save({ entries, hardState: { ...hardState, commit: newCommit } }, true);
  }
  logger.info(
    { "cluster-id": self.clusterId, "local-member-id": self.nodeId, "commit-index": newCommit },
    "forcing restart member",
  );
  return newCommit;
}
