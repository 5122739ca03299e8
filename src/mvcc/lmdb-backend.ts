// The on-disk Backend: one LMDB environment (a memory-mapped B+tree file) in `dir`, one named
// LMDB database per table, raw byte keys in memcmp order. Commits are LMDB's own, so a crash at
// any instant leaves the last committed state intact.
//
// Two ways to commit (docs/adr/0004-mvcc-backend.md, docs/adr/0011-backend-batching.md):
// - per transaction (default): every outermost writeTxn is one LMDB transaction, fsynced on return;
// - batched (`batch` option, what the server uses): writeTxns are nested LMDB transactions inside
//   one long LMDB transaction that is committed and fsynced every `intervalMs` or `limit`
//   writeTxns, or on sync()/close(). A writeTxn is atomic and visible to every read of this
//   backend as soon as it returns; it is durable only after the next batch commit. A crash loses
//   the open batch as a whole (never part of a writeTxn), which the member replays from its WAL.

import { open, type Database, type RootDatabase } from "lmdb";
import type { Backend, BackendEntry, BackendRangeOptions, BackendTable } from "./backend.js";

export interface LmdbBackendOptions {
  /**
   * "sync" (default): every write transaction is flushed to disk before writeTxn returns.
   * "lazy": commits reach the OS page cache only and are flushed by the OS (or by sync()).
   * A process crash loses nothing; an OS crash or power loss can lose recent commits and may
   * corrupt the file (LMDB MDB_NOSYNC). For tests, benchmarks and throwaway members only.
   */
  durability?: "sync" | "lazy";
  /** Group writeTxns into one LMDB transaction committed at most this often (see the file comment). */
  batch?: { intervalMs: number; limit: number; onCommitError?: (err: unknown) => void };
}

/** The open long LMDB transaction of a batched backend. */
interface OpenBatch {
  commit: (result: unknown) => unknown;
  writes: number;
  timer: NodeJS.Timeout;
}

class LmdbTable implements BackendTable {
  constructor(private readonly db: Database<Buffer, Buffer>) {}

  get(key: Uint8Array): Uint8Array | undefined {
    return this.db.get(asBuffer(key));
  }

  put(key: Uint8Array, value: Uint8Array): void {
    void this.db.put(asBuffer(key), asBuffer(value));
  }

  del(key: Uint8Array): void {
    void this.db.remove(asBuffer(key));
  }

  *range(
    start: Uint8Array | undefined,
    end: Uint8Array | undefined,
    opts: BackendRangeOptions = {},
  ): Iterable<BackendEntry> {
    const limit = opts.limit !== undefined && opts.limit > 0 ? opts.limit : undefined;
    const query =
      opts.reverse === true
        ? this.db.getRange({
            ...(end !== undefined ? { start: asBuffer(end), exclusiveStart: true } : {}),
            ...(start !== undefined ? { end: asBuffer(start), inclusiveEnd: true } : {}),
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
    return this.db.getCount({
      ...(start !== undefined ? { start: asBuffer(start) } : {}),
      ...(end !== undefined ? { end: asBuffer(end) } : {}),
    });
  }
}

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

class LmdbBackend implements Backend {
  private readonly tables = new Map<string, LmdbTable>();
  private depth = 0;
  private pendingAfterCommit: Array<() => void> = [];
  private batch: OpenBatch | null = null;
  private failure: unknown = null;
  /** sizeBytes() since the last commit (it changes only at commits; getStats is costly). */
  private cachedSize: number | undefined;

  constructor(
    private readonly env: RootDatabase,
    private readonly batching: LmdbBackendOptions["batch"],
  ) {}

  table(name: string): BackendTable {
    let t = this.tables.get(name);
    if (t === undefined) {
      t = new LmdbTable(this.env.openDB<Buffer, Buffer>(name, { keyEncoding: "binary", encoding: "binary" }));
      this.tables.set(name, t);
    }
    return t;
  }

  writeTxn<T>(fn: () => T): T {
    if (this.depth > 0) return fn();
    if (this.failure !== null) throw this.failure;
    // Batched: the LMDB transaction opened here stays open; `transactionSync` inside it runs fn
    // as a nested (child) transaction, which LMDB aborts alone if fn throws.
    if (this.batching !== undefined && this.batch === null) this.openBatch(this.batching);
    this.depth = 1;
    let result: T;
    try {
      result = this.env.transactionSync(fn);
    } catch (e) {
      this.pendingAfterCommit = [];
      throw e;
    } finally {
      this.depth = 0;
    }
    const callbacks = this.pendingAfterCommit;
    this.pendingAfterCommit = [];
    if (this.batching === undefined) this.cachedSize = undefined;
    if (this.batch !== null && ++this.batch.writes >= (this.batching?.limit ?? 0)) this.commitBatch();
    for (const cb of callbacks) cb();
    return result;
  }

  /**
   * Begins the long LMDB transaction. lmdb-js keeps a synchronous transaction open while its
   * callback's result is a pending thenable; this one hands back its continuation, which
   * commitBatch calls to commit synchronously.
   */
  private openBatch(opts: NonNullable<LmdbBackendOptions["batch"]>): void {
    let commit: ((result: unknown) => unknown) | undefined;
    const pending = {
      then(onCommit: (result: unknown) => unknown) {
        commit = onCommit;
      },
    };
    // The result is that thenable's then() result (undefined): nothing to await.
    void this.env.transactionSync(() => pending as unknown as Promise<void>);
    if (commit === undefined) throw new Error("lmdb: could not hold a write transaction open");
    const timer = setTimeout(() => {
      try {
        this.commitBatch();
      } catch (err) {
        opts.onCommitError?.(err);
      }
    }, opts.intervalMs);
    timer.unref();
    this.batch = { commit, writes: 0, timer };
  }

  /** Commits (and fsyncs) the open batch, if any. A failure is kept: later writes throw it. */
  private commitBatch(): void {
    const batch = this.batch;
    if (batch === null) return;
    if (this.depth > 0) throw new Error("lmdb: a batch cannot commit inside a write transaction");
    this.batch = null;
    this.cachedSize = undefined;
    clearTimeout(batch.timer);
    try {
      batch.commit(undefined);
    } catch (err) {
      this.failure = err;
      throw err;
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

  /** Makes every writeTxn so far durable: commits the open batch, flushes "lazy" commits. */
  async sync(): Promise<void> {
    this.commitBatch();
    if (this.failure !== null) throw this.failure;
    await this.env.flushed;
  }

  async close(): Promise<void> {
    try {
      this.commitBatch();
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
