// Member and cluster IDs derived the way etcd 3.4 derives them (etcdserver/api/membership), so a
// Kvorum member started with the same --name, --initial-advertise-peer-urls, --initial-cluster and
// --initial-cluster-token reports the same member_id and cluster_id as etcd would:
// - member ID: the first 8 bytes, big-endian, of SHA-1 over the member's peer URLs (normalized,
//   sorted, concatenated without separator), then the cluster token, then, for a member added at
//   runtime, the adding time in Unix seconds as decimal text;
// - cluster ID: the first 8 bytes of SHA-1 over the member IDs sorted as unsigned 64-bit numbers,
//   each written as 8 bytes big-endian.
import { createHash } from "node:crypto";

const ALLOWED_SCHEMES = new Set(["http", "https", "unix", "unixs"]);

/**
 * A peer URL in the form etcd hashes it: surrounding space trimmed, scheme lowercased. Throws for
 * the URLs etcd refuses (other schemes, no host:port, a path).
 */
export function normalizePeerUrl(raw: string): string {
  const text = raw.trim();
  const match = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/.exec(text);
  if (match === null) throw new Error(`URL scheme must be http, https, unix, or unixs: ${text}`);
  const scheme = match[1]!.toLowerCase();
  const host = match[2]!;
  const rest = match[3]!;
  if (!ALLOWED_SCHEMES.has(scheme))
    throw new Error(`URL scheme must be http, https, unix, or unixs: ${text}`);
  if (!/^(\[[^\]]*\]|[^:[\]]*):[^:]*$/.test(host.replace(/^[^@]*@/, "")))
    throw new Error(`URL address does not have the form "host:port": ${text}`);
  if (rest !== "" && !rest.startsWith("?") && !rest.startsWith("#"))
    throw new Error(`URL must not contain a path: ${text}`);
  return `${scheme}://${host}${rest}`;
}

function first8BytesOfSha1(data: Buffer): bigint {
  return createHash("sha1").update(data).digest().readBigUInt64BE(0);
}

/**
 * etcd's member ID. `now` is given only for a member added to a running cluster (etcd mixes the
 * adding time into the hash so a re-added member with the same URLs gets a fresh ID).
 */
export function memberIdFor(peerUrls: string[], clusterToken: string, now?: Date): bigint {
  const sorted = peerUrls.map(normalizePeerUrl).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let text = sorted.join("") + clusterToken;
  if (now !== undefined) text += String(Math.floor(now.getTime() / 1000));
  return first8BytesOfSha1(Buffer.from(text, "utf8"));
}

/** etcd's cluster ID for a cluster bootstrapped with these members. */
export function clusterIdFor(memberIds: bigint[]): bigint {
  const sorted = [...memberIds].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const words = Buffer.alloc(8 * sorted.length);
  sorted.forEach((id, i) => words.writeBigUInt64BE(BigInt.asUintN(64, id), 8 * i));
  return first8BytesOfSha1(words);
}

export interface BootstrapIdentity {
  /** This member's ID. */
  memberId: bigint;
  clusterId: bigint;
  /** Every initial member's ID by name. */
  members: Map<string, bigint>;
}

/**
 * The IDs of a new cluster from the parsed --initial-cluster (name → peer URLs) and
 * --initial-cluster-token, as etcd computes them at bootstrap. Throws, as etcd does, when two
 * members get the same ID or `selfName` is not in the initial cluster.
 */
export function bootstrapIdentity(
  initialCluster: Record<string, string[]>,
  clusterToken: string,
  selfName: string,
): BootstrapIdentity {
  const members = new Map<string, bigint>();
  const seen = new Map<bigint, string>();
  for (const [name, urls] of Object.entries(initialCluster)) {
    const id = memberIdFor(urls, clusterToken);
    const other = seen.get(id);
    if (other !== undefined)
      throw new Error(`member ${name} has the same ID ${formatMemberId(id)} as ${other}`);
    if (id === 0n) throw new Error(`cannot use ${formatMemberId(id)} as member id`);
    seen.set(id, name);
    members.set(name, id);
  }
  const memberId = members.get(selfName);
  if (memberId === undefined)
    throw new Error(`couldn't find local name "${selfName}" in the initial cluster configuration`);
  return { memberId, clusterId: clusterIdFor([...members.values()]), members };
}

/** IDs as etcd prints them in logs and `member list -w table`: lowercase hex, no padding. */
export function formatMemberId(id: bigint): string {
  return BigInt.asUintN(64, id).toString(16);
}
