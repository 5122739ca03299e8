// LeaseStore on the MVCC backend: the "lease" table. Writes go through the backend's current write
// transaction (a nested writeTxn joins the outer one), so when the apply loop wraps an entry in one
// transaction, the lease change, the key changes and the applied index commit together.

import { decodeLeaseRecord, encodeLeaseKey, encodeLeaseValue } from "./lease-codec.js";
import type { LeaseRecord, LeaseStore } from "./lease-store.js";
import type { Backend, BackendTable } from "../mvcc/backend.js";
import type { LeaseId } from "../mvcc/types.js";

export const LEASE_TABLE = "lease";

/** The part of the MVCC backend this store uses. */
export type LeaseBackend = Pick<Backend, "table" | "writeTxn">;

export class BackendLeaseStore implements LeaseStore {
  private readonly table: BackendTable;

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
