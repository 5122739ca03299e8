// The on-disk Backend: one LMDB environment (a memory-mapped B+tree file) in `dir`, one named
// LMDB database per table, raw byte keys in memcmp order. Commits are LMDB's own, so a crash at
// any instant leaves the last committed state intact.
//
// Two ways to commit (docs/adr/0004-mvcc-backend.md, docs/adr/0011-backend-batching.md):
// - per transaction (default): every outermost writeTxn is one LMDB transaction, fsynced on return;
// - batched (`batch` option, what the server uses): a writeTxn writes into an in-memory table of
//   pending writes (pending-writes.ts) that every read of this backend consults before LMDB, so
//   it is visible as soon as it returns. Every `intervalMs` or `limit` writeTxns, or on
//   sync()/close(), the pending writes are handed to lmdb-js as one asynchronous batch, which its
//   own writer thread commits and flushes in one LMDB transaction; once committed they leave the
//   table. The event-loop thread never waits for an LMDB commit or fsync. A writeTxn is durable
//   only after the batch holding it is flushed. A crash loses whole batches (never part of a
//   writeTxn), which the member replays from its WAL.

import { open, type Database, type RootDatabase } from "lmdb";
import type { Backend, BackendEntry, BackendRangeOptions, BackendTable } from "./backend.js";
import { keyIndex, mergeRange, PendingTable, type PendingWrite } from "./pending-writes.js";

export interface LmdbBackendOptions {
  /**
   * "sync" (default): every write transaction is flushed to disk before writeTxn returns.
   * "lazy": commits reach the OS page cache only and are flushed by the OS (or by sync()).
   * A process crash loses nothing; an OS crash or power loss can lose recent commits and may
   * corrupt the file (LMDB MDB_NOSYNC). For tests, benchmarks and throwaway members only.
   */
  durability?: "sync" | "lazy";
  /** Group writeTxns into one LMDB transaction committed at most this often (see the file comment). */
  batch?: {
    intervalMs: number;
    limit: number;
    onCommitError?: (err: unknown) => void;
    /** Told how long each batch took from hand-over to committed, in seconds (for metrics). */
    onCommitted?: (seconds: number) => void;
  };
}

/** What a table of a batched backend needs from it: where its writes are recorded. */
interface WriteSink {
  /** Records a write (value null: a deletion) of the writeTxn in progress. */
  record(table: PendingTable, key: Uint8Array, value: Uint8Array | null): void;
}

class LmdbTable implements BackendTable {
  constructor(
    readonly db: Database<Buffer, Buffer>,
    /** The table's pending writes; null for a backend that is not batched. */
    readonly pending: PendingTable | null,
    private readonly sink: WriteSink,
  ) {}

  get(key: Uint8Array): Uint8Array | undefined {
    const pending = this.pending;
    if (pending !== null && pending.size > 0) {
      const w = pending.get(keyIndex(key));
      if (w !== undefined) return w.value === null ? undefined : Buffer.from(w.value);
    }
    return this.db.get(asBuffer(key));
  }

  put(key: Uint8Array, value: Uint8Array): void {
    if (this.pending !== null) this.sink.record(this.pending, key, value);
    else void this.db.put(asBuffer(key), asBuffer(value));
  }

  del(key: Uint8Array): void {
    if (this.pending !== null) this.sink.record(this.pending, key, null);
    else void this.db.remove(asBuffer(key));
  }

  range(
    start: Uint8Array | undefined,
    end: Uint8Array | undefined,
    opts: BackendRangeOptions = {},
  ): Iterable<BackendEntry> {
    const pending = this.pending;
    if (pending === null || pending.size === 0) return this.committedRange(start, end, opts);
    const writes = pending.within(start, end);
    if (writes.length === 0) return this.committedRange(start, end, opts);
    if (opts.reverse === true) writes.reverse();
    // The committed scan runs without the limit: pending deletions may hide some of its rows.
    return mergeRange(writes, this.committedRange(start, end, { reverse: opts.reverse === true }), opts);
  }

  private *committedRange(
    start: Uint8Array | undefined,
    end: Uint8Array | undefined,
    opts: BackendRangeOptions,
  ): Iterable<BackendEntry> {
    const limit = opts.limit !== undefined && opts.limit > 0 ? opts.limit : undefined;
    const query =
      opts.reverse === true
        ? this.db.getRange({
            ...(end !== undefined ? { start: asBuffer(end), exclusiveStart: true } : {}),
            // Without an end, lmdb-js stops a reverse scan before its default first key, 0x00,
            // which is a key like any other here: end at it inclusively.
            end: start !== undefined ? asBuffer(start) : FIRST_KEY,
            inclusiveEnd: true,
            reverse: true,
            ...(limit !== undefined ? { limit } : {}),
          })
        : this.db.getRange({
            ...(start !== undefined ? { start: asBuffer(start) } : {}),
            ...(end !== undefined ? { end: asBuffer(end) } : {}),
            ...(limit !== undefined ? { limit } : {}),
          });
    for (const { key, value } of query) yield { key, value };
  }

  count(start: Uint8Array | undefined, end: Uint8Array | undefined): number {
    if (start !== undefined && end !== undefined && Buffer.compare(start, end) >= 0) return 0;
    let n = this.db.getCount({
      ...(start !== undefined ? { start: asBuffer(start) } : {}),
      ...(end !== undefined ? { end: asBuffer(end) } : {}),
    });
    if (this.pending === null || this.pending.size === 0) return n;
    for (const w of this.pending.within(start, end)) {
      const committed = this.db.doesExist(w.key);
      if (w.value !== null && !committed) n++;
      else if (w.value === null && committed) n--;
    }
    return n;
  }
}

/** The smallest key LMDB stores (keys are never empty). */
const FIRST_KEY = Buffer.from([0]);

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** A table's write of the writeTxn in progress, and what it replaced (for a rollback). */
interface UndoRecord {
  table: PendingTable;
  index: string;
  before: PendingWrite | undefined;
}

class LmdbBackend implements Backend, WriteSink {
  private readonly tables = new Map<string, LmdbTable>();
  private depth = 0;
  private pendingAfterCommit: Array<() => void> = [];
  private failure: unknown = null;
  /** sizeBytes() since the last commit (it changes only at commits; getStats is costly). */
  private cachedSize: number | undefined;
  // Batched mode only:
  /** The number of the batch that writeTxns write into now. */
  private openBatch = 1;
  /** writeTxns in the open batch. */
  private openWrites = 0;
  private timer: NodeJS.Timeout | null = null;
  /** Settles when the last batch handed to lmdb-js is committed (never rejects). */
  private lastCommit: Promise<void> = Promise.resolve();
  /** A batch is with lmdb-js and not committed yet; the next one waits (see commitBatch). */
  private inFlight = false;
  /** The open batch is due (interval or limit) and goes as soon as the one in flight commits. */
  private due = false;
  /** Every batch up to this number is committed. */
  private committedThrough = 0;
  /** The writes of the writeTxn in progress, to undo if it throws. */
  private undo: UndoRecord[] = [];

  constructor(
    private readonly env: RootDatabase,
    private readonly batching: LmdbBackendOptions["batch"],
  ) {}

  table(name: string): BackendTable {
    let t = this.tables.get(name);
    if (t === undefined) {
      t = new LmdbTable(
        this.env.openDB<Buffer, Buffer>(name, { keyEncoding: "binary", encoding: "binary" }),
        this.batching !== undefined ? new PendingTable() : null,
        this,
      );
      this.tables.set(name, t);
    }
    return t;
  }

  record(table: PendingTable, key: Uint8Array, value: Uint8Array | null): void {
    if (this.depth === 0) throw new Error("lmdb: a write outside writeTxn");
    const index = keyIndex(key);
    this.undo.push({ table, index, before: table.get(index) });
    table.set(index, {
      key: Buffer.from(key),
      value: value === null ? null : Buffer.from(value),
      batch: this.openBatch,
    });
  }

  writeTxn<T>(fn: () => T): T {
    if (this.depth > 0) return fn();
    if (this.failure !== null) throw this.failure;
    this.depth = 1;
    let result: T;
    try {
      result = this.batching !== undefined ? fn() : this.env.transactionSync(fn);
    } catch (e) {
      this.rollback();
      this.pendingAfterCommit = [];
      throw e;
    } finally {
      this.depth = 0;
    }
    this.undo = [];
    const callbacks = this.pendingAfterCommit;
    this.pendingAfterCommit = [];
    if (this.batching === undefined) this.cachedSize = undefined;
    else this.afterBatchedWrite(this.batching);
    for (const cb of callbacks) cb();
    return result;
  }

  /** Puts back what the failed writeTxn's writes replaced, newest first. */
  private rollback(): void {
    for (let i = this.undo.length - 1; i >= 0; i--) {
      const { table, index, before } = this.undo[i] as UndoRecord;
      if (before === undefined) table.delete(index);
      else table.set(index, before);
    }
    this.undo = [];
  }

  private afterBatchedWrite(opts: NonNullable<LmdbBackendOptions["batch"]>): void {
    if (++this.openWrites >= opts.limit) {
      this.commitBatch();
      return;
    }
    if (this.timer === null) {
      this.timer = setTimeout(() => this.commitBatch(), opts.intervalMs);
      this.timer.unref();
    }
  }

  /**
   * Hands the open batch's writes to lmdb-js as one atomic asynchronous batch (its writer thread
   * commits and flushes it). Once committed, reads find them in LMDB and they leave the pending
   * tables. One batch at a time: while one is in flight the open batch keeps growing and goes
   * when that one commits, so a disk slower than the writes makes batches bigger, not more
   * numerous. A failed commit is kept: later writes throw it.
   */
  private commitBatch(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.openWrites === 0 || this.failure !== null) return;
    if (this.depth > 0) throw new Error("lmdb: a batch cannot commit inside a write transaction");
    if (this.inFlight) {
      this.due = true;
      return;
    }
    this.inFlight = true;
    this.due = false;
    const batch = this.openBatch++;
    this.openWrites = 0;
    const writes: Array<{ db: Database<Buffer, Buffer>; w: PendingWrite }> = [];
    for (const t of this.tables.values()) {
      const pending = t.pending;
      if (pending === null) continue;
      for (const w of pending.writes.values()) if (w.batch === batch) writes.push({ db: t.db, w });
    }
    const handedOver = performance.now();
    const committed = this.env.batch(() => {
      for (const { db, w } of writes) {
        if (w.value === null) void db.remove(w.key);
        else void db.put(w.key, w.value);
      }
    });
    this.lastCommit = committed.then(
      () => {
        // Reads must see the commit in LMDB before the pending copies go.
        this.env.resetReadTxn();
        for (const t of this.tables.values()) t.pending?.dropCommitted(batch);
        this.cachedSize = undefined;
        this.committedThrough = batch;
        this.inFlight = false;
        this.batching?.onCommitted?.((performance.now() - handedOver) / 1000);
        if (this.due) this.commitBatch();
      },
      (err: unknown) => {
        this.inFlight = false;
        if (this.failure === null) {
          this.failure = err;
          this.batching?.onCommitError?.(err);
        }
      },
    );
  }

  /** Hands over every write made so far and waits until LMDB has committed them all. */
  private async commitAll(): Promise<void> {
    const target = this.openWrites > 0 ? this.openBatch : this.openBatch - 1;
    while (this.committedThrough < target && this.failure === null) {
      this.commitBatch();
      await this.lastCommit;
    }
  }

  afterCommit(fn: () => void): void {
    if (this.depth === 0) fn();
    else this.pendingAfterCommit.push(fn);
  }

  sizeBytes(): number {
    if (this.cachedSize !== undefined) return this.cachedSize;
    const stats = this.env.getStats() as { lastPageNumber?: number; pageSize?: number };
    this.cachedSize = ((stats.lastPageNumber ?? 0) + 1) * (stats.pageSize ?? 4096);
    return this.cachedSize;
  }

  /** Makes every writeTxn so far durable: commits the open batch and waits for its flush. */
  async sync(): Promise<void> {
    await this.commitAll();
    if (this.failure !== null) throw this.failure;
    await this.env.flushed;
  }

  async close(): Promise<void> {
    try {
      await this.commitAll();
    } finally {
      await this.env.close();
    }
  }
}

/** Opens (creating if needed) the LMDB backend stored in directory `dir`. Cheap: no scan. */
export function openLmdbBackend(dir: string, opts: LmdbBackendOptions = {}): Backend {
  const lazy = opts.durability === "lazy";
  const env = open({
    path: dir,
    maxDbs: 16,
    // "lazy": no fsync at commit, and plain (not overlapping) commits, which noSync makes cheap.
    ...(lazy ? { noSync: true, overlappingSync: false } : {}),
  });
  return new LmdbBackend(env, opts.batch);
}
