// The in-memory twin of the LMDB backend: each table is a sorted array searched by bisection.
// Write transactions keep an undo log so a throwing transaction leaves no trace. Used by tests
// (the same contract suite runs on both backends) and by anything that wants a throwaway store.

import type { Backend, BackendEntry, BackendRangeOptions, BackendTable } from "./backend.js";
import { compareBytes, copyBytes } from "./bytes.js";

type UndoStep = () => void;

interface TxnState {
  undo: UndoStep[];
  afterCommit: Array<() => void>;
}

class MemoryTable implements BackendTable {
  private readonly rows: BackendEntry[] = [];
  private bytes = 0;

  constructor(private readonly owner: MemoryBackend) {}

  /** Index of the first row with key >= key. */
  private lowerBound(key: Uint8Array): number {
    let lo = 0;
    let hi = this.rows.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareBytes(this.rows[mid]!.key, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  get(key: Uint8Array): Uint8Array | undefined {
    const i = this.lowerBound(key);
    const row = this.rows[i];
    return row !== undefined && compareBytes(row.key, key) === 0 ? copyBytes(row.value) : undefined;
  }

  put(key: Uint8Array, value: Uint8Array): void {
    const txn = this.owner.requireTxn();
    const i = this.lowerBound(key);
    const row = this.rows[i];
    const stored: BackendEntry = { key: copyBytes(key), value: copyBytes(value) };
    if (row !== undefined && compareBytes(row.key, key) === 0) {
      this.rows[i] = stored;
      this.bytes += value.length - row.value.length;
      txn.undo.push(() => this.restore(row));
    } else {
      this.rows.splice(i, 0, stored);
      this.bytes += key.length + value.length;
      txn.undo.push(() => this.remove(stored.key));
    }
  }

  del(key: Uint8Array): void {
    const txn = this.owner.requireTxn();
    const row = this.remove(key);
    if (row !== undefined) txn.undo.push(() => this.restore(row));
  }

  private remove(key: Uint8Array): BackendEntry | undefined {
    const i = this.lowerBound(key);
    const row = this.rows[i];
    if (row === undefined || compareBytes(row.key, key) !== 0) return undefined;
    this.rows.splice(i, 1);
    this.bytes -= row.key.length + row.value.length;
    return row;
  }

  private restore(row: BackendEntry): void {
    const i = this.lowerBound(row.key);
    const cur = this.rows[i];
    if (cur !== undefined && compareBytes(cur.key, row.key) === 0) {
      this.bytes += row.value.length - cur.value.length;
      this.rows[i] = row;
    } else {
      this.rows.splice(i, 0, row);
      this.bytes += row.key.length + row.value.length;
    }
  }

  *range(
    start: Uint8Array | undefined,
    end: Uint8Array | undefined,
    opts: BackendRangeOptions = {},
  ): Iterable<BackendEntry> {
    const limit = opts.limit !== undefined && opts.limit > 0 ? opts.limit : Infinity;
    let n = 0;
    if (opts.reverse === true) {
      // Re-find the position each step: the caller may write between steps.
      let bound = end;
      while (n < limit) {
        const i = (bound === undefined ? this.rows.length : this.lowerBound(bound)) - 1;
        const row = this.rows[i];
        if (row === undefined || (start !== undefined && compareBytes(row.key, start) < 0)) return;
        n++;
        bound = row.key;
        yield { key: copyBytes(row.key), value: copyBytes(row.value) };
      }
    } else {
      let i = start === undefined ? 0 : this.lowerBound(start);
      while (n < limit) {
        const row = this.rows[i];
        if (row === undefined || (end !== undefined && compareBytes(row.key, end) >= 0)) return;
        n++;
        yield { key: copyBytes(row.key), value: copyBytes(row.value) };
        // Writes during iteration may shift rows: continue after the key just yielded.
        const next = this.rows[i];
        if (next === undefined || next !== row) {
          i = this.lowerBound(row.key);
          if (this.rows[i] !== undefined && compareBytes(this.rows[i]!.key, row.key) === 0) i++;
        } else {
          i++;
        }
      }
    }
  }

  count(start: Uint8Array | undefined, end: Uint8Array | undefined): number {
    const from = start === undefined ? 0 : this.lowerBound(start);
    const to = end === undefined ? this.rows.length : this.lowerBound(end);
    return Math.max(0, to - from);
  }

  get sizeBytes(): number {
    return this.bytes;
  }
}

export class MemoryBackend implements Backend {
  private readonly tables = new Map<string, MemoryTable>();
  private txn: TxnState | undefined;
  private closed = false;

  table(name: string): BackendTable {
    let t = this.tables.get(name);
    if (t === undefined) {
      t = new MemoryTable(this);
      this.tables.set(name, t);
    }
    return t;
  }

  /** @internal The running transaction; writes outside one are a programming error. */
  requireTxn(): TxnState {
    if (this.txn === undefined) throw new Error("MemoryBackend: write outside writeTxn");
    return this.txn;
  }

  writeTxn<T>(fn: () => T): T {
    if (this.closed) throw new Error("MemoryBackend: closed");
    if (this.txn !== undefined) return fn();
    const txn: TxnState = { undo: [], afterCommit: [] };
    this.txn = txn;
    let result: T;
    try {
      result = fn();
    } catch (e) {
      for (let i = txn.undo.length - 1; i >= 0; i--) txn.undo[i]!();
      this.txn = undefined;
      throw e;
    }
    this.txn = undefined;
    for (const cb of txn.afterCommit) cb();
    return result;
  }

  afterCommit(fn: () => void): void {
    if (this.txn === undefined) fn();
    else this.txn.afterCommit.push(fn);
  }

  sizeBytes(): number {
    let total = 0;
    for (const t of this.tables.values()) total += t.sizeBytes;
    return total;
  }

  /** Nothing to make durable: the tables live in memory only. */
  sync(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}
