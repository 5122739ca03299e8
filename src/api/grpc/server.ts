// The gRPC binding of the handler table: gRPC's HTTP/2 protocol (length-prefixed messages, status
// in trailers, grpc-timeout deadlines, cancellation) on our own HTTP/2 connection layer
// (h2-connection.ts; ADR 0012). Connections are not accepted here: the client-port listener
// sniffs each connection and hands the gRPC ones over (TLS already terminated) with the bytes it
// has read so far.
import { counts } from "../../common/etcd-counts.js";
import type { Duplex } from "node:stream";
import { ByteQueue } from "../../common/byte-queue.js";
import type { MemberLogger } from "../../common/logger.js";
import { decodePlain, encodePlain, serviceMethods, type ServiceMethod } from "../../proto/codec.js";
import { GRPC_CODES, toRpcError } from "../errors.js";
import type { CallContext, Handler, HandlerTable, PlainMessage, StreamInput } from "../handler-types.js";
import { encodeHeaderBlock, H2Connection, type H2Stream } from "./h2-connection.js";

export interface GrpcServerOptions {
  /** Largest request message accepted (etcd: --max-request-bytes + 512 KiB). */
  maxRecvBytes: number;
  /** etcd's --max-concurrent-streams: streams one client connection may have open at once. */
  maxConcurrentStreams?: number;
  logger?: MemberLogger;
}

export interface GrpcEndpoint {
  /** Serve gRPC on `socket`; `head` is what the listener already read (starting with the preface). */
  injectConnection(socket: Duplex, head: Buffer): void;
  close(): Promise<void>;
}

/** etcd's defaults: --grpc-keepalive-interval 2h, --grpc-keepalive-timeout 20s. */
const KEEPALIVE_INTERVAL_MS = 2 * 60 * 60 * 1000;
const KEEPALIVE_TIMEOUT_MS = 20 * 1000;

const RESPONSE_HEADERS = encodeHeaderBlock([
  [":status", "200"],
  ["content-type", "application/grpc"],
]);
const OK_TRAILERS = encodeHeaderBlock([["grpc-status", "0"]]);

/** grpc-message is percent-encoded: bytes outside printable ASCII, and '%'. */
function percentEncode(message: string): string {
  let out = "";
  for (const byte of Buffer.from(message, "utf8")) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

function statusFields(code: number, message: string): Array<[string, string]> {
  const fields: Array<[string, string]> = [["grpc-status", String(code)]];
  if (message !== "") fields.push(["grpc-message", percentEncode(message)]);
  return fields;
}

/** grpc-timeout: an integer of at most 8 digits and a unit (H, M, S, m, u, n). */
function parseTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (m === null) return undefined;
  const n = Number(m[1]);
  const unitMs = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 }[m[2] as "H"];
  return n * unitMs;
}

/** Frames a message: flag byte (not compressed), 4-byte big-endian length, bytes. */
function frameMessage(bytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + bytes.length);
  out[0] = 0;
  out.writeUInt32BE(bytes.length, 1);
  out.set(bytes, 5);
  return out;
}

interface MethodEntry {
  method: ServiceMethod;
  handler: Handler | undefined;
}

/** Splits a stream's body into gRPC messages; one instance per call. */
class MessageReader {
  private readonly queue = new ByteQueue();
  private need = -1; // length of the message whose prefix has been read, -1 while reading a prefix

  constructor(private readonly maxBytes: number) {}

  /** Adds bytes; returns the complete messages, or throws a CallStatus for an oversized/compressed one. */
  push(chunk: Buffer): Buffer[] {
    this.queue.push(chunk);
    const out: Buffer[] = [];
    for (;;) {
      if (this.need < 0) {
        if (this.queue.length < 5) return out;
        const prefix = this.queue.take(5);
        const length = prefix.readUInt32BE(1);
        if (prefix[0] !== 0) {
          throw new CallStatus(
            GRPC_CODES.UNIMPLEMENTED,
            "grpc: Decompressor is not installed for grpc-encoding",
          );
        }
        if (length > this.maxBytes) {
          throw new CallStatus(
            GRPC_CODES.RESOURCE_EXHAUSTED,
            `grpc: received message larger than max (${length} vs. ${this.maxBytes})`,
          );
        }
        this.need = length;
      }
      if (this.queue.length < this.need) return out;
      out.push(this.queue.take(this.need));
      this.need = -1;
    }
  }
}

/** A gRPC status raised by the binding itself. */
class CallStatus extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A call's metadata: its request headers without the pseudo-headers, `-bin` values base64-decoded.
 * Read on demand: most calls look up one key or none, so no map is built for them.
 */
class CallMetadata implements ReadonlyMap<string, string> {
  private all: Map<string, string> | undefined;

  constructor(private readonly headers: ReadonlyMap<string, string>) {}

  get(key: string): string | undefined {
    if (key.startsWith(":")) return undefined;
    const v = this.headers.get(key);
    return v === undefined ? undefined : metadataValue(key, v);
  }

  has(key: string): boolean {
    return !key.startsWith(":") && this.headers.has(key);
  }

  get size(): number {
    return this.map().size;
  }

  forEach(
    fn: (value: string, key: string, map: ReadonlyMap<string, string>) => void,
    thisArg?: unknown,
  ): void {
    for (const [k, v] of this.map()) fn.call(thisArg, v, k, this);
  }

  entries(): ReturnType<Map<string, string>["entries"]> {
    return this.map().entries();
  }

  keys(): ReturnType<Map<string, string>["keys"]> {
    return this.map().keys();
  }

  values(): ReturnType<Map<string, string>["values"]> {
    return this.map().values();
  }

  [Symbol.iterator](): ReturnType<Map<string, string>["entries"]> {
    return this.map().entries();
  }

  private map(): Map<string, string> {
    if (this.all === undefined) {
      this.all = new Map();
      for (const [k, v] of this.headers) if (!k.startsWith(":")) this.all.set(k, metadataValue(k, v));
    }
    return this.all;
  }
}

function metadataValue(key: string, value: string): string {
  return key.endsWith("-bin") ? Buffer.from(value, "base64").toString("utf8") : value;
}

/** One gRPC call on one HTTP/2 stream: its context, its answer, its end. */
/**
 * What a handler gets as `ctx`. A class, so that `signal` is a getter on the prototype. An object
 * literal with a getter per call (as this was) is a dictionary-mode object whose accessor pair V8
 * allocates in the old generation; pointing at the call's objects, it kept every call alive
 * through young-generation collections until the next full one: a quarter of all allocation
 * survived each scavenge and the scavenges took 5-15 ms (BENCHMARKS.md, fifth stop).
 */
class GrpcCallContext implements CallContext {
  constructor(
    private readonly call: Call,
    readonly metadata: ReadonlyMap<string, string>,
  ) {}

  get signal(): AbortSignal {
    return this.call.abortSignal();
  }
}

class Call {
  /** Made when a handler first reads ctx.signal; most unary handlers never do. */
  private controller: AbortController | undefined;
  private abortReason: Error | undefined;
  private finished = false;
  private deadline: NodeJS.Timeout | undefined;
  readonly ctx: CallContext;

  constructor(
    readonly stream: H2Stream,
    readonly method: ServiceMethod,
    private readonly logger: MemberLogger | undefined,
  ) {
    this.ctx = new GrpcCallContext(this, new CallMetadata(stream.headers));
    const timeoutMs = parseTimeout(stream.headers.get("grpc-timeout"));
    if (timeoutMs !== undefined) {
      this.deadline = setTimeout(() => {
        this.abort("context deadline exceeded");
        this.finish(GRPC_CODES.DEADLINE_EXCEEDED, "context deadline exceeded");
      }, timeoutMs);
    }
  }

  /** The call's abort signal, made on first use (see GrpcCallContext). */
  abortSignal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.abortReason !== undefined) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  get done(): boolean {
    return this.finished;
  }

  abort(reason = "context canceled"): void {
    if (this.abortReason !== undefined) return;
    this.abortReason = new Error(reason);
    this.controller?.abort(this.abortReason);
  }

  /** Sends one response message (headers first); false when the stream wants the writer to wait. */
  send(msg: PlainMessage): boolean {
    if (this.finished) return true;
    if (!this.stream.headersSent) this.stream.sendHeaders(RESPONSE_HEADERS);
    const bytes = encodePlain(this.method.responseType, msg);
    counts.grpcSentBytes += bytes.length;
    return this.stream.sendData(frameMessage(bytes));
  }

  /** A unary answer: headers, message and trailers in one go. */
  answer(msg: PlainMessage): void {
    if (this.finished) return;
    let bytes: Uint8Array;
    try {
      bytes = encodePlain(this.method.responseType, msg);
    } catch (err) {
      this.fail(err);
      return;
    }
    this.finished = true;
    clearTimeout(this.deadline);
    counts.grpcSentBytes += bytes.length;
    this.stream.sendHeaders(RESPONSE_HEADERS);
    this.stream.sendData(frameMessage(bytes));
    this.stream.sendTrailers(OK_TRAILERS);
  }

  /** Ends the call with OK, or with the status of `err`. */
  end(err?: unknown): void {
    if (err !== undefined) {
      this.fail(err);
      return;
    }
    this.finish(GRPC_CODES.OK, "");
  }

  fail(err: unknown): void {
    if (err instanceof CallStatus) {
      this.finish(err.code, err.message);
      return;
    }
    if (!(err instanceof Error) || err.name !== "RpcError") this.logger?.debug({ err }, "request failed");
    const rpc = toRpcError(err);
    this.finish(rpc.code, rpc.message);
  }

  finish(code: number, message: string): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.deadline);
    // As in grpc-go, a streaming call's context ends with the call (a unary handler has returned).
    if (this.method.requestStream || this.method.responseStream) this.abort();
    if (this.stream.closed) return;
    if (!this.stream.headersSent) {
      // Trailers-only answer: status in the one header block.
      this.stream.sendHeaders(
        encodeHeaderBlock([
          [":status", "200"],
          ["content-type", "application/grpc"],
          ...statusFields(code, message),
        ]),
        true,
      );
      return;
    }
    this.stream.sendTrailers(code === 0 ? OK_TRAILERS : encodeHeaderBlock(statusFields(code, message)));
  }

  /** The client went away or reset the stream. */
  gone(): void {
    this.finished = true;
    clearTimeout(this.deadline);
    this.abort();
  }
}

function decodeRequest(method: ServiceMethod, bytes: Buffer): PlainMessage {
  counts.grpcReceivedBytes += bytes.length;
  try {
    return decodePlain(method.requestType, bytes);
  } catch (err) {
    throw new CallStatus(GRPC_CODES.INTERNAL, `grpc: error unmarshalling request: ${(err as Error).message}`);
  }
}

/**
 * Unary and server-streaming calls take exactly one request message: the handler starts on it,
 * and a second message (or none before the client's end) fails the call.
 */
function readOneRequest(call: Call, maxRecvBytes: number, start: (req: PlainMessage) => void): void {
  const reader = new MessageReader(maxRecvBytes);
  let started = false;
  call.stream.listener = {
    data: (chunk) => {
      if (call.done) return;
      try {
        const messages = reader.push(chunk);
        if (messages.length === 0) return;
        if (started || messages.length > 1) {
          throw new CallStatus(GRPC_CODES.INTERNAL, "grpc: more than one request message for this call");
        }
        started = true;
        start(decodeRequest(call.method, messages[0]!));
      } catch (err) {
        call.fail(err);
      }
    },
    end: () => {
      if (!started && !call.done) {
        call.finish(GRPC_CODES.INTERNAL, "grpc: error while receiving the request message: EOF");
      }
    },
    reset: () => call.gone(),
  };
}

function startUnary(call: Call, handler: Handler & { kind: "unary" }, maxRecvBytes: number): void {
  readOneRequest(call, maxRecvBytes, (req) => {
    handler.handle(req, call.ctx).then(
      (resp) => call.answer(resp),
      (err: unknown) => call.fail(err),
    );
  });
}

function startServerStream(
  call: Call,
  handler: Handler & { kind: "server-stream" },
  maxRecvBytes: number,
): void {
  readOneRequest(call, maxRecvBytes, (req) => {
    void (async () => {
      try {
        for await (const resp of handler.handle(req, call.ctx)) {
          if (call.done) return;
          if (!call.send(resp)) await drainedOrAborted(call);
        }
        call.end();
      } catch (err) {
        call.fail(err);
      }
    })();
  });
}

/** Resolves when the stream has room again or the call is aborted. */
function drainedOrAborted(call: Call): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      call.ctx.signal.removeEventListener("abort", done);
      resolve();
    };
    call.stream.onDrain(done);
    call.ctx.signal.addEventListener("abort", done, { once: true });
  });
}

function startBidi(call: Call, handler: Handler & { kind: "bidi" }, maxRecvBytes: number): void {
  const reader = new MessageReader(maxRecvBytes);
  let ended = false;
  const input: StreamInput = handler.open(
    {
      send: (resp) => (ended ? true : call.send(resp)),
      onDrain: (listener) => call.stream.onDrain(listener),
      end: (err) => {
        if (ended) return;
        ended = true;
        call.end(err);
      },
    },
    call.ctx,
  );
  call.stream.listener = {
    data: (chunk) => {
      if (call.done) return;
      try {
        for (const m of reader.push(chunk)) input.message(decodeRequest(call.method, m));
      } catch (err) {
        ended = true;
        call.fail(err);
        call.abort();
      }
    },
    end: () => {
      if (!call.done) input.end();
    },
    reset: () => {
      ended = true;
      call.gone();
    },
  };
}

export function createGrpcServer(table: HandlerTable, opts: GrpcServerOptions): GrpcEndpoint {
  const methods = new Map<string, MethodEntry>();
  const services = new Set<string>();
  for (const m of serviceMethods()) {
    methods.set(m.path, { method: m, handler: table.get(m.path) });
    services.add(m.service);
  }
  const connections = new Set<H2Connection>();
  let closing = false;

  const refuse = (stream: H2Stream, code: number, message: string): void => {
    stream.sendHeaders(
      encodeHeaderBlock([
        [":status", "200"],
        ["content-type", "application/grpc"],
        ...statusFields(code, message),
      ]),
      true,
    );
  };

  const onStream = (stream: H2Stream): void => {
    const h = stream.headers;
    const contentType = h.get("content-type") ?? "";
    if (h.get(":method") !== "POST" || !contentType.startsWith("application/grpc")) {
      stream.sendHeaders(
        encodeHeaderBlock([
          [":status", "415"],
          ...statusFields(GRPC_CODES.INTERNAL, `invalid gRPC request content-type "${contentType}"`),
        ]),
        true,
      );
      return;
    }
    const path = h.get(":path") ?? "";
    const entry = methods.get(path);
    if (entry === undefined || entry.handler === undefined) {
      const slash = path.lastIndexOf("/");
      const service = path.slice(1, Math.max(1, slash));
      const method = path.slice(slash + 1);
      refuse(
        stream,
        GRPC_CODES.UNIMPLEMENTED,
        services.has(service)
          ? `unknown method ${method} for service ${service}`
          : `unknown service ${service}`,
      );
      return;
    }
    const call = new Call(stream, entry.method, opts.logger);
    const handler = entry.handler;
    switch (handler.kind) {
      case "unary":
        startUnary(call, handler, opts.maxRecvBytes);
        return;
      case "server-stream":
        startServerStream(call, handler, opts.maxRecvBytes);
        return;
      case "bidi":
        startBidi(call, handler, opts.maxRecvBytes);
        return;
    }
  };

  return {
    injectConnection(socket, head) {
      if (closing) {
        socket.destroy();
        return;
      }
      const conn = new H2Connection(socket, head, {
        onStream,
        keepaliveIntervalMs: KEEPALIVE_INTERVAL_MS,
        keepaliveTimeoutMs: KEEPALIVE_TIMEOUT_MS,
        maxConcurrentStreams: opts.maxConcurrentStreams,
        tls: (socket as { encrypted?: boolean }).encrypted === true,
      });
      connections.add(conn);
      conn.onClose(() => connections.delete(conn));
    },
    close: () =>
      new Promise<void>((resolve) => {
        closing = true;
        for (const c of connections) c.goAway();
        // Give in-flight calls a moment, then cut what is left (watch streams never end by themselves).
        const deadline = Date.now() + 1000;
        const check = (): void => {
          if (connections.size === 0 || Date.now() >= deadline) {
            for (const c of connections) c.destroy();
            resolve();
            return;
          }
          setTimeout(check, 20).unref();
        };
        check();
      }),
  };
}
