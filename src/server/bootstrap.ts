// How a member finds out who it is before it starts:
// - a data dir it ran with before: the identity recorded in <data-dir>/member/identity.json
//   (--initial-cluster flags are then ignored, as etcd ignores them; a data dir that belongs to a
//   different member is refused);
// - a new cluster (--initial-cluster-state new): IDs derived from the flags; peers that already
//   run are asked for their cluster ID, and a different one (another --initial-cluster-token or
//   --initial-cluster) is refused with the reason;
// - joining (--initial-cluster-state existing, after `etcdctl member add`): the running members
//   are asked for the member list, which must hold this member's peer URLs.
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import type { ServerConfig } from "../config/server-config.js";
import { DataDirError } from "./data-dir.js";
import { identityFromConfig, memberIdOf, nodeIdOf, type MemberIdentity } from "./identity.js";
import { normalizePeerUrl } from "./maintenance/identity.js";
import type { MemberInfo } from "./member-api.js";

export const PEER_MEMBERS_PATH = "/members";

/** The peer port's GET /members answer. */
export interface PeerMembersDocument {
  clusterId: string;
  members: Array<{ id: string; name: string; peerUrls: string[]; clientUrls: string[]; isLearner: boolean }>;
}

export function membersDocument(clusterId: bigint, members: readonly MemberInfo[]): PeerMembersDocument {
  return {
    clusterId: nodeIdOf(clusterId),
    members: members.map((m) => ({
      id: nodeIdOf(m.id),
      name: m.name,
      peerUrls: m.peerUrls,
      clientUrls: m.clientUrls,
      isLearner: m.isLearner,
    })),
  };
}

export interface BootstrapPlan {
  identity: MemberIdentity;
  /** Joining: the cluster's members (this one included), to start from. */
  initialMembers?: MemberInfo[];
  /** True when the identity came from an earlier run's data dir. */
  restarted: boolean;
}

interface IdentityFile {
  name: string;
  memberId: string;
  clusterId: string;
}

function identityPath(dataDir: string): string {
  return join(dataDir, "member", "identity.json");
}

export function readIdentityFile(dataDir: string): IdentityFile | undefined {
  const path = identityPath(dataDir);
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, "utf8")) as IdentityFile;
  } catch (err) {
    throw new DataDirError(`cannot read ${path}: ${(err as Error).message}`);
  }
}

/** Records the identity once the member has started (written atomically, fsynced). */
export function writeIdentityFile(dataDir: string, name: string, identity: MemberIdentity): void {
  const path = identityPath(dataDir);
  if (existsSync(path)) return;
  mkdirSync(join(dataDir, "member"), { recursive: true });
  const body: IdentityFile = {
    name,
    memberId: nodeIdOf(identity.memberId),
    clusterId: nodeIdOf(identity.clusterId),
  };
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, JSON.stringify(body, null, 2) + "\n");
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

type FetchMembers = (peerUrl: string, timeoutMs: number) => Promise<unknown>;

interface Logger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

function sameUrls(a: readonly string[], b: readonly string[]): boolean {
  const norm = (l: readonly string[]) => [...l].map(normalizePeerUrl).sort().join(",");
  return norm(a) === norm(b);
}

function parseDocument(doc: unknown): { clusterId: bigint; members: MemberInfo[] } | undefined {
  const d = doc as Partial<PeerMembersDocument> | undefined;
  if (d === undefined || typeof d.clusterId !== "string" || !Array.isArray(d.members)) return undefined;
  return {
    clusterId: memberIdOf(d.clusterId),
    members: d.members.map((m) => ({
      id: memberIdOf(m.id),
      name: m.name,
      peerUrls: m.peerUrls,
      clientUrls: m.clientUrls,
      isLearner: m.isLearner,
    })),
  };
}

/** The other initial members' peer URLs (those not advertised by this member). */
function otherPeerUrls(config: ServerConfig): string[] {
  const own = new Set(config.initialAdvertisePeerUrls.map(normalizePeerUrl));
  return Object.entries(config.initialCluster)
    .filter(([name]) => name !== config.name)
    .flatMap(([, urls]) => urls)
    .filter((u) => !own.has(normalizePeerUrl(u)));
}

export async function planBootstrap(
  config: ServerConfig,
  fetchMembers: FetchMembers,
  logger: Logger,
  opts: { joinTimeoutMs?: number } = {},
): Promise<BootstrapPlan> {
  const recorded = readIdentityFile(config.dataDir);
  if (recorded !== undefined) {
    const identity: MemberIdentity = {
      memberId: memberIdOf(recorded.memberId),
      clusterId: memberIdOf(recorded.clusterId),
      members: new Map([[recorded.name, memberIdOf(recorded.memberId)]]),
    };
    if (config.initialClusterState === "new" && config.initialCluster[config.name] !== undefined) {
      const flags = identityFromConfig(config);
      if (flags.memberId !== identity.memberId) {
        throw new DataDirError(
          `data dir ${JSON.stringify(config.dataDir)} belongs to member ${recorded.memberId} of cluster ${recorded.clusterId}, ` +
            `but --initial-advertise-peer-urls and --initial-cluster-token give member ${nodeIdOf(flags.memberId)}: ` +
            "start it with the flags it was created with, or point --data-dir at an empty directory",
        );
      }
      if (flags.clusterId !== identity.clusterId) {
        logger.warn(
          { recorded: recorded.clusterId, flags: nodeIdOf(flags.clusterId) },
          "--initial-cluster differs from the cluster this data dir belongs to; it is ignored (the data dir decides)",
        );
      }
    }
    return { identity, restarted: true };
  }

  if (config.initialClusterState === "new") {
    const identity = identityFromConfig(config);
    // Peers already running with another token or member list are a different cluster.
    const answers = await Promise.all(
      otherPeerUrls(config).map(async (url) => ({
        url,
        doc: parseDocument(await fetchMembers(url, 1000).catch(() => undefined)),
      })),
    );
    for (const { url, doc } of answers) {
      if (doc !== undefined && doc.clusterId !== identity.clusterId) {
        throw new Error(
          `cluster ID mismatch: the member at ${url} belongs to cluster ${nodeIdOf(doc.clusterId)}, but this member's ` +
            `--initial-cluster and --initial-cluster-token give cluster ${nodeIdOf(identity.clusterId)}; ` +
            "every member of a new cluster needs the same --initial-cluster and --initial-cluster-token",
        );
      }
    }
    return { identity, restarted: false };
  }

  // Joining an existing cluster: it must already list this member (etcdctl member add).
  const urls = otherPeerUrls(config);
  if (urls.length === 0) {
    throw new Error(
      "--initial-cluster-state existing needs --initial-cluster to name at least one running member besides this one",
    );
  }
  const deadline = Date.now() + (opts.joinTimeoutMs ?? 30_000);
  let lastError = "";
  while (Date.now() < deadline) {
    for (const url of urls) {
      let doc: ReturnType<typeof parseDocument>;
      try {
        doc = parseDocument(await fetchMembers(url, 2000));
      } catch (err) {
        lastError = (err as Error).message;
        continue;
      }
      if (doc === undefined) continue;
      const self = doc.members.find((m) => sameUrls(m.peerUrls, config.initialAdvertisePeerUrls));
      if (self === undefined) {
        throw new Error(
          `this member's peer URLs (${config.initialAdvertisePeerUrls.join(",")}) are not in the member list of ` +
            `cluster ${nodeIdOf(doc.clusterId)} (asked ${url}); add it first: ` +
            `etcdctl member add ${config.name} --peer-urls=${config.initialAdvertisePeerUrls.join(",")}`,
        );
      }
      const members = doc.members.map((m) => (m.id === self.id ? { ...m, name: config.name } : m));
      logger.info(
        { cluster: nodeIdOf(doc.clusterId), memberId: nodeIdOf(self.id), from: url },
        "joining an existing cluster",
      );
      return {
        identity: {
          memberId: self.id,
          clusterId: doc.clusterId,
          members: new Map(members.map((m) => [m.name === "" ? nodeIdOf(m.id) : m.name, m.id])),
        },
        initialMembers: members,
        restarted: false,
      };
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(
    `cannot join: no member of the existing cluster answered (${urls.join(", ")}): ${lastError}`,
  );
}
