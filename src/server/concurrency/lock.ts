// Distributed lock (etcd's v3lock service): each contender puts `<name>/<lease hex>` under its
// lease; the contender whose key has the smallest create revision holds the lock, the others wait
// for every older key to disappear (unlock, lease expiry or revocation).
import {
  SortOrder,
  SortTarget,
  type KeyValue,
  type LeaseId,
  type RangeResponse,
  type ResponseHeader,
  type TxnResponse,
} from "../../mvcc/types.js";
import { CompareResult, CompareTarget } from "../../mvcc/types.js";
import { Errors } from "../../mvcc/errors.js";
import type { MemberApi } from "../member-api.js";
import { contenderKey, contenderPrefix, prefixRangeEnd } from "./keys.js";
import { sessionLease } from "./session.js";
import { waitDeletes } from "./wait-deletes.js";

export interface LockResult {
  header: ResponseHeader;
  /** The key that represents the held lock; pass it to `unlock`. */
  key: Uint8Array;
  /** The lease the key is attached to (a fresh 60 s lease when the request gave 0). */
  lease: LeaseId;
}

/**
 * Acquires the lock `name` for `lease`. If the same lease already holds (or waits for) the lock,
 * its existing key is reused. When the wait fails (including `signal` aborting because the client
 * left), the key is deleted so it does not block the others, as etcd's mutex does.
 */
export async function lock(
  member: MemberApi,
  name: Uint8Array,
  requestLease: LeaseId,
  signal?: AbortSignal,
): Promise<LockResult> {
  const lease = await sessionLease(member, requestLease, signal);
  const prefix = contenderPrefix(name);
  const key = contenderKey(prefix, lease);
  const firstCreated = oldestContenderRange(prefix);
  const resp = await member.txn(
    {
      compare: [{ key, target: CompareTarget.CREATE, result: CompareResult.EQUAL, createRevision: 0 }],
      success: [{ requestPut: { key, value: new Uint8Array(0), lease } }, { requestRange: firstCreated }],
      failure: [{ requestRange: { key } }, { requestRange: firstCreated }],
    },
    { signal },
  );
  const myRevision = resp.succeeded ? resp.header.revision : rangeAt(resp, 0).kvs[0]!.createRevision;
  const owner: KeyValue | undefined = rangeAt(resp, 1).kvs[0];
  if (owner === undefined || owner.createRevision === myRevision) {
    return { header: resp.header, key, lease };
  }
  try {
    const header = await waitDeletes(member, prefix, myRevision - 1, signal);
    return { header, key, lease };
  } catch (err) {
    // Not tied to the request's signal: the cleanup must happen after the client left.
    await member.deleteRange({ key }).catch(() => undefined);
    throw err;
  }
}

/** Releases a lock by deleting its key (any key: etcd does not check that it is a lock key). */
export async function unlock(
  member: MemberApi,
  key: Uint8Array,
  signal?: AbortSignal,
): Promise<ResponseHeader> {
  // checked here too: etcd's KV layer rejects it before the member sees it
  if (key.length === 0) throw Errors.emptyKey();
  const resp = await member.deleteRange({ key }, { signal });
  return resp.header;
}

/** The range that reads the oldest key under `prefix`. */
export function oldestContenderRange(prefix: Uint8Array) {
  return {
    key: prefix,
    rangeEnd: prefixRangeEnd(prefix),
    sortTarget: SortTarget.CREATE,
    sortOrder: SortOrder.ASCEND,
    limit: 1,
  };
}

export function rangeAt(resp: TxnResponse, index: number): RangeResponse {
  const op = resp.responses[index];
  if (op === undefined || !("responseRange" in op)) throw new Error(`txn response ${index} is not a range`);
  return op.responseRange;
}
