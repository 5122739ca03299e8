// The storage port of the MVCC store: named tables of byte keys ordered bytewise (memcmp), with
// atomic, synchronous write transactions. Two implementations: LMDB on disk (lmdb-backend.ts)
// and sorted in-memory tables (memory-backend.ts); the contract tests run against both.

/** One key/value row of a table. */
export interface BackendEntry {
  key: Uint8Array;
  value: Uint8Array;
}

export interface BackendRangeOptions {
  /** Iterate from the highest key down. */
  reverse?: boolean;
  /** Stop after this many rows (undefined or 0: no limit). */
  limit?: number;
}

/**
 * A table of byte keys kept in bytewise order. Buffers returned by get and range are fresh
 * copies owned by the caller (decoders hand out views into them).
 */
export interface BackendTable {
  get(key: Uint8Array): Uint8Array | undefined;
  /** Only inside Backend.writeTxn. */
  put(key: Uint8Array, value: Uint8Array): void;
  /** Only inside Backend.writeTxn. Deleting a missing key is a no-op. */
  del(key: Uint8Array): void;
  /**
   * Rows with start <= key < end (start undefined: from the first key; end undefined: to the
   * last), ascending, or descending with `reverse`. Lazy: stop iterating to stop reading.
   */
  range(
    start: Uint8Array | undefined,
    end: Uint8Array | undefined,
    opts?: BackendRangeOptions,
  ): Iterable<BackendEntry>;
  /** The number of rows with start <= key < end (bounds as in range), without reading values. */
  count(start: Uint8Array | undefined, end: Uint8Array | undefined): number;
}

export interface Backend {
  /** The table with this name, created empty on first use. */
  table(name: string): BackendTable;
  /**
   * Runs fn in one atomic write transaction and returns its result. If fn throws, nothing it
   * wrote is kept and the error propagates. A call inside another joins the outer transaction.
   * Reads inside fn see fn's own writes.
   */
  writeTxn<T>(fn: () => T): T;
  /**
   * Registers a callback run once after the outermost write transaction in progress commits
   * (dropped if it aborts). Outside a transaction it runs immediately.
   */
  afterCommit(fn: () => void): void;
  /**
   * Bytes the stored data occupies (for the space quota and Status.dbSize). A batched backend
   * counts committed batches only, so it may lag up to one batch (as etcd's backend size does).
   */
  sizeBytes(): number;
  /**
   * Resolves once every writeTxn that has returned is durable on disk and in the backend's files
   * (a batched backend commits its open batch). Nothing to do for a backend without files.
   */
  sync(): Promise<void>;
  close(): Promise<void>;
}
