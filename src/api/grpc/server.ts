// The gRPC binding of the handler table, on @grpc/grpc-js. One grpc-js service per .proto service,
// with the codec as (de)serializer, so handlers see plain messages. Connections are not accepted
// here: the client-port listener sniffs each connection and injects the gRPC ones (TLS already
// terminated) through a connection injector.
import type { Duplex } from "node:stream";
import * as grpc from "@grpc/grpc-js";
import type { MemberLogger } from "../../common/logger.js";
import { decodePlain, encodePlain, serviceMethods, type ServiceMethod } from "../../proto/codec.js";
import { GRPC_CODES, toRpcError } from "../errors.js";
import type {
  BidiStreamHandler,
  CallContext,
  Handler,
  HandlerTable,
  PlainMessage,
  ServerStreamHandler,
  UnaryHandler,
} from "../handler-types.js";

export interface GrpcServerOptions {
  /** Largest request message accepted (etcd: --max-request-bytes + 512 KiB). */
  maxRecvBytes: number;
  logger?: MemberLogger;
}

export interface GrpcEndpoint {
  injectConnection(socket: Duplex): void;
  close(): Promise<void>;
}

/** etcd's defaults: --grpc-keepalive-interval 2h, --grpc-keepalive-timeout 20s. */
const KEEPALIVE_INTERVAL_MS = 2 * 60 * 60 * 1000;
const KEEPALIVE_TIMEOUT_MS = 20 * 1000;

type AnyCall =
  | grpc.ServerUnaryCall<PlainMessage, PlainMessage>
  | grpc.ServerWritableStream<PlainMessage, PlainMessage>
  | grpc.ServerDuplexStream<PlainMessage, PlainMessage>;

/** The call's metadata (lower-case keys, first value) and a signal aborted when the client cancels or leaves. */
function callContext(call: AnyCall): CallContext & { abort(): void; done(): void } {
  const controller = new AbortController();
  const abort = (): void => {
    if (!controller.signal.aborted) controller.abort(new Error("context canceled"));
  };
  const emitter = call as import("node:events").EventEmitter;
  emitter.once("cancelled", abort);
  // grpc-js also reports "cancelled" once a finished call's stream closes: nothing to abort then.
  const done = (): void => void emitter.removeListener("cancelled", abort);
  const metadata = new Map<string, string>();
  for (const [key, value] of Object.entries(call.metadata.getMap())) {
    metadata.set(key.toLowerCase(), typeof value === "string" ? value : value.toString("utf8"));
  }
  return { signal: controller.signal, metadata, abort, done };
}

function statusOf(err: unknown): Partial<grpc.StatusObject> {
  const rpc = toRpcError(err);
  return { code: rpc.code as grpc.status, details: rpc.message, metadata: new grpc.Metadata() };
}

function unaryImpl(
  handler: UnaryHandler,
  logger?: MemberLogger,
): grpc.handleUnaryCall<PlainMessage, PlainMessage> {
  return (call, callback) => {
    const ctx = callContext(call);
    handler.handle(call.request, ctx).then(
      (resp) => {
        ctx.done();
        callback(null, resp);
      },
      (err: unknown) => {
        ctx.done();
        if (!(err instanceof Error) || err.name !== "RpcError") logger?.debug({ err }, "request failed");
        callback(statusOf(err));
      },
    );
  };
}

function serverStreamImpl(
  handler: ServerStreamHandler,
): grpc.handleServerStreamingCall<PlainMessage, PlainMessage> {
  return (call) => {
    const ctx = callContext(call);
    void (async () => {
      try {
        for await (const resp of handler.handle(call.request, ctx)) {
          if (ctx.signal.aborted) return;
          if (!call.write(resp)) {
            await new Promise<void>((resolve) => {
              const done = (): void => {
                call.off("drain", done);
                ctx.signal.removeEventListener("abort", done);
                resolve();
              };
              call.on("drain", done);
              ctx.signal.addEventListener("abort", done, { once: true });
            });
          }
        }
        if (!ctx.signal.aborted) call.end();
      } catch (err) {
        if (!ctx.signal.aborted) call.emit("error", statusOf(err));
      }
    })();
  };
}

function bidiImpl(handler: BidiStreamHandler): grpc.handleBidiStreamingCall<PlainMessage, PlainMessage> {
  return (call) => {
    const ctx = callContext(call);
    let ended = false;
    const input = handler.open(
      {
        send: (resp) => (ended ? true : call.write(resp)),
        onDrain: (listener) => call.on("drain", listener),
        end: (err) => {
          if (ended) return;
          ended = true;
          if (ctx.signal.aborted) return;
          if (err === undefined) call.end();
          else call.emit("error", statusOf(err));
        },
      },
      ctx,
    );
    call.on("data", (msg: PlainMessage) => input.message(msg));
    call.on("end", () => input.end());
    call.on("error", () => ctx.abort());
    call.on("close", () => {
      if (!ended) ctx.abort();
    });
  };
}

function methodDefinition(m: ServiceMethod): grpc.MethodDefinition<PlainMessage, PlainMessage> {
  return {
    path: m.path,
    requestStream: m.requestStream,
    responseStream: m.responseStream,
    requestSerialize: (msg: PlainMessage) => Buffer.from(encodePlain(m.requestType, msg)),
    requestDeserialize: (bytes: Buffer) => decodePlain(m.requestType, bytes),
    responseSerialize: (msg: PlainMessage) => Buffer.from(encodePlain(m.responseType, msg)),
    responseDeserialize: (bytes: Buffer) => decodePlain(m.responseType, bytes),
  };
}

function implementationOf(handler: Handler, logger?: MemberLogger): grpc.UntypedHandleCall {
  switch (handler.kind) {
    case "unary":
      return unaryImpl(handler, logger);
    case "server-stream":
      return serverStreamImpl(handler);
    case "bidi":
      return bidiImpl(handler);
  }
}

/** A method in the .proto files with no handler answers UNIMPLEMENTED, as grpc-go does. */
function unimplemented(m: ServiceMethod): grpc.UntypedHandleCall {
  const status = {
    code: GRPC_CODES.UNIMPLEMENTED,
    details: `unknown method ${m.method} for service ${m.service}`,
  };
  if (!m.requestStream && !m.responseStream) {
    return ((_call, callback) => callback(status)) as grpc.handleUnaryCall<PlainMessage, PlainMessage>;
  }
  return ((call: grpc.ServerWritableStream<PlainMessage, PlainMessage>) =>
    call.emit("error", status)) as grpc.handleServerStreamingCall<PlainMessage, PlainMessage>;
}

export function createGrpcServer(table: HandlerTable, opts: GrpcServerOptions): GrpcEndpoint {
  const server = new grpc.Server({
    "grpc.max_receive_message_length": opts.maxRecvBytes,
    "grpc.max_send_message_length": -1,
    "grpc.keepalive_time_ms": KEEPALIVE_INTERVAL_MS,
    "grpc.keepalive_timeout_ms": KEEPALIVE_TIMEOUT_MS,
  });
  const services = new Map<string, ServiceMethod[]>();
  for (const m of serviceMethods()) {
    const list = services.get(m.service) ?? [];
    list.push(m);
    services.set(m.service, list);
  }
  for (const methods of services.values()) {
    const definition: Record<string, grpc.MethodDefinition<PlainMessage, PlainMessage>> = {};
    const implementation: grpc.UntypedServiceImplementation = {};
    for (const m of methods) {
      definition[m.method] = methodDefinition(m);
      const handler = table.get(m.path);
      implementation[m.method] =
        handler === undefined ? unimplemented(m) : implementationOf(handler, opts.logger);
    }
    server.addService(definition as grpc.ServiceDefinition, implementation);
  }
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  return {
    injectConnection: (socket) => injector.injectConnection(socket),
    close: () =>
      new Promise<void>((resolve) => {
        // Give in-flight calls a moment, then cut what is left (watch streams never end by themselves).
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 1000);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
