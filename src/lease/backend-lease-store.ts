// LeaseStore on the MVCC backend: the "lease" table. Writes go through the backend's current write
// transaction (a nested writeTxn joins the outer one), so when the apply loop wraps an entry in one
// transaction, the lease change, the key changes and the applied index commit together.

import { decodeLeaseRecord, encodeLeaseKey, encodeLeaseValue } from "./lease-codec.js";
import type { LeaseRecord, LeaseStore } from "./lease-store.js";
import type { LeaseId } from "../mvcc/types.js";

export const LEASE_TABLE = "lease";

/** The part of the MVCC backend this store uses (structural: satisfied by src/mvcc's Backend). */
export interface LeaseBackend {
  table(name: string): LeaseBackendTable;
  writeTxn<T>(fn: () => T): T;
}

export interface LeaseBackendTable {
  put(key: Uint8Array, value: Uint8Array): void;
  del(key: Uint8Array): void;
  /** Rows with start <= key < end in ascending order (undefined bounds: unbounded). */
  range(
    start: Uint8Array | undefined,
    end: Uint8Array | undefined,
  ): Iterable<{ key: Uint8Array; value: Uint8Array }>;
}

export class BackendLeaseStore implements LeaseStore {
  private readonly table: LeaseBackendTable;

  constructor(private readonly backend: LeaseBackend) {
    this.table = backend.table(LEASE_TABLE);
  }

  loadAll(): LeaseRecord[] {
    const out: LeaseRecord[] = [];
    for (const { key, value } of this.table.range(undefined, undefined))
      out.push(decodeLeaseRecord(key, value));
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  put(rec: LeaseRecord): void {
    this.backend.writeTxn(() => this.table.put(encodeLeaseKey(rec.id), encodeLeaseValue(rec)));
  }

  delete(id: LeaseId): void {
    this.backend.writeTxn(() => this.table.del(encodeLeaseKey(id)));
  }
}
