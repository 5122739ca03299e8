// The member's and cluster's IDs, derived the way etcd 3.4 derives them for a new cluster, so the
// same --initial-cluster and token give the same IDs on every restart without persisting them:
// member ID = first 8 bytes (big-endian) of SHA-1(sorted peer URLs joined + cluster token);
// cluster ID = first 8 bytes of SHA-1 over the sorted member IDs as 8-byte big-endian words.
// (A fallback until src/server/maintenance provides the persisted identity.)
import { createHash } from "node:crypto";
import type { ServerConfig } from "../config/server-config.js";

export interface MemberIdentity {
  memberId: bigint;
  clusterId: bigint;
  /** Every initial member's ID by name. */
  members: Map<string, bigint>;
}

export function computeMemberId(peerUrls: readonly string[], clusterToken: string): bigint {
  const text = [...peerUrls].sort().join("") + clusterToken;
  return createHash("sha1").update(text).digest().readBigUInt64BE(0);
}

export function computeClusterId(memberIds: readonly bigint[]): bigint {
  const sorted = [...memberIds].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const buf = Buffer.alloc(8 * sorted.length);
  sorted.forEach((id, i) => buf.writeBigUInt64BE(id, 8 * i));
  return createHash("sha1").update(buf).digest().readBigUInt64BE(0);
}

export function identityFromConfig(config: ServerConfig): MemberIdentity {
  const members = new Map<string, bigint>();
  for (const [name, urls] of Object.entries(config.initialCluster)) {
    members.set(name, computeMemberId(urls, config.initialClusterToken));
  }
  const memberId =
    members.get(config.name) ?? computeMemberId(config.initialAdvertisePeerUrls, config.initialClusterToken);
  if (!members.has(config.name)) members.set(config.name, memberId);
  return { memberId, clusterId: computeClusterId([...members.values()]), members };
}

/** Raft node IDs are the member IDs in lowercase hex (as etcd prints them). */
export const nodeIdOf = (id: bigint): string => id.toString(16);
export const memberIdOf = (node: string): bigint => (node === "" ? 0n : BigInt(`0x${node}`));
