// Test support: a single-process MemberApi over an in-memory MVCC store, its watch hub and a
// minimal lease table (no expiry; revoke deletes the attached keys), enough for the lock and
// election recipes. Calls the recipes never make throw.
import { Errors } from "../../mvcc/errors.js";
import { MemoryBackend, MvccStore, type LeaseRegistry } from "../../mvcc/index.js";
import type { LeaseId, RequestOp } from "../../mvcc/types.js";
import { WatchHub, type WatchSink, type WatchStream } from "../../mvcc/watch/index.js";
import type {
  HeaderInfo,
  LeaseGrantResult,
  LeaseTimeToLiveResult,
  MemberApi,
  RequestOptions,
} from "../member-api.js";

class TestLeases implements LeaseRegistry {
  readonly keysByLease = new Map<LeaseId, Map<string, Uint8Array>>();
  readonly ttlByLease = new Map<LeaseId, number>();

  exists(id: LeaseId): boolean {
    return this.keysByLease.has(id);
  }
  attach(id: LeaseId, key: Uint8Array): void {
    this.keysByLease.get(id)?.set(Buffer.from(key).toString("latin1"), key);
  }
  detach(id: LeaseId, key: Uint8Array): void {
    this.keysByLease.get(id)?.delete(Buffer.from(key).toString("latin1"));
  }
}

const unsupported = (what: string) => () => Promise.reject(new Error(`test member: ${what} not supported`));

export class TestMember implements MemberApi {
  readonly backend = new MemoryBackend();
  readonly leases = new TestLeases();
  readonly store = MvccStore.open(this.backend, { leases: this.leases });
  readonly hub = new WatchHub(this.store, { progressIntervalMs: 0 });
  private nextLeaseId = 0x694d7a1b2c3d4e00n;
  /** Every request's options, newest last, so tests can see which calls carried the client's signal. */
  readonly calls: Array<{ method: string; opts: RequestOptions | undefined }> = [];

  header(): HeaderInfo {
    return { clusterId: 11n, memberId: 22n, raftTerm: 3 };
  }

  private record(method: string, opts: RequestOptions | undefined): void {
    this.calls.push({ method, opts });
    if (opts?.signal?.aborted) throw new Error("test member: request sent with an aborted signal");
  }

  range: MemberApi["range"] = (req, opts) => {
    this.record("range", opts);
    return Promise.resolve().then(() => this.store.range(req));
  };
  put: MemberApi["put"] = (req, opts) => {
    this.record("put", opts);
    return Promise.resolve().then(() => this.store.put(req));
  };
  deleteRange: MemberApi["deleteRange"] = (req, opts) => {
    this.record("deleteRange", opts);
    return Promise.resolve().then(() => this.store.deleteRange(req));
  };
  txn: MemberApi["txn"] = (req, opts) => {
    this.record("txn", opts);
    return Promise.resolve().then(() => this.store.txn(req));
  };
  compact: MemberApi["compact"] = (req) => Promise.resolve().then(() => this.store.compact(req.revision));

  leaseGrant(req: { id: LeaseId; ttl: number }, opts?: RequestOptions): Promise<LeaseGrantResult> {
    this.record("leaseGrant", opts);
    const id = req.id !== 0n ? req.id : this.nextLeaseId++;
    if (this.leases.exists(id)) return Promise.reject(Errors.leaseExists());
    this.leases.keysByLease.set(id, new Map());
    this.leases.ttlByLease.set(id, req.ttl);
    return Promise.resolve({ id, ttl: req.ttl, revision: this.store.currentRevision() });
  }

  async leaseRevoke(id: LeaseId, opts?: RequestOptions): Promise<{ revision: number }> {
    this.record("leaseRevoke", opts);
    await Promise.resolve();
    const keys = this.leases.keysByLease.get(id);
    if (keys === undefined) throw Errors.leaseNotFound();
    const ops: RequestOp[] = [...keys.values()].map((key) => ({ requestDeleteRange: { key } }));
    if (ops.length > 0) this.store.txn({ compare: [], success: ops, failure: [] });
    this.leases.keysByLease.delete(id);
    this.leases.ttlByLease.delete(id);
    return { revision: this.store.currentRevision() };
  }

  leaseTimeToLive(id: LeaseId, keys: boolean): Promise<LeaseTimeToLiveResult> {
    const attached = this.leases.keysByLease.get(id);
    const ttl = this.leases.ttlByLease.get(id) ?? -1;
    return Promise.resolve({
      id,
      ttl,
      grantedTtl: attached === undefined ? 0 : ttl,
      keys: keys && attached !== undefined ? [...attached.values()] : [],
      revision: this.store.currentRevision(),
    });
  }

  openWatchStream(sink: WatchSink): WatchStream {
    return this.hub.openStream(sink);
  }

  /** Open watch streams on the hub (to check that the recipes close theirs). */
  openStreams(): number {
    return this.hub.stats().streams;
  }

  leaseRenew = unsupported("leaseRenew");
  leaseLeases = unsupported("leaseLeases");
  status = unsupported("status");
  hash = unsupported("hash");
  hashKV = unsupported("hashKV");
  alarm = unsupported("alarm");
  defragment = unsupported("defragment");
  snapshot = unsupported("snapshot");
  memberList = unsupported("memberList");
  moveLeader = unsupported("moveLeader");
  memberAdd = unsupported("memberAdd");
  memberRemove = unsupported("memberRemove");
  memberUpdate = unsupported("memberUpdate");
  memberPromote = unsupported("memberPromote");
  isLearner(): boolean {
    return false;
  }
  leaderId(): bigint {
    return 1n;
  }

  async close(): Promise<void> {
    this.hub.close();
    await this.backend.close();
  }
}
