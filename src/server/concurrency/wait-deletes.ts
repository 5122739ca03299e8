// Waiting for the contenders ahead: etcd's recipe repeatedly finds the youngest key under the
// prefix created at or before `maxCreateRevision` and waits for its deletion, until none is left.
// Waiting on one key at a time (not the whole prefix) means a release wakes only the next waiter.
import { EventType, SortOrder, SortTarget, type ResponseHeader } from "../../mvcc/types.js";
import type { MemberApi } from "../member-api.js";
import { ConcurrencyErrors } from "./errors.js";
import { prefixRangeEnd } from "./keys.js";
import { SingleWatch } from "./single-watch.js";

/** Resolves with the header of the read that found no older contender. */
export async function waitDeletes(
  member: MemberApi,
  prefix: Uint8Array,
  maxCreateRevision: number,
  signal?: AbortSignal,
): Promise<ResponseHeader> {
  for (;;) {
    const resp = await member.range(
      {
        key: prefix,
        rangeEnd: prefixRangeEnd(prefix),
        sortTarget: SortTarget.CREATE,
        sortOrder: SortOrder.DESCEND,
        limit: 1,
        maxCreateRevision,
      },
      { signal },
    );
    const youngestAhead = resp.kvs[0];
    if (youngestAhead === undefined) return resp.header;
    await waitDelete(member, youngestAhead.key, resp.header.revision, signal);
  }
}

/** Watches `key` from `revision` until an event deletes it. */
export async function waitDelete(
  member: MemberApi,
  key: Uint8Array,
  revision: number,
  signal?: AbortSignal,
): Promise<void> {
  const watch = new SingleWatch(member, { key, startRevision: revision });
  try {
    for (;;) {
      const resp = await watch.nextEvents(signal);
      if (resp === undefined) throw ConcurrencyErrors.lostWatcher();
      if (resp.events.some((ev) => ev.type === EventType.DELETE)) return;
    }
  } finally {
    watch.close();
  }
}
