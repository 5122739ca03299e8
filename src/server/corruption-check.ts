// Cross-member data corruption checks, as etcd 3.4 runs them (etcdserver/corrupt.go):
// - initialCorruptCheck (--experimental-initial-corrupt-check): before a restarted member begins,
//   it computes its HashKV at its own revision and asks every peer for theirs at that revision.
//   A peer with the same compact revision and a different hash is a mismatch; any mismatch stops
//   the start with "<id> found data inconsistency with peers". Peers that are behind, have
//   compacted past the revision or do not answer are logged and skipped.
// - the corruption monitor (--experimental-corrupt-check-time): every period the leader takes its
//   hash, asks the followers at its revision, waits for a linearizable read, takes its hash again
//   and compares. Any inconsistency raises the CORRUPT alarm through raft, for member 0 as etcd
//   3.4.23 does (it cannot tell which member is damaged); the applier then refuses every write
//   with "etcdserver: corrupt cluster".
// Peers are asked with the peer request HASHKV_METHOD (etcd uses GET /members/hashkv on the peer
// port; Kvorum's peer requests go over its own peer RPC, see transport/peer-rpc.ts).
import type { NodeId } from "../raft/index.js";
import type { PeerCaller } from "../transport/types.js";
import { EtcdError } from "../mvcc/errors.js";

export const HASHKV_METHOD = "hashkv";

export interface HashKvAnswer {
  hash: number;
  compactRevision: number;
  /** The answering member's current revision. */
  revision: number;
}

export interface CorruptionLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** Answers a peer's hashkv request: {revision} → the hash of the local store at that revision. */
export async function answerHashKV(
  hashKV: (revision: number) => Promise<HashKvAnswer>,
  body: unknown,
): Promise<HashKvAnswer> {
  const rev = (body as { revision?: unknown } | null)?.revision;
  if (typeof rev !== "number" || !Number.isSafeInteger(rev) || rev < 0) {
    throw new EtcdError("bad hashkv revision", "INVALID_ARGUMENT");
  }
  const a = await hashKV(rev);
  return { hash: a.hash, compactRevision: a.compactRevision, revision: a.revision };
}

export interface PeerHashKv {
  peer: NodeId;
  urls: readonly string[];
  answer?: HashKvAnswer;
  error?: Error;
}

/** Asks every other member (with a peer URL) for its HashKV at `revision`. */
export async function peerHashKVs(
  self: NodeId,
  peers: ReadonlyMap<NodeId, readonly string[]>,
  caller: PeerCaller,
  revision: number,
  timeoutMs: number,
  logger: CorruptionLogger,
): Promise<PeerHashKv[]> {
  const asks = [...peers]
    .filter(([id, urls]) => id !== self && urls.length > 0)
    .map(async ([peer, urls]): Promise<PeerHashKv> => {
      try {
        const answer = (await caller.call(peer, HASHKV_METHOD, { revision }, timeoutMs)) as HashKvAnswer;
        return { peer, urls, answer };
      } catch (err) {
        logger.warn(
          {
            "local-member-id": self,
            "requested-revision": revision,
            "remote-peer-endpoint": urls[0],
            error: (err as Error).message,
          },
          "failed hash kv request",
        );
        return { peer, urls, error: err as Error };
      }
    });
  return Promise.all(asks);
}

const isCompacted = (e: Error | undefined) => e?.message.includes("required revision has been compacted");
const isFutureRev = (e: Error | undefined) => e?.message.includes("required revision is a future revision");

export interface InitialCheckOptions {
  self: NodeId;
  /** The local store's HashKV at its current revision (etcd's HashByRev(0)). */
  local: HashKvAnswer;
  peers: ReadonlyMap<NodeId, readonly string[]>;
  caller: PeerCaller;
  timeoutMs: number;
  logger: CorruptionLogger;
}

/** The start-up check; throws etcd's error when a peer's data differs at the same compaction. */
export async function initialCorruptCheck(opts: InitialCheckOptions): Promise<void> {
  const { self, local, logger } = opts;
  logger.info(
    { "local-member-id": self, timeout: `${opts.timeoutMs}ms` },
    "starting initial corruption check",
  );
  const answers = await peerHashKVs(self, opts.peers, opts.caller, local.revision, opts.timeoutMs, logger);
  let mismatch = 0;
  for (const p of answers) {
    const fields = {
      "local-member-id": self,
      "local-member-revision": local.revision,
      "local-member-compact-revision": local.compactRevision,
      "local-member-hash": local.hash,
      "remote-peer-id": p.peer,
      "remote-peer-endpoints": p.urls,
    };
    if (p.answer !== undefined) {
      if (p.answer.hash === local.hash) continue;
      const remote = {
        ...fields,
        "remote-peer-revision": p.answer.revision,
        "remote-peer-compact-revision": p.answer.compactRevision,
        "remote-peer-hash": p.answer.hash,
      };
      if (p.answer.compactRevision === local.compactRevision) {
        logger.warn(remote, "found different hash values from remote peer");
        mismatch++;
      } else {
        logger.warn(remote, "found different compact revision values from remote peer");
      }
    } else if (isFutureRev(p.error)) {
      logger.warn(fields, "cannot fetch hash from slow remote peer");
    } else if (isCompacted(p.error)) {
      logger.warn(fields, "cannot fetch hash from remote peer; local member is behind");
    }
  }
  if (mismatch > 0) throw new Error(`${self} found data inconsistency with peers`);
  logger.info({ "local-member-id": self }, "initial corruption checking passed; no corruption");
}

export interface CorruptionMonitorHost {
  self: NodeId;
  isLeader(): boolean;
  hashKV(revision: number): Promise<HashKvAnswer>;
  /** Every member's peer URLs (this one included; it is skipped). */
  peers(): ReadonlyMap<NodeId, readonly string[]>;
  caller: PeerCaller;
  /** Resolves once everything committed when called is applied here (a linearizable read). */
  barrier(): Promise<void>;
  /** Proposes ACTIVATE CORRUPT (member 0) through raft. */
  raiseCorrupt(): Promise<unknown>;
  timeoutMs: number;
  logger: CorruptionLogger;
}

/** One leader-side check (etcd's checkHashKV); returns whether it raised the alarm. */
export async function checkHashKV(host: CorruptionMonitorHost): Promise<boolean> {
  const { logger } = host;
  const first = await host.hashKV(0);
  const answers = await peerHashKVs(
    host.self,
    host.peers(),
    host.caller,
    first.revision,
    host.timeoutMs,
    logger,
  );
  await host.barrier();
  const second = await host.hashKV(0);
  let alarmed = false;
  const mismatch = (): void => {
    if (alarmed) return;
    alarmed = true;
    host.raiseCorrupt().catch((err: unknown) => logger.warn({ err }, "failed to raise the CORRUPT alarm"));
  };
  if (
    second.hash !== first.hash &&
    second.revision === first.revision &&
    second.compactRevision === first.compactRevision
  ) {
    logger.warn(
      {
        "revision-1": first.revision,
        "compact-revision-1": first.compactRevision,
        "hash-1": first.hash,
        "revision-2": second.revision,
        "compact-revision-2": second.compactRevision,
        "hash-2": second.hash,
      },
      "found hash mismatch",
    );
    mismatch();
  }
  let checked = 0;
  for (const p of answers) {
    const a = p.answer;
    if (a === undefined) continue;
    checked++;
    if (a.revision > second.revision) {
      logger.warn(
        { "leader-revision": second.revision, "follower-revision": a.revision, "follower-peer-id": p.peer },
        "revision from follower must be less than or equal to leader's",
      );
      mismatch();
    }
    if (a.compactRevision > second.compactRevision) {
      logger.warn(
        {
          "leader-compact-revision": second.compactRevision,
          "follower-compact-revision": a.compactRevision,
          "follower-peer-id": p.peer,
        },
        "compact revision from follower must be less than or equal to leader's",
      );
      mismatch();
    }
    if (a.compactRevision === first.compactRevision && a.hash !== first.hash) {
      logger.warn(
        {
          "leader-compact-revision": second.compactRevision,
          "leader-hash": first.hash,
          "follower-compact-revision": a.compactRevision,
          "follower-hash": a.hash,
          "follower-peer-id": p.peer,
        },
        "same compact revision then hashes must match",
      );
      mismatch();
    }
  }
  logger.info({ "number-of-peers-checked": checked }, "finished peer corruption check");
  return alarmed;
}

export interface CorruptionMonitor {
  stop(): void;
}

/** Runs checkHashKV every intervalMs while this member leads (etcd's monitorKVHash). */
export function startCorruptionMonitor(host: CorruptionMonitorHost, intervalMs: number): CorruptionMonitor {
  host.logger.info(
    { "local-member-id": host.self, interval: `${intervalMs}ms` },
    "enabled corruption checking",
  );
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      const run = host.isLeader() ? checkHashKV(host) : Promise.resolve(false);
      run
        .catch((err: unknown) =>
          host.logger.warn({ error: (err as Error).message }, "failed to check hash KV"),
        )
        .finally(schedule);
    }, intervalMs);
    timer.unref();
  };
  schedule();
  return {
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
