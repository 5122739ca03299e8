// gRPC status codes and how the JSON gateway turns them into HTTP, as etcd 3.4's grpc-gateway
// (v1 runtime) does: the HTTP status per code and the error bodies of unary and streaming calls.
import { EtcdError } from "../../mvcc/errors.js";
import { GRPC_CODES } from "../errors.js";
import { RpcError } from "../handler-types.js";

/** gRPC code numbers by name (one table for the whole API layer, in src/api/errors.ts). */
export const GRPC_CODE_NUMBERS = GRPC_CODES;

/** Go's codes.Code.String(), used as the grpc_code metric label. */
const GO_CODE_NAMES = [
  "OK",
  "Canceled",
  "Unknown",
  "InvalidArgument",
  "DeadlineExceeded",
  "NotFound",
  "AlreadyExists",
  "PermissionDenied",
  "ResourceExhausted",
  "FailedPrecondition",
  "Aborted",
  "OutOfRange",
  "Unimplemented",
  "Internal",
  "Unavailable",
  "DataLoss",
  "Unauthenticated",
] as const;

/** grpc-gateway's HTTPStatusFromCode, indexed by gRPC code. */
const HTTP_STATUS_BY_CODE = [
  200, 408, 500, 400, 504, 404, 409, 403, 429, 412, 409, 400, 501, 500, 503, 500, 401,
];

export interface GrpcStatus {
  code: number;
  message: string;
}

/** Any error a handler throws, as a gRPC status (EtcdError by its code name, others INTERNAL). */
export function grpcStatusOf(err: unknown): GrpcStatus {
  if (err instanceof RpcError) return { code: err.code, message: err.message };
  if (err instanceof EtcdError) return { code: GRPC_CODE_NUMBERS[err.code], message: err.message };
  // Shape-alike errors from other modules (a status code and a message).
  if (typeof err === "object" && err !== null && "code" in err && "message" in err) {
    const { code, message } = err as { code: unknown; message: unknown };
    if (typeof code === "number" && Number.isInteger(code) && code >= 0 && code <= 16) {
      return { code, message: String(message) };
    }
    if (typeof code === "string" && code in GRPC_CODE_NUMBERS) {
      return { code: GRPC_CODE_NUMBERS[code as keyof typeof GRPC_CODE_NUMBERS], message: String(message) };
    }
  }
  return { code: GRPC_CODE_NUMBERS.INTERNAL, message: err instanceof Error ? err.message : String(err) };
}

export function httpStatusFromGrpcCode(code: number): number {
  return HTTP_STATUS_BY_CODE[code] ?? 500;
}

export function goCodeName(code: number): string {
  return GO_CODE_NAMES[code] ?? "Unknown";
}

/** The body of a failed unary gateway call. */
export function unaryErrorBody(status: GrpcStatus): string {
  return JSON.stringify({ error: status.message, message: status.message, code: status.code });
}

/** The line that ends a failed streaming gateway call. */
export function streamErrorBody(status: GrpcStatus): string {
  const httpCode = httpStatusFromGrpcCode(status.code);
  return JSON.stringify({
    error: {
      grpc_code: status.code,
      http_code: httpCode,
      message: status.message,
      http_status: HTTP_STATUS_TEXT[httpCode] ?? "",
    },
  });
}

/** Go's http.StatusText for the statuses above. */
const HTTP_STATUS_TEXT: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  408: "Request Timeout",
  409: "Conflict",
  412: "Precondition Failed",
  429: "Too Many Requests",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};
