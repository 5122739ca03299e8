// The member's and cluster's IDs for a configuration, derived as etcd 3.4 derives them for a new
// cluster (maintenance/identity.ts), so the same --initial-cluster and token give the same IDs on
// every restart. Raft node IDs are those member IDs in hex.
import type { ServerConfig } from "../config/server-config.js";
import { bootstrapIdentity, clusterIdFor, memberIdFor } from "./maintenance/identity.js";

export interface MemberIdentity {
  memberId: bigint;
  clusterId: bigint;
  /** Every initial member's ID by name. */
  members: Map<string, bigint>;
}

/**
 * The member's and cluster's IDs for this configuration. With --initial-cluster-state new the
 * member must be in --initial-cluster (checked by etcd's rules, see maintenance/identity.ts).
 */
export function identityFromConfig(config: ServerConfig): MemberIdentity {
  if (config.initialCluster[config.name] !== undefined) {
    return bootstrapIdentity(config.initialCluster, config.initialClusterToken, config.name);
  }
  // Not listed (joining an existing cluster): our ID from our own peer URLs.
  const members = new Map<string, bigint>();
  for (const [name, urls] of Object.entries(config.initialCluster)) {
    members.set(name, memberIdFor(urls, config.initialClusterToken));
  }
  const memberId = memberIdFor(config.initialAdvertisePeerUrls, config.initialClusterToken);
  members.set(config.name, memberId);
  return { memberId, clusterId: clusterIdFor([...members.values()]), members };
}

/** Raft node IDs are the member IDs in lowercase hex (as etcd prints them). */
export const nodeIdOf = (id: bigint): string => id.toString(16);
export const memberIdOf = (node: string): bigint => (node === "" ? 0n : BigInt(`0x${node}`));
