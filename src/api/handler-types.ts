// The transport-independent shape of every RPC the client port serves. The gRPC binding
// (grpc-js) and the JSON gateway (HTTP/1.1) both call these handlers, so an RPC behaves the same
// whichever way it arrives.
//
// Messages are "plain" protobufjs objects in one convention (see src/proto/codec.ts):
//   - field names exactly as in the .proto (snake_case);
//   - int64/uint64 as decimal strings (handlers may also return small ones as numbers);
//   - bytes as Uint8Array; enums as numbers;
//   - decoded requests have every default filled in (missing scalar = 0 / "" / empty bytes,
//     missing repeated = [], missing message = null/undefined).

/** A decoded protobuf message as a plain object. */
export type PlainMessage = Record<string, unknown>;

/** What the transport knows about the call. */
export interface CallContext {
  /** Aborted when the client goes away, cancels, or its deadline passes. */
  signal: AbortSignal;
  /** Request metadata, lower-case keys (gRPC metadata or HTTP headers). */
  metadata: ReadonlyMap<string, string>;
}

/** Thrown by handlers for a gRPC status (the gateway maps it to HTTP). `code` is the numeric gRPC code. */
export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = "RpcError";
  }
}

export interface UnaryHandler {
  kind: "unary";
  requestType: string;
  responseType: string;
  handle(req: PlainMessage, ctx: CallContext): Promise<PlainMessage>;
}

/** Server streaming (Snapshot, Observe). Yields responses; throwing ends the call with that status. */
export interface ServerStreamHandler {
  kind: "server-stream";
  requestType: string;
  responseType: string;
  handle(req: PlainMessage, ctx: CallContext): AsyncIterable<PlainMessage>;
}

/** The outgoing half of a bidirectional call. */
export interface StreamOutput {
  /** Returns false when the transport's buffer is full; `onDrain` fires when it has room again. */
  send(resp: PlainMessage): boolean;
  onDrain(listener: () => void): void;
  /** Ends the call: OK when err is undefined, else its status (RpcError or EtcdError). */
  end(err?: unknown): void;
}

/** The incoming half of a bidirectional call, as the handler consumes it. */
export interface StreamInput {
  /** Called for each request message, in order. */
  message(req: PlainMessage): void;
  /** The client half-closed (no more requests) or went away. */
  end(): void;
}

/** Bidirectional streaming (Watch, LeaseKeepAlive). */
export interface BidiStreamHandler {
  kind: "bidi";
  requestType: string;
  responseType: string;
  open(out: StreamOutput, ctx: CallContext): StreamInput;
}

export type Handler = UnaryHandler | ServerStreamHandler | BidiStreamHandler;

/** Handlers by full method path, e.g. "/etcdserverpb.KV/Range". */
export type HandlerTable = Map<string, Handler>;
