// Errors raised by the durable storage. A WalCorruptionError or SnapshotCorruptionError means the
// data on disk cannot be trusted and the member must not start; a StorageFailedError means a write
// or fsync failed and the member must stop taking writes.

export class StorageError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A WAL file is damaged somewhere other than a torn final record. Names the file and byte offset. */
export class WalCorruptionError extends StorageError {
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`wal: corrupt data in ${file} at offset ${offset}: ${reason}`);
  }
}

/** A snapshot file failed its checksum or could not be decoded. */
export class SnapshotCorruptionError extends StorageError {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`snap: corrupt snapshot file ${file}: ${reason}`);
  }
}

/** The on-disk state is inconsistent as a whole (missing snapshot, gap in the log, ...). */
export class StorageInconsistentError extends StorageError {}

/**
 * A write or fsync failed (disk full, I/O error). Nothing acknowledged is lost, but the storage
 * refuses every later write: the member must stop and be restarted (which recovers from disk).
 */
export class StorageFailedError extends StorageError {
  constructor(op: string, cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    super(`storage failed during ${op}: ${detail}; refusing further writes (restart the member)`, { cause });
  }
}
