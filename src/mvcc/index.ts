// Public surface of the MVCC module: the store, its backend port and the two backends.
export type { Backend, BackendEntry, BackendRangeOptions, BackendTable } from "./backend.js";
export { MemoryBackend } from "./memory-backend.js";
export { openLmdbBackend, type LmdbBackendOptions } from "./lmdb-backend.js";
export {
  MvccStore,
  type HashKvResult,
  type HashResult,
  type LeaseRegistry,
  type MvccStoreOptions,
  type RevisionEvent,
  type WriteListener,
} from "./store.js";
export { DEFAULT_MAX_TXN_OPS } from "./txn-rules.js";
