// Where leases are persisted: the port the lessor writes through, and its in-memory twin. The durable
// implementation (BackendLeaseStore) writes into the MVCC backend so a lease change commits in the
// same transaction as the key changes and the applied raft index.

import type { LeaseId } from "../mvcc/types.js";

export interface LeaseRecord {
  id: LeaseId;
  /** Granted TTL in seconds (after raising to the minimum). */
  ttl: number;
  /** The last checkpointed remaining TTL in seconds (lease checkpointing); absent or 0: none. */
  remainingTtl?: number;
}

export interface LeaseStore {
  /** Every persisted lease, in ascending id order. */
  loadAll(): LeaseRecord[];
  put(rec: LeaseRecord): void;
  delete(id: LeaseId): void;
}

export class MemoryLeaseStore implements LeaseStore {
  private readonly records = new Map<LeaseId, LeaseRecord>();

  loadAll(): LeaseRecord[] {
    return [...this.records.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map(copy);
  }

  put(rec: LeaseRecord): void {
    this.records.set(rec.id, copy(rec));
  }

  delete(id: LeaseId): void {
    this.records.delete(id);
  }
}

const copy = (r: LeaseRecord): LeaseRecord =>
  r.remainingTtl ? { id: r.id, ttl: r.ttl, remainingTtl: r.remainingTtl } : { id: r.id, ttl: r.ttl };
