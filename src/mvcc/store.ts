// MvccStore: Kvorum's revisioned key-value state machine (etcd's mvcc + applier semantics) on a
// Backend. Every write validates the whole request first, then runs in one backend write
// transaction that also records the raft index it came from, so a restart never sees data
// without its index or the reverse; a request whose raft index is already applied is skipped.
// Opening is O(1): all indexes live in the backend (see schema.ts and the MVCC ADR).

import type { Backend, BackendTable } from "./backend.js";
import { decodeChange } from "./codec.js";
import { compactChunk } from "./compaction.js";
import { evaluateCompare } from "./compare.js";
import { Crc32c } from "../common/crc32c.js";
import { Errors } from "./errors.js";
import { counts, observe } from "../common/etcd-counts.js";
import { checkReadRevision, evaluateRange, type ReadPoint } from "./range.js";
import { KvReader } from "./reader.js";
import {
  ChangeKind,
  decodeRevisionKey,
  escapeKey,
  META,
  metaValue,
  readMetaValue,
  revisionStart,
  TABLES,
} from "./schema.js";
import { spanIsEmpty, spanOf } from "./span.js";
import { checkPutRequest, checkTxnRequestShape, DEFAULT_MAX_TXN_OPS } from "./txn-rules.js";
import { readBigI64, writeBigU64 } from "./bytes.js";
import { RevisionWriter } from "./writer.js";
import {
  EventType,
  NO_LEASE,
  type CompactionResponse,
  type DeleteRangeRequest,
  type DeleteRangeResponse,
  type KeyValue,
  type LeaseId,
  type MvccEvent,
  type PutRequest,
  type PutResponse,
  type RangeRequest,
  type RangeResponse,
  type RequestOp,
  type ResponseOp,
  type TxnRequest,
  type TxnResponse,
} from "./types.js";

/** What the store needs from the lessor (src/lease). Without one, any nonzero lease is unknown. */
export interface LeaseRegistry {
  exists(id: LeaseId): boolean;
  /** Called after the write that attached key to lease committed. */
  attach(id: LeaseId, key: Uint8Array): void;
  /** Called after the write that detached key (deleted it, or moved it to another lease) committed. */
  detach(id: LeaseId, key: Uint8Array): void;
}

export interface MvccStoreOptions {
  /** Most ops in a Txn's compare, success or failure list (etcd --max-txn-ops). Default 128. */
  maxTxnOps?: number;
  leases?: LeaseRegistry;
}

/**
 * Called synchronously after each committed write revision with its events in op order. PUT
 * events carry prevKv when the key existed before; DELETE events always carry it.
 */
export type WriteListener = (revision: number, events: MvccEvent[]) => void;

export interface RevisionEvent {
  revision: number;
  event: MvccEvent;
}

export interface HashResult {
  hash: number;
  revision: number;
}

export interface HashKvResult {
  hash: number;
  compactRevision: number;
  revision: number;
}

/** The chosen branch of a Txn, decided by its compares against the state before the Txn. */
interface TxnPlan {
  succeeded: boolean;
  ops: RequestOp[];
  /** For each op that is a nested Txn, its plan (same index). */
  nested: Array<TxnPlan | undefined>;
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

interface OpTally {
  ranges: number;
  puts: number;
  deletes: number;
  putBytes: number;
}

/** etcd counts per store transaction: each operation, and the transaction when it has several. */
function countWrite(t: OpTally): void {
  counts.mvccRange += t.ranges;
  counts.mvccPut += t.puts;
  counts.mvccDelete += t.deletes;
  counts.mvccPutBytes += t.putBytes;
  if (t.ranges + t.puts + t.deletes > 1) counts.mvccTxn++;
}

export class MvccStore {
  private readonly reader: KvReader;
  private readonly meta: BackendTable;
  private readonly revisions: BackendTable;
  private readonly leaseIndex: BackendTable;
  private readonly listeners = new Set<WriteListener>();
  private readonly maxTxnOps: number;
  private readonly leases: LeaseRegistry | undefined;
  /** The operations of the write being applied (for etcd's mvcc metrics). */
  /** When the physical compaction in progress started (performance.now()). */
  private compactionStartedAt: number | undefined;
  private readonly tally: OpTally = { ranges: 0, puts: 0, deletes: 0, putBytes: 0 };

  private constructor(
    private readonly backend: Backend,
    opts: MvccStoreOptions,
  ) {
    this.reader = new KvReader(backend);
    this.meta = backend.table(TABLES.meta);
    this.revisions = backend.table(TABLES.revisions);
    this.leaseIndex = backend.table(TABLES.keysByLease);
    this.maxTxnOps = opts.maxTxnOps ?? DEFAULT_MAX_TXN_OPS;
    this.leases = opts.leases;
  }

  /** Opens the store kept in backend (a new store starts at revision 1). Reads only meta rows. */
  static open(backend: Backend, opts: MvccStoreOptions = {}): MvccStore {
    const store = new MvccStore(backend, opts);
    if (store.meta.get(META.currentRevision) === undefined) {
      backend.writeTxn(() => store.meta.put(META.currentRevision, metaValue(1)));
    }
    store.compactRevision();
    return store;
  }

  currentRevision(): number {
    return readMetaValue(this.meta.get(META.currentRevision));
  }

  /** The revision of the last compaction, 0 if never compacted. */
  compactRevision(): number {
    const revision = readMetaValue(this.meta.get(META.compactRevision));
    // Kept for etcd_debugging_mvcc_compact_revision (read on every request, so it stays current).
    counts.compactRevision = revision;
    return revision;
  }

  /** The raft index of the last applied entry stored with the data (0 = none). */
  appliedIndex(): number {
    return readMetaValue(this.meta.get(META.appliedIndex));
  }

  /** Records that entries up to raftIndex are applied (for entries that change no key). Never moves back. */
  setAppliedIndex(raftIndex: number): void {
    this.backend.writeTxn(() => {
      if (raftIndex > this.appliedIndex()) this.meta.put(META.appliedIndex, metaValue(raftIndex));
    });
  }

  range(req: RangeRequest): RangeResponse {
    counts.mvccRange++;
    return evaluateRange(this.reader, req, this.readPoint());
  }

  put(req: PutRequest, raftIndex?: number): PutResponse {
    return this.write(
      raftIndex,
      () => ({ header: { revision: this.currentRevision() } }),
      () => {
        checkPutRequest(req);
        const lease = req.lease ?? NO_LEASE;
        if (lease !== NO_LEASE && !this.leaseExists(lease)) throw Errors.leaseNotFound();
        if (
          (req.ignoreValue === true || req.ignoreLease === true) &&
          this.reader.get(req.key) === undefined
        ) {
          throw Errors.keyNotFound();
        }
      },
      (w) => this.applyPut(w, req),
    );
  }

  deleteRange(req: DeleteRangeRequest, raftIndex?: number): DeleteRangeResponse {
    return this.write(
      raftIndex,
      () => ({ header: { revision: this.currentRevision() }, deleted: 0, prevKvs: [] }),
      () => {
        if (req.key.length === 0) throw Errors.emptyKey();
      },
      (w) => this.applyDelete(w, req),
    );
  }

  txn(req: TxnRequest, raftIndex?: number): TxnResponse {
    let plan: TxnPlan | undefined;
    return this.write(
      raftIndex,
      () => ({ header: { revision: this.currentRevision() }, succeeded: false, responses: [] }),
      () => {
        checkTxnRequestShape(req, this.maxTxnOps);
        plan = this.planTxn(req);
        this.checkPlan(plan, this.readPoint());
      },
      (w) => this.applyTxn(w, plan!),
    );
  }

  compact(revision: number, raftIndex?: number): CompactionResponse {
    return this.write(
      raftIndex,
      () => ({ header: { revision: this.currentRevision() } }),
      () => {
        if (revision <= this.compactRevision()) throw Errors.compacted();
        if (revision > this.currentRevision()) throw Errors.futureRevision();
      },
      () => {
        // etcd's compaction applier reads once (for the current revision): counted as a range.
        this.tally.ranges++;
        // Logical now; physical in steps (compactionStep). Finish an earlier job first.
        while (this.compactionStep()) {
          /* continue */
        }
        this.meta.put(META.compactRevision, metaValue(revision));
        return { header: { revision: this.currentRevision() } };
      },
    );
  }

  /** True while a compaction is decided but not yet physically applied to the backend. */
  compactionPending(): boolean {
    return readMetaValue(this.meta.get(META.compactPhysical)) < this.compactRevision();
  }

  /**
   * Applies the next part (at most maxChanges change records) of a pending compaction in its
   * own write transaction. Returns true if more remains. Reads are correct at any point; the
   * server calls this between other work until it returns false (or uses compactInBackground).
   */
  compactionStep(maxChanges = 4096): boolean {
    const start = performance.now();
    let worked = false;
    const more = this.backend.writeTxn(() => {
      const target = this.compactRevision();
      const previous = readMetaValue(this.meta.get(META.compactPhysical));
      if (previous >= target) return false;
      worked = true;
      const from = this.meta.get(META.compactCursor) ?? revisionStart(previous + 1);
      const next = compactChunk(this.backend, previous, target, from, maxChanges);
      if (next !== undefined) {
        this.meta.put(META.compactCursor, next);
        return true;
      }
      this.meta.del(META.compactCursor);
      this.meta.put(META.compactPhysical, metaValue(target));
      return false;
    });
    if (worked) {
      const now = performance.now();
      this.compactionStartedAt ??= start;
      observe.compactionPauseMs(now - start);
      if (!more) {
        observe.compactionTotalMs(now - this.compactionStartedAt);
        this.compactionStartedAt = undefined;
      }
    }
    return more;
  }

  /** Runs a pending compaction to the end, one step per event-loop turn. */
  async compactInBackground(maxChangesPerStep = 4096): Promise<void> {
    while (this.compactionStep(maxChangesPerStep))
      await new Promise<void>((resolve) => setImmediate(resolve));
  }

  /** Runs a pending compaction to the end now (Compact with physical=true; before hashing). */
  finishCompaction(): void {
    while (this.compactionStep()) {
      /* continue */
    }
  }

  /**
   * CRC-32C of the whole key-value state: every row (key bytes then value bytes) of the latest,
   * history, revisions and leases tables in that order, then the current and compact revisions
   * as 8-byte big-endian numbers. Equal on members that applied the same entries.
   */
  hash(): HashResult {
    const start = performance.now();
    this.finishCompaction();
    const crc = new Crc32c();
    for (const name of [TABLES.latest, TABLES.history, TABLES.revisions, TABLES.keysByLease]) {
      for (const { key, value } of this.backend.table(name).range(undefined, undefined))
        crc.update(key).update(value);
    }
    const revision = this.currentRevision();
    crc.update(metaValue(revision)).update(metaValue(this.compactRevision()));
    observe.hashSeconds((performance.now() - start) / 1000);
    return { hash: crc.value, revision };
  }

  /**
   * etcd's HashKV: CRC-32C over every change record at or below rev (0 = current) that survives
   * compaction, in revision order, each as its revisions-table key (rev ++ sub) then record.
   */
  hashKV(rev: number): HashKvResult {
    const current = this.currentRevision();
    const compactRevision = this.compactRevision();
    if (rev > 0 && rev <= compactRevision) throw Errors.compacted();
    if (rev > current) throw Errors.futureRevision();
    const start = performance.now();
    this.finishCompaction();
    const upTo = rev > 0 ? rev : current;
    const crc = new Crc32c();
    for (const { key, value } of this.revisions.range(undefined, revisionStart(upTo + 1)))
      crc.update(key).update(value);
    observe.hashRevSeconds((performance.now() - start) / 1000);
    // etcd reports -1 until the first compaction.
    return {
      hash: crc.value,
      compactRevision: compactRevision > 0 ? compactRevision : -1,
      revision: current,
    };
  }

  subscribe(listener: WriteListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Changes of revisions fromRev..toRev from the backend, whole revisions only, stopping after
   * the revision that reaches maxEvents (at least one revision is returned when there is one).
   * lastRevision: the last revision fully covered (toRev, capped at the current revision, when
   * the scan reached the end). DELETE events have no prevKv here; use valueBefore.
   * fromRev may equal the compaction revision: that revision then yields only what compaction
   * keeps of it (each key's put there, no deletes), as etcd's watch replays it.
   */
  readEvents(
    fromRev: number,
    toRev: number,
    maxEvents: number,
  ): { events: RevisionEvent[]; lastRevision: number } {
    const compacted = this.compactRevision();
    if (fromRev < compacted) throw Errors.compacted();
    const current = this.currentRevision();
    const events: RevisionEvent[] = [];
    const endRev = Math.min(toRev, current);
    if (fromRev > endRev) return { events, lastRevision: endRev };
    let lastRevision = endRev;
    for (const { key, value } of this.revisions.range(revisionStart(fromRev), revisionStart(endRev + 1))) {
      const { rev } = decodeRevisionKey(key);
      const prev = events[events.length - 1];
      if (prev !== undefined && prev.revision !== rev && events.length >= maxEvents) {
        lastRevision = prev.revision;
        break;
      }
      const change = decodeChange(rev, value);
      if (rev === compacted && !this.keptByCompaction(change.kind, change.kv.key, key)) continue;
      const type = change.kind === ChangeKind.PUT ? EventType.PUT : EventType.DELETE;
      events.push({ revision: rev, event: { type, kv: change.kv } });
    }
    return { events, lastRevision };
  }

  /**
   * Whether a change at the compaction revision survives compaction: a put that is its key's
   * newest change there. Decided from the history table, so rows that a still running physical
   * compaction has yet to remove are skipped too.
   */
  private keptByCompaction(kind: ChangeKind, userKey: Uint8Array, revKey: Uint8Array): boolean {
    if (kind !== ChangeKind.PUT) return false;
    const { rev, sub } = decodeRevisionKey(revKey);
    const row = this.reader.historyAt(escapeKey(userKey), rev);
    return row !== undefined && row.rev === rev && row.sub === sub;
  }

  /** The key's KeyValue just before revision (what prev_kv reports for a change at revision). */
  valueBefore(key: Uint8Array, revision: number): KeyValue | undefined {
    return this.reader.valueAt(key, revision - 1);
  }

  /** Every (lease, key) attachment, from the on-disk lease index, in lease then key order. */
  *leasedKeys(): Iterable<[LeaseId, Uint8Array]> {
    for (const { key } of this.leaseIndex.range(undefined, undefined)) {
      yield [readBigI64(key, 0), key.subarray(8)];
    }
  }

  /** The keys attached to one lease (for revoking it). */
  *keysOfLease(lease: LeaseId): Iterable<Uint8Array> {
    // Keys of this lease are exactly the rows prefixed by its 8 bytes: [id, id + 1).
    const id = BigInt.asUintN(64, lease);
    const start = new Uint8Array(8);
    writeBigU64(start, 0, id);
    let end: Uint8Array | undefined;
    if (id < 0xffff_ffff_ffff_ffffn) {
      end = new Uint8Array(8);
      writeBigU64(end, 0, id + 1n);
    }
    for (const { key } of this.leaseIndex.range(start, end)) yield key.subarray(8);
  }

  // ---------------------------------------------------------------------------------------------

  private readPoint(): ReadPoint {
    return { visibleRevision: this.currentRevision(), compactRevision: this.compactRevision() };
  }

  private leaseExists(lease: LeaseId): boolean {
    return this.leases !== undefined && this.leases.exists(lease);
  }

  /**
   * The frame of every write: skip if already applied; validate (on failure only the raft index
   * is recorded, the error is thrown); apply in one write transaction with the raft index; after
   * commit, tell the lessor and the listeners.
   */
  private write<T>(
    raftIndex: number | undefined,
    skipped: () => T,
    validate: () => void,
    apply: (w: RevisionWriter) => T,
  ): T {
    if (raftIndex !== undefined && raftIndex <= this.appliedIndex()) return skipped();
    const outcome = this.backend.writeTxn((): Outcome<T> => {
      const t = this.tally;
      t.ranges = t.puts = t.deletes = t.putBytes = 0;
      try {
        validate();
      } catch (error) {
        if (raftIndex !== undefined) this.meta.put(META.appliedIndex, metaValue(raftIndex));
        return { ok: false, error };
      }
      const w = new RevisionWriter(this.backend, this.currentRevision() + 1);
      const value = apply(w);
      countWrite(this.tally);
      if (w.changed) this.meta.put(META.currentRevision, metaValue(w.revision));
      if (raftIndex !== undefined) this.meta.put(META.appliedIndex, metaValue(raftIndex));
      if (w.changed) this.backend.afterCommit(() => this.afterWrite(w));
      return { ok: true, value };
    });
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  }

  private afterWrite(w: RevisionWriter): void {
    if (this.leases !== undefined) {
      for (const c of w.leaseChanges) {
        if (c.kind === "attach") this.leases.attach(c.lease, c.key);
        else this.leases.detach(c.lease, c.key);
      }
    }
    for (const listener of this.listeners) {
      try {
        listener(w.revision, w.events);
      } catch (e) {
        // A broken listener must not make a committed write look failed: surface it loudly.
        queueMicrotask(() => {
          throw e;
        });
      }
    }
  }

  private visibleRevision(w: RevisionWriter): number {
    return w.changed ? w.revision : w.revision - 1;
  }

  private applyPut(w: RevisionWriter, req: PutRequest): PutResponse {
    const prev = this.reader.get(req.key);
    const value = req.ignoreValue === true && prev !== undefined ? prev.value : req.value;
    const lease = req.ignoreLease === true && prev !== undefined ? prev.lease : (req.lease ?? NO_LEASE);
    w.put(req.key, value, lease, prev);
    this.tally.puts++;
    this.tally.putBytes += req.key.length + value.length;
    // etcd reads the previous value first when the request needs it.
    if (req.prevKv === true || req.ignoreValue === true || req.ignoreLease === true) this.tally.ranges++;
    const res: PutResponse = { header: { revision: w.revision } };
    if (req.prevKv === true && prev !== undefined) res.prevKv = prev;
    return res;
  }

  private applyDelete(w: RevisionWriter, req: DeleteRangeRequest): DeleteRangeResponse {
    const span = spanOf(req.key, req.rangeEnd);
    const prevs = spanIsEmpty(span)
      ? []
      : Array.from(this.reader.latestRange(span), (ref) => ref.load(false));
    for (const prev of prevs) w.delete(prev);
    this.tally.deletes++;
    if (req.prevKv === true) this.tally.ranges++;
    return {
      header: { revision: this.visibleRevision(w) },
      deleted: prevs.length,
      prevKvs: req.prevKv === true ? prevs : [],
    };
  }

  private planTxn(req: TxnRequest): TxnPlan {
    // Each compare is a range read in etcd.
    this.tally.ranges += req.compare.length;
    const succeeded = req.compare.every((c) => evaluateCompare(this.reader, c));
    const ops = succeeded ? req.success : req.failure;
    return {
      succeeded,
      ops,
      nested: ops.map((op) => ("requestTxn" in op ? this.planTxn(op.requestTxn) : undefined)),
    };
  }

  /** etcd's checkRequests on the chosen branches, against the state before the Txn. */
  private checkPlan(plan: TxnPlan, at: ReadPoint): void {
    plan.ops.forEach((op, i) => {
      if ("requestRange" in op) {
        if ((op.requestRange.revision ?? 0) > 0) checkReadRevision(op.requestRange.revision, at);
      } else if ("requestPut" in op) {
        const p = op.requestPut;
        if ((p.ignoreValue === true || p.ignoreLease === true) && this.reader.get(p.key) === undefined) {
          throw Errors.keyNotFound();
        }
        const lease = p.lease ?? NO_LEASE;
        if (lease !== NO_LEASE && !this.leaseExists(lease)) throw Errors.leaseNotFound();
      } else if ("requestTxn" in op) {
        this.checkPlan(plan.nested[i]!, at);
      }
    });
  }

  private applyTxn(w: RevisionWriter, plan: TxnPlan): TxnResponse {
    const responses: ResponseOp[] = plan.ops.map((op, i): ResponseOp => {
      if ("requestRange" in op) {
        const at = { visibleRevision: this.visibleRevision(w), compactRevision: this.compactRevision() };
        this.tally.ranges++;
        return { responseRange: evaluateRange(this.reader, op.requestRange, at) };
      }
      if ("requestPut" in op) return { responsePut: this.applyPut(w, op.requestPut) };
      if ("requestDeleteRange" in op)
        return { responseDeleteRange: this.applyDelete(w, op.requestDeleteRange) };
      return { responseTxn: this.applyTxn(w, plan.nested[i]!) };
    });
    return { header: { revision: this.visibleRevision(w) }, succeeded: plan.succeeded, responses };
  }
}
