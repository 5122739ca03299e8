// Public surface of the storage module: the raft log persistence port and its two
// implementations, the data dir layout, and the errors a member must react to.

export {
  DEFAULT_CATCH_UP_ENTRIES,
  DurableLogStore,
  MemoryRaftLogStore,
  storagePaths,
  type DurableLogStoreOptions,
  type LogStoreOptions,
  type LogUpdate,
  type RaftLogStore,
} from "./raft-log-store.js";
export { MemoryLogStorage } from "./memory-log-storage.js";
export {
  SnapshotCorruptionError,
  StorageError,
  StorageFailedError,
  StorageInconsistentError,
  WalCorruptionError,
} from "./errors.js";
export type { StorageLogger } from "./recovery.js";
export { checkWal, type WalCheckReport, type WalDamage } from "./wal-check.js";
