// Errors shared by the Raft core and the log storages it reads.

/** Base class so callers can tell raft's errors from others. */
export class RaftError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The requested index is before the storage's first index: it was compacted into a snapshot. */
export class LogCompactedError extends RaftError {
  constructor(index: number, firstIndex: number) {
    super(`raft: requested index ${index} is compacted (first index ${firstIndex})`);
  }
}

/** The requested index is after the storage's last index. */
export class LogUnavailableError extends RaftError {
  constructor(index: number, lastIndex: number) {
    super(`raft: requested index ${index} is unavailable (last index ${lastIndex})`);
  }
}

/** A snapshot older than the one the storage holds was offered. */
export class SnapshotOutOfDateError extends RaftError {
  constructor(index: number, current: number) {
    super(`raft: snapshot at index ${index} is older than the current snapshot at ${current}`);
  }
}

/** The storage cannot produce a snapshot right now; raft retries later. */
export class SnapshotTemporarilyUnavailableError extends RaftError {
  constructor() {
    super("raft: snapshot is temporarily unavailable");
  }
}

/** A proposal was not accepted (no leader, forwarding disabled, leadership transfer, too large). */
export class ProposalDroppedError extends RaftError {
  constructor(reason: string) {
    super(`raft: proposal dropped: ${reason}`);
  }
}
