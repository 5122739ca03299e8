// v3lockpb.Lock: Lock and Unlock over the lock recipe in src/server/concurrency. Also holds the
// plain-message conversions the election handlers share (headers, key-values, errors).
import { lock, unlock } from "../../server/concurrency/index.js";
import type { MemberApi } from "../../server/member-api.js";
import { bytesField, int64Field, plainHeader } from "../convert.js";
import { RpcError, type HandlerTable, type PlainMessage, type UnaryHandler } from "../handler-types.js";
import { unary } from "./unary.js";

export { bytesField, int64Field, plainHeader, plainKeyValue } from "../convert.js";

/** gRPC UNKNOWN: how etcd 3.4 reports every lock and election failure (see concurrency/errors.ts). */
const GRPC_UNKNOWN = 2;

/**
 * etcd serves these services through its in-process Go client, which turns every server error
 * into a plain error: the caller sees gRPC UNKNOWN with the message, whatever the cause.
 */
export function concurrencyRpcError(err: unknown): RpcError {
  if (err instanceof RpcError) return err;
  return new RpcError(GRPC_UNKNOWN, err instanceof Error ? err.message : String(err));
}

/** A unary handler whose failures are reported the etcd 3.4 way. */
export function concurrencyUnary(
  requestType: string,
  responseType: string,
  handle: (req: PlainMessage, signal: AbortSignal) => Promise<PlainMessage>,
): UnaryHandler {
  return unary(
    requestType,
    responseType,
    (req, opts) => handle(req, opts.signal as AbortSignal),
    concurrencyRpcError,
  );
}

/** Handlers for /v3lockpb.Lock/Lock and /v3lockpb.Lock/Unlock. */
export function lockHandlers(member: MemberApi): HandlerTable {
  const table: HandlerTable = new Map();
  table.set(
    "/v3lockpb.Lock/Lock",
    concurrencyUnary("v3lockpb.LockRequest", "v3lockpb.LockResponse", async (req, signal) => {
      const held = await lock(member, bytesField(req, "name"), int64Field(req, "lease"), signal);
      return { header: plainHeader(member, held.header), key: held.key };
    }),
  );
  table.set(
    "/v3lockpb.Lock/Unlock",
    concurrencyUnary("v3lockpb.UnlockRequest", "v3lockpb.UnlockResponse", async (req, signal) => {
      const header = await unlock(member, bytesField(req, "key"), signal);
      return { header: plainHeader(member, header) };
    }),
  );
  return table;
}
