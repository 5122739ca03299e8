// Errors of the lock and election services. etcd 3.4 serves these RPCs through its own Go client,
// so every failure (these and the KV errors underneath) reaches the caller as gRPC UNKNOWN (2)
// carrying the message; verified against etcd 3.4's gateway, which answered `"code":2` for each.

export class ConcurrencyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConcurrencyError";
  }
}

const err = (message: string) => () => new ConcurrencyError(message);

export const ConcurrencyErrors = {
  /** Proclaim by a contender whose key is gone or was recreated. */
  notLeader: err("election: not leader"),
  /** Leader on an election without contenders. */
  noLeader: err("election: no leader"),
  /** Proclaim or Resign without a `leader` field. */
  missingLeaderKey: err('"leader" field must be provided'),
  /** The caller went away while the request waited (Go's context.Canceled text). */
  canceled: err("context canceled"),
  /** etcd's client gives up a wait whose watch ended without an error. */
  lostWatcher: err("lost watcher waiting for delete"),
} as const;

/** Throws why `signal` aborted, if it did. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortReason(signal);
}

export function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : ConcurrencyErrors.canceled();
}
