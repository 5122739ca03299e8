// The shape every etcdserverpb unary handler shares: errors become gRPC statuses with etcd's
// codes and messages (toRpcError), and call metadata becomes the member's request options.
import type { RequestOptions } from "../../server/member-api.js";
import { toRpcError } from "../errors.js";
import type { CallContext, HandlerTable, PlainMessage, UnaryHandler } from "../handler-types.js";

/** gRPC metadata hasleader=true (clientv3.WithRequireLeader) and the call's abort signal. */
export function requestOptions(ctx: CallContext): RequestOptions {
  return { signal: ctx.signal, requireLeader: ctx.metadata.get("hasleader") === "true" };
}

export interface UnaryOptions {
  /**
   * Whether the member stops waiting when the client cancels (default true). The KV methods say
   * false: what they wait for (an apply, a read index) comes within the request timeout anyway,
   * the binding ends the call itself on a cancel or deadline, and not reading ctx.signal spares
   * every call an AbortController.
   */
  cancellable?: boolean;
}

export function unary(
  requestType: string,
  responseType: string,
  handle: (req: PlainMessage, opts: RequestOptions) => Promise<PlainMessage>,
  toError: (err: unknown) => Error = toRpcError,
  { cancellable = true }: UnaryOptions = {},
): UnaryHandler {
  const rethrow = (err: unknown): never => {
    throw toError(err);
  };
  return {
    kind: "unary",
    requestType,
    responseType,
    handle(req, ctx) {
      try {
        const opts: RequestOptions = cancellable
          ? requestOptions(ctx)
          : { requireLeader: ctx.metadata.get("hasleader") === "true" };
        return handle(req, opts).then(undefined, rethrow);
      } catch (err) {
        return Promise.reject(toError(err));
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
