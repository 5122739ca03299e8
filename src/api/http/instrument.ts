// Counts RPCs into etcd's grpc_server_* metrics (go-grpc-prometheus names and labels) by wrapping
// the handler table, so gRPC and gateway calls are counted alike without touching the handlers.
import type { CountSlot, ServerMetrics } from "../../common/metrics.js";
import type {
  BidiStreamHandler,
  CallContext,
  Handler,
  HandlerTable,
  PlainMessage,
  ServerStreamHandler,
  UnaryHandler,
} from "../handler-types.js";
import { splitMethodPath } from "./routes.js";
import { goCodeName, grpcStatusOf } from "./status.js";

/** The highest gRPC status code (UNAUTHENTICATED). */
const MAX_GRPC_CODE = 16;

/** etcd's rpctypes.MetadataClientAPIVersionKey. */
const CLIENT_API_VERSION_KEY = "client-api-version";

type RpcLabels = { grpc_type: string; grpc_service: string; grpc_method: string };

const GRPC_TYPE: Record<Handler["kind"], string> = {
  unary: "unary",
  "server-stream": "server_stream",
  bidi: "bidi_stream",
};

export function instrumentHandlers(table: HandlerTable, metrics: ServerMetrics): HandlerTable {
  const out: HandlerTable = new Map();
  for (const [path, handler] of table) {
    const { service, method } = splitMethodPath(path);
    const labels: RpcLabels = {
      grpc_type: GRPC_TYPE[handler.kind],
      grpc_service: service,
      grpc_method: method,
    };
    // Every method shows up with 0 before its first call, with every status code for handled,
    // as go-grpc-prometheus pre-registers them in etcd.
    metrics.grpcStarted.inc(labels, 0);
    metrics.grpcMsgReceived.inc(labels, 0);
    metrics.grpcMsgSent.inc(labels, 0);
    for (let code = 0; code <= MAX_GRPC_CODE; code++) {
      metrics.grpcHandled.inc({ ...labels, grpc_code: goCodeName(code) }, 0);
    }
    out.set(path, wrap(handler, labels, metrics));
  }
  return out;
}

function wrap(handler: Handler, labels: RpcLabels, metrics: ServerMetrics): Handler {
  const counts = metrics.rpcCounts;
  const started = counts.started.slot(labels);
  const received = counts.msgReceived.slot(labels);
  const sent = counts.msgSent.slot(labels);
  const handledByCode = new Map<number, CountSlot>();
  // etcd's interceptors count every client request by its client-api-version metadata.
  const requestType = handler.kind === "unary" ? "unary" : "stream";
  const byVersion = new Map<string, CountSlot>();
  const clientRequest = (ctx: CallContext): void => {
    const version = ctx.metadata.get(CLIENT_API_VERSION_KEY) ?? "unknown";
    let slot = byVersion.get(version);
    if (slot === undefined) {
      slot = counts.clientRequests.slot({ type: requestType, client_api_version: version });
      byVersion.set(version, slot);
    }
    slot.n++;
  };
  const handled = (err: unknown): void => {
    const code = err === undefined ? 0 : grpcStatusOf(err).code;
    let slot = handledByCode.get(code);
    if (slot === undefined) {
      slot = counts.handled.slot({ ...labels, grpc_code: goCodeName(code) });
      handledByCode.set(code, slot);
    }
    slot.n++;
  };
  switch (handler.kind) {
    case "unary": {
      // Plain promise callbacks made once per method: no async frame per call.
      const answered = (resp: PlainMessage): PlainMessage => {
        sent.n++;
        handled(undefined);
        return resp;
      };
      const failed = (err: unknown): never => {
        handled(err);
        throw err;
      };
      return {
        ...handler,
        handle(req, ctx) {
          started.n++;
          received.n++;
          clientRequest(ctx);
          let result: Promise<PlainMessage>;
          try {
            result = handler.handle(req, ctx);
          } catch (err) {
            return Promise.reject(err).then(undefined, failed);
          }
          return result.then(answered, failed);
        },
      } satisfies UnaryHandler;
    }
    case "server-stream":
      return {
        ...handler,
        async *handle(req, ctx) {
          started.n++;
          received.n++;
          clientRequest(ctx);
          try {
            for await (const msg of handler.handle(req, ctx)) {
              sent.n++;
              yield msg;
            }
            handled(undefined);
          } catch (err) {
            handled(err);
            throw err;
          }
        },
      } satisfies ServerStreamHandler;
    case "bidi":
      return {
        ...handler,
        open(out, ctx) {
          started.n++;
          clientRequest(ctx);
          let done = false;
          const input = handler.open(
            {
              send(resp) {
                sent.n++;
                return out.send(resp);
              },
              onDrain: (listener) => out.onDrain(listener),
              end(err) {
                if (!done) {
                  done = true;
                  handled(err);
                }
                out.end(err);
              },
            },
            ctx,
          );
          return {
            message(req) {
              received.n++;
              input.message(req);
            },
            end: () => input.end(),
          };
        },
      } satisfies BidiStreamHandler;
  }
}
