// The shape every etcdserverpb unary handler shares: errors become gRPC statuses with etcd's
// codes and messages (toRpcError), and call metadata becomes the member's request options.
import type { RequestOptions } from "../../server/member-api.js";
import { toRpcError } from "../errors.js";
import type { CallContext, HandlerTable, PlainMessage, UnaryHandler } from "../handler-types.js";

/** gRPC metadata hasleader=true (clientv3.WithRequireLeader) and the call's abort signal. */
export function requestOptions(ctx: CallContext): RequestOptions {
  return { signal: ctx.signal, requireLeader: ctx.metadata.get("hasleader") === "true" };
}

export function unary(
  requestType: string,
  responseType: string,
  handle: (req: PlainMessage, opts: RequestOptions) => Promise<PlainMessage>,
  toError: (err: unknown) => Error = toRpcError,
): UnaryHandler {
  return {
    kind: "unary",
    requestType,
    responseType,
    async handle(req, ctx) {
      try {
        return await handle(req, requestOptions(ctx));
      } catch (err) {
        throw toError(err);
      }
    },
  };
}

/** Adds `/<service>/<Method>` → handler for each entry; `service` is e.g. "etcdserverpb.KV". */
export function addMethods(
  table: HandlerTable,
  service: string,
  methods: Record<string, HandlerTable extends Map<string, infer H> ? H : never>,
): HandlerTable {
  for (const [method, handler] of Object.entries(methods)) table.set(`/${service}/${method}`, handler);
  return table;
}
