// Maps whatever a handler throws to a gRPC status: EtcdError carries etcd's message and a gRPC
// code name (src/mvcc/errors.ts), RpcError already is a status, anything else is an internal error.
import { EtcdError } from "../mvcc/errors.js";
import { RpcError } from "./handler-types.js";

/** gRPC status codes by name (grpc/codes). */
export const GRPC_CODES = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

export type GrpcCodeKey = keyof typeof GRPC_CODES;

export function toRpcError(err: unknown): RpcError {
  if (err instanceof RpcError) return err;
  if (err instanceof EtcdError) return new RpcError(GRPC_CODES[err.code], err.message);
  if (err instanceof Error && err.name === "AbortError")
    return new RpcError(GRPC_CODES.CANCELLED, "context canceled");
  return new RpcError(GRPC_CODES.INTERNAL, err instanceof Error ? err.message : String(err));
}
