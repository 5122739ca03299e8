// Errors of the state machine, carrying etcd's exact message text (clients match on it). The API
// layer maps each `code` to its gRPC status code.

export type GrpcCodeName =
  | "INVALID_ARGUMENT"
  | "NOT_FOUND"
  | "FAILED_PRECONDITION"
  | "OUT_OF_RANGE"
  | "RESOURCE_EXHAUSTED"
  | "UNAVAILABLE"
  | "PERMISSION_DENIED"
  | "UNAUTHENTICATED"
  | "DATA_LOSS";

export class EtcdError extends Error {
  constructor(
    message: string,
    readonly code: GrpcCodeName,
  ) {
    super(message);
    this.name = "EtcdError";
  }
}

const err = (message: string, code: GrpcCodeName) => () => new EtcdError(message, code);

/** Constructors for the errors the state machine can produce (new instance per call: stacks). */
export const Errors = {
  compacted: err("etcdserver: mvcc: required revision has been compacted", "OUT_OF_RANGE"),
  futureRevision: err("etcdserver: mvcc: required revision is a future revision", "OUT_OF_RANGE"),
  noSpace: err("etcdserver: mvcc: database space exceeded", "RESOURCE_EXHAUSTED"),
  leaseNotFound: err("etcdserver: requested lease not found", "NOT_FOUND"),
  leaseExists: err("etcdserver: lease already exists", "FAILED_PRECONDITION"),
  leaseTtlTooLarge: err("etcdserver: too large lease TTL", "OUT_OF_RANGE"),
  tooManyTxnOps: err("etcdserver: too many operations in txn request", "INVALID_ARGUMENT"),
  duplicateKey: err("etcdserver: duplicate key given in txn request", "INVALID_ARGUMENT"),
  emptyKey: err("etcdserver: key is not provided", "INVALID_ARGUMENT"),
  keyNotFound: err("etcdserver: key not found", "INVALID_ARGUMENT"),
  valueProvided: err("etcdserver: value is provided", "INVALID_ARGUMENT"),
  leaseProvided: err("etcdserver: lease is provided", "INVALID_ARGUMENT"),
  requestTooLarge: err("etcdserver: request is too large", "INVALID_ARGUMENT"),
} as const;
