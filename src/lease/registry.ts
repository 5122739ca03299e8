// The port through which the MVCC store tells the lease table which keys carry which lease, declared
// structurally so src/lease does not depend on the store's module (the store declares the same
// shape; Lessor satisfies both).

import type { LeaseId } from "../mvcc/types.js";

export interface LeaseRegistry {
  exists(id: LeaseId): boolean;
  attach(id: LeaseId, key: Uint8Array): void;
  detach(id: LeaseId, key: Uint8Array): void;
}
