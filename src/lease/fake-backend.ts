// A tiny transactional in-memory backend for the lease tests: named tables of byte keys, and a
// writeTxn that rolls every table back when its function throws (nested calls join the outer one).

import type { LeaseBackend, LeaseBackendTable } from "./backend-lease-store.js";

const name = (b: Uint8Array): string => Buffer.from(b).toString("latin1");
const bytes = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, "latin1"));

class FakeTable implements LeaseBackendTable {
  rows = new Map<string, Uint8Array>();

  put(key: Uint8Array, value: Uint8Array): void {
    this.rows.set(name(key), Uint8Array.from(value));
  }

  del(key: Uint8Array): void {
    this.rows.delete(name(key));
  }

  *range(
    start: Uint8Array | undefined,
    end: Uint8Array | undefined,
  ): Iterable<{ key: Uint8Array; value: Uint8Array }> {
    for (const k of [...this.rows.keys()].sort()) {
      if (start !== undefined && k < name(start)) continue;
      if (end !== undefined && k >= name(end)) continue;
      yield { key: bytes(k), value: this.rows.get(k)! };
    }
  }
}

export class FakeBackend implements LeaseBackend {
  private readonly tables = new Map<string, FakeTable>();
  private depth = 0;
  commits = 0;

  table(tableName: string): FakeTable {
    let t = this.tables.get(tableName);
    if (t === undefined) this.tables.set(tableName, (t = new FakeTable()));
    return t;
  }

  writeTxn<T>(fn: () => T): T {
    if (this.depth > 0) return fn();
    const saved = new Map([...this.tables].map(([n, t]) => [n, new Map(t.rows)]));
    this.depth++;
    try {
      const out = fn();
      this.commits++;
      return out;
    } catch (e) {
      for (const [n, t] of this.tables) t.rows = saved.get(n) ?? new Map();
      throw e;
    } finally {
      this.depth--;
    }
  }
}
