// The on-disk Backend: one LMDB environment (a memory-mapped B+tree file) in `dir`, one named
// LMDB database per table, raw byte keys in memcmp order. Write transactions are LMDB's own
// synchronous transactions, so a crash at any instant leaves the last committed state intact.
// See docs/adr/0004-mvcc-backend.md for the durability setting.

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

  constructor(private readonly env: RootDatabase) {}

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
    for (const cb of callbacks) cb();
    return result;
  }

  afterCommit(fn: () => void): void {
    if (this.depth === 0) fn();
    else this.pendingAfterCommit.push(fn);
  }

  sizeBytes(): number {
    const stats = this.env.getStats() as { lastPageNumber?: number; pageSize?: number };
    return ((stats.lastPageNumber ?? 0) + 1) * (stats.pageSize ?? 4096);
  }

  /** Flushes commits made with durability "lazy" to disk. */
  async sync(): Promise<void> {
    await this.env.flushed;
  }

  async close(): Promise<void> {
    await this.env.close();
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
  return new LmdbBackend(env);
}
