// The changes of one write revision: every Put and Delete of one request (all ops of a Txn share
// the revision), written to latest/history/revisions/leases inside the caller's write
// transaction, with the events and lease attach/detach calls collected for after the commit.

import type { Backend, BackendTable } from "./backend.js";
import { encodeChange, encodeLatest } from "./codec.js";
import { ChangeKind, escapeKey, historyKey, historyValue, leaseKey, revisionKey, TABLES } from "./schema.js";
import { EventType, NO_LEASE, type KeyValue, type LeaseId, type MvccEvent } from "./types.js";

const EMPTY = new Uint8Array(0);

export interface LeaseChange {
  kind: "attach" | "detach";
  lease: LeaseId;
  key: Uint8Array;
}

export class RevisionWriter {
  readonly events: MvccEvent[] = [];
  readonly leaseChanges: LeaseChange[] = [];
  private readonly latest: BackendTable;
  private readonly history: BackendTable;
  private readonly revisions: BackendTable;
  private readonly leases: BackendTable;

  /** `revision`: the revision these changes get (current + 1). */
  constructor(
    backend: Backend,
    readonly revision: number,
  ) {
    this.latest = backend.table(TABLES.latest);
    this.history = backend.table(TABLES.history);
    this.revisions = backend.table(TABLES.revisions);
    this.leases = backend.table(TABLES.keysByLease);
  }

  get changed(): boolean {
    return this.events.length > 0;
  }

  put(key: Uint8Array, value: Uint8Array, lease: LeaseId, prev: KeyValue | undefined): KeyValue {
    const rev = this.revision;
    const kv: KeyValue = {
      key: new Uint8Array(key),
      createRevision: prev === undefined ? rev : prev.createRevision,
      modRevision: rev,
      version: prev === undefined ? 1 : prev.version + 1,
      value: new Uint8Array(value),
      lease,
    };
    const sub = this.events.length;
    this.latest.put(kv.key, encodeLatest(kv));
    this.history.put(historyKey(escapeKey(kv.key), rev), historyValue(sub, ChangeKind.PUT));
    this.revisions.put(revisionKey(rev, sub), encodeChange(ChangeKind.PUT, kv));
    const prevLease = prev?.lease ?? NO_LEASE;
    if (prevLease !== lease) {
      if (prevLease !== NO_LEASE) this.unlinkLease(prevLease, kv.key);
      if (lease !== NO_LEASE) {
        this.leases.put(leaseKey(lease, kv.key), EMPTY);
        this.leaseChanges.push({ kind: "attach", lease, key: kv.key });
      }
    }
    this.events.push(
      prev === undefined ? { type: EventType.PUT, kv } : { type: EventType.PUT, kv, prevKv: prev },
    );
    return kv;
  }

  delete(prev: KeyValue): void {
    const rev = this.revision;
    const kv: KeyValue = {
      key: prev.key,
      createRevision: 0,
      modRevision: rev,
      version: 0,
      value: EMPTY,
      lease: NO_LEASE,
    };
    const sub = this.events.length;
    this.latest.del(prev.key);
    this.history.put(historyKey(escapeKey(prev.key), rev), historyValue(sub, ChangeKind.DELETE));
    this.revisions.put(revisionKey(rev, sub), encodeChange(ChangeKind.DELETE, kv));
    if (prev.lease !== NO_LEASE) this.unlinkLease(prev.lease, prev.key);
    this.events.push({ type: EventType.DELETE, kv, prevKv: prev });
  }

  private unlinkLease(lease: LeaseId, key: Uint8Array): void {
    this.leases.del(leaseKey(lease, key));
    this.leaseChanges.push({ kind: "detach", lease, key });
  }
}
