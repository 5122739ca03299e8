// Leader election (etcd's v3election service), built like the lock: every candidate owns
// `<name>/<lease hex>` holding its value; the oldest key is the leader. A leader is identified by
// its key and that key's create revision, so a recreated key does not inherit leadership.
import { bytesEqual } from "../../mvcc/bytes.js";
import { Errors } from "../../mvcc/errors.js";
import {
  CompareResult,
  CompareTarget,
  EventType,
  type Compare,
  type KeyValue,
  type LeaseId,
  type ResponseHeader,
} from "../../mvcc/types.js";
import type { MemberApi } from "../member-api.js";
import { ConcurrencyErrors } from "./errors.js";
import { contenderKey, contenderPrefix, prefixRangeEnd } from "./keys.js";
import { oldestContenderRange, rangeAt } from "./lock.js";
import { sessionLease } from "./session.js";
import { SingleWatch } from "./single-watch.js";
import { waitDeletes } from "./wait-deletes.js";

/** etcd's LeaderKey: what a candidate must present to proclaim or resign. */
export interface LeaderKey {
  name: Uint8Array;
  key: Uint8Array;
  /** The create revision of `key` when it won. */
  rev: number;
  lease: LeaseId;
}

export interface CampaignResult {
  /** The header of the campaign's first write (etcd does not refresh it after the wait). */
  header: ResponseHeader;
  leader: LeaderKey;
}

/** A leader as Leader and Observe report it. */
export interface LeaderObservation {
  header: ResponseHeader;
  kv: KeyValue;
}

/** etcd validates the write before comparing: an empty leader key fails even for a non-owner. */
function requireKey(key: Uint8Array): void {
  if (key.length === 0) throw Errors.emptyKey();
}

function isOwner(leader: LeaderKey): Compare {
  return {
    key: leader.key,
    target: CompareTarget.CREATE,
    result: CompareResult.EQUAL,
    createRevision: leader.rev,
  };
}

/**
 * Enters the election `name` with `value` and resolves once this candidate leads. A candidate
 * whose lease already has a key keeps its place in line (and its value is updated). If `signal`
 * aborts while waiting, the key is withdrawn.
 */
export async function campaign(
  member: MemberApi,
  name: Uint8Array,
  requestLease: LeaseId,
  value: Uint8Array,
  signal?: AbortSignal,
): Promise<CampaignResult> {
  const lease = await sessionLease(member, requestLease, signal);
  const prefix = contenderPrefix(name);
  const key = contenderKey(prefix, lease);
  const resp = await member.txn(
    {
      compare: [{ key, target: CompareTarget.CREATE, result: CompareResult.EQUAL, createRevision: 0 }],
      success: [{ requestPut: { key, value, lease } }],
      failure: [{ requestRange: { key } }],
    },
    { signal },
  );
  const leader: LeaderKey = { name, key, rev: resp.header.revision, lease };
  if (!resp.succeeded) {
    const existing = rangeAt(resp, 0).kvs[0]!;
    leader.rev = existing.createRevision;
    if (!bytesEqual(existing.value, value)) {
      try {
        await proclaim(member, leader, value, signal);
      } catch (err) {
        await resign(member, leader).catch(() => undefined);
        throw err;
      }
    }
  }
  try {
    await waitDeletes(member, prefix, leader.rev - 1, signal);
  } catch (err) {
    // Only a caller that left withdraws; other failures leave the key in line (as etcd does).
    if (signal?.aborted) await resign(member, leader).catch(() => undefined);
    throw err;
  }
  return { header: resp.header, leader };
}

/**
 * Updates the leader's value; fails with "election: not leader" unless `leader` still owns its key.
 * The value is put under `leader.lease`; lease 0 stands for a fresh 60 s lease, as in etcd's server.
 */
export async function proclaim(
  member: MemberApi,
  leader: LeaderKey,
  value: Uint8Array,
  signal?: AbortSignal,
): Promise<ResponseHeader> {
  requireKey(leader.key);
  const lease = await sessionLease(member, leader.lease, signal);
  const resp = await member.txn(
    {
      compare: [isOwner(leader)],
      success: [{ requestPut: { key: leader.key, value, lease } }],
      failure: [],
    },
    { signal },
  );
  if (!resp.succeeded) throw ConcurrencyErrors.notLeader();
  return resp.header;
}

/** Gives up leadership (or a place in line) by deleting the key if it is still this candidate's. */
export async function resign(
  member: MemberApi,
  leader: LeaderKey,
  signal?: AbortSignal,
): Promise<ResponseHeader> {
  requireKey(leader.key);
  const resp = await member.txn(
    { compare: [isOwner(leader)], success: [{ requestDeleteRange: { key: leader.key } }], failure: [] },
    { signal },
  );
  return resp.header;
}

/** The current leader's key-value; "election: no leader" when nobody campaigns. */
export async function currentLeader(
  member: MemberApi,
  name: Uint8Array,
  signal?: AbortSignal,
): Promise<LeaderObservation> {
  const resp = await member.range(oldestContenderRange(contenderPrefix(name)), { signal });
  const kv = resp.kvs[0];
  if (kv === undefined) throw ConcurrencyErrors.noLeader();
  return { header: resp.header, kv };
}

/**
 * Follows the election: yields the leader now (or, with none, the first key put under the prefix),
 * then every new value the leader proclaims, and after it goes, whoever leads next. It does not
 * promise every intermediate leader, only the latest. Ends when `signal` aborts (throwing its
 * reason) or when a watch is canceled by the server, e.g. by compaction (returning normally, as
 * etcd ends the stream with OK then).
 */
export async function* observe(
  member: MemberApi,
  name: Uint8Array,
  signal?: AbortSignal,
): AsyncGenerator<LeaderObservation, void, void> {
  const prefix = contenderPrefix(name);
  for (;;) {
    let resp;
    try {
      resp = await member.range(oldestContenderRange(prefix), { signal });
    } catch (err) {
      // etcd's observer gives up quietly when a read fails (the stream ends with OK)
      if (signal?.aborted) throw err;
      return;
    }
    let leader: LeaderObservation | undefined =
      resp.kvs[0] === undefined ? undefined : { header: resp.header, kv: resp.kvs[0] };
    if (leader === undefined) {
      leader = await firstPut(member, prefix, resp.header.revision, signal);
      if (leader === undefined) return;
    }
    yield leader;

    const watch = new SingleWatch(member, { key: leader.kv.key, startRevision: leader.header.revision + 1 });
    try {
      let deleted = false;
      while (!deleted) {
        const batch = await nextBatch(watch, signal);
        if (batch === undefined) return;
        for (const ev of batch.events) {
          if (ev.type === EventType.DELETE) {
            deleted = true;
            break;
          }
          yield { header: batch.header, kv: ev.kv };
        }
      }
    } finally {
      watch.close();
    }
  }
}

/**
 * With no candidate yet, etcd takes the first PUT under the prefix from `revision` on, whichever
 * key it is, and reports it at that event's revision.
 */
async function firstPut(
  member: MemberApi,
  prefix: Uint8Array,
  revision: number,
  signal: AbortSignal | undefined,
): Promise<LeaderObservation | undefined> {
  const watch = new SingleWatch(member, {
    key: prefix,
    rangeEnd: prefixRangeEnd(prefix),
    startRevision: revision,
  });
  try {
    for (;;) {
      const batch = await nextBatch(watch, signal);
      if (batch === undefined) return undefined;
      const put = batch.events.find((ev) => ev.type === EventType.PUT);
      if (put !== undefined) return { header: { revision: put.kv.modRevision }, kv: put.kv };
    }
  } finally {
    watch.close();
  }
}

/** A watch batch, or undefined when the watch ended for a reason other than the caller leaving. */
async function nextBatch(watch: SingleWatch, signal: AbortSignal | undefined) {
  try {
    return await watch.nextEvents(signal);
  } catch (err) {
    if (signal?.aborted) throw err;
    return undefined;
  }
}
