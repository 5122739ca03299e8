// The JSON gateway: POST /v3/... calls the same handlers as gRPC, with requests and responses as
// JSON in etcd's gateway encoding (converted by the proto codec). Unary calls answer one JSON
// object; streaming calls answer newline-separated {"result":...} objects, each written as soon
// as it exists, and end with {"error":...} if the call fails.
import type { IncomingMessage, ServerResponse } from "node:http";
import type {
  BidiStreamHandler,
  CallContext,
  Handler,
  PlainMessage,
  ServerStreamHandler,
  UnaryHandler,
} from "../handler-types.js";
import { decodeFirstJsonValue, type JsonValue } from "./go-json.js";
import { JsonStreamSplitter } from "./json-stream.js";
import {
  GRPC_CODE_NUMBERS,
  grpcStatusOf,
  httpStatusFromGrpcCode,
  streamErrorBody,
  unaryErrorBody,
  type GrpcStatus,
} from "./status.js";

/** The proto codec's JSON half (src/proto/codec.ts). */
export interface JsonCodec {
  /** A request's syntax tree (undefined: empty body) → plain message; throws with etcd's message. */
  plainFromJson(typeName: string, json: JsonValue | undefined): PlainMessage;
  plainToJson(typeName: string, msg: PlainMessage): Record<string, unknown>;
}

export interface GatewayOptions {
  codec: JsonCodec;
  /** Largest request body (unary) or single streamed request (bidi) in bytes. */
  maxBodyBytes: number;
}

/** Thrown while reading a body; carries the gRPC status to answer with. */
class BodyError extends Error {
  constructor(readonly status: GrpcStatus) {
    super(status.message);
  }
}

function invalidArgument(message: string): BodyError {
  return new BodyError({ code: GRPC_CODE_NUMBERS.INVALID_ARGUMENT, message });
}

function tooLarge(limit: number): BodyError {
  return new BodyError({
    code: GRPC_CODE_NUMBERS.RESOURCE_EXHAUSTED,
    message: `grpc: received message larger than max (more than ${limit} bytes)`,
  });
}

/** Request headers as call metadata: Authorization is the auth token, Grpc-Metadata-* pass through. */
export function metadataFromHeaders(req: IncomingMessage): Map<string, string> {
  const md = new Map<string, string>();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    const text = Array.isArray(value) ? value.join(",") : value;
    if (name === "authorization") {
      md.set("authorization", text);
      md.set("token", text);
    } else if (name.startsWith("grpc-metadata-")) {
      md.set(name.slice("grpc-metadata-".length), text);
    }
  }
  return md;
}

/** An abort signal that fires when the client goes away before the response is complete. */
function callContext(req: IncomingMessage, res: ServerResponse): CallContext & { abort(): void } {
  const controller = new AbortController();
  const abort = (): void => controller.abort(new Error("client went away"));
  res.once("close", () => {
    if (!res.writableFinished) abort();
  });
  return { signal: controller.signal, metadata: metadataFromHeaders(req), abort };
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners("data");
        req.resume();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function decodeRequest(codec: JsonCodec, typeName: string, body: Buffer): PlainMessage {
  let json: JsonValue | undefined;
  try {
    json = decodeFirstJsonValue(body);
  } catch (err) {
    throw invalidArgument((err as Error).message);
  }
  // An empty body (undefined) is an all-defaults request, as in grpc-gateway.
  try {
    return codec.plainFromJson(typeName, json);
  } catch (err) {
    throw invalidArgument((err as Error).message);
  }
}

function sendUnaryError(res: ServerResponse, err: unknown): void {
  const status = err instanceof BodyError ? err.status : grpcStatusOf(err);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(httpStatusFromGrpcCode(status.code), { "content-type": "application/json" });
  res.end(unaryErrorBody(status));
}

async function serveUnary(
  req: IncomingMessage,
  res: ServerResponse,
  handler: UnaryHandler,
  opts: GatewayOptions,
): Promise<void> {
  const ctx = callContext(req, res);
  try {
    const body = await readBody(req, opts.maxBodyBytes);
    const request = decodeRequest(opts.codec, handler.requestType, body);
    const response = await handler.handle(request, ctx);
    const json = JSON.stringify(opts.codec.plainToJson(handler.responseType, response));
    res.writeHead(200, {
      "content-type": "application/json",
      "grpc-metadata-content-type": "application/grpc",
    });
    res.end(json);
  } catch (err) {
    sendUnaryError(res, err);
  }
}

/** Writes stream chunks: the first one sends the 200 header; an error ends the call. */
class StreamWriter {
  private wroteResult = false;
  private ended = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly codec: JsonCodec,
    private readonly responseType: string,
  ) {}

  private startOk(): void {
    if (this.res.headersSent) return;
    this.res.writeHead(200, {
      "content-type": "application/json",
      "grpc-metadata-content-type": "application/grpc",
    });
    // Send the header now so clients see the stream open before the first message.
    this.res.flushHeaders();
  }

  result(msg: PlainMessage): boolean {
    if (this.ended || this.res.destroyed) return true;
    this.startOk();
    this.wroteResult = true;
    return this.res.write(JSON.stringify({ result: this.codec.plainToJson(this.responseType, msg) }) + "\n");
  }

  /** Ends the call with a unary-shaped error if nothing was sent yet (else does nothing). */
  failBeforeStart(status: GrpcStatus): void {
    if (this.ended || this.res.destroyed || this.res.headersSent || this.wroteResult) return;
    this.ended = true;
    this.res.writeHead(httpStatusFromGrpcCode(status.code), { "content-type": "application/json" });
    this.res.end(unaryErrorBody(status));
  }

  end(err?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    if (this.res.destroyed) return;
    if (err === undefined) {
      this.startOk();
      this.res.end();
      return;
    }
    const status = err instanceof BodyError ? err.status : grpcStatusOf(err);
    if (!this.res.headersSent && !this.wroteResult) {
      this.res.writeHead(httpStatusFromGrpcCode(status.code), { "content-type": "application/json" });
    }
    this.res.end(streamErrorBody(status));
  }
}

async function serveServerStream(
  req: IncomingMessage,
  res: ServerResponse,
  handler: ServerStreamHandler,
  opts: GatewayOptions,
): Promise<void> {
  const ctx = callContext(req, res);
  const writer = new StreamWriter(res, opts.codec, handler.responseType);
  try {
    const body = await readBody(req, opts.maxBodyBytes);
    const request = decodeRequest(opts.codec, handler.requestType, body);
    for await (const msg of handler.handle(request, ctx)) {
      if (ctx.signal.aborted) return;
      if (!writer.result(msg)) await new Promise<void>((resolve) => res.once("drain", resolve));
    }
    writer.end();
  } catch (err) {
    if (!ctx.signal.aborted) writer.end(err);
  }
}

function serveBidi(
  req: IncomingMessage,
  res: ServerResponse,
  handler: BidiStreamHandler,
  opts: GatewayOptions,
): void {
  const ctx = callContext(req, res);
  // As in etcd, the 200 header goes out with the first response (or an error status instead).
  const writer = new StreamWriter(res, opts.codec, handler.responseType);
  let inputEnded = false;
  const input = handler.open(
    {
      send: (msg) => writer.result(msg),
      onDrain: (listener) => res.once("drain", listener),
      end: (err) => writer.end(err),
    },
    ctx,
  );
  const endInput = (): void => {
    if (inputEnded) return;
    inputEnded = true;
    input.end();
  };
  const splitter = new JsonStreamSplitter(opts.maxBodyBytes);
  let firstRead = false;
  // grpc-gateway reads the first request before it answers: if that one cannot be read, the call
  // fails with its error (code Unknown, HTTP 500, unary error shape). Later unreadable requests
  // only half-close the stream.
  const stop = (err: Error): void => {
    if (!firstRead) writer.failBeforeStart({ code: GRPC_CODE_NUMBERS.UNKNOWN, message: err.message });
    endInput();
  };
  const forward = (values: JsonValue[]): void => {
    for (const json of values) {
      if (inputEnded) return;
      let msg: PlainMessage;
      try {
        msg = opts.codec.plainFromJson(handler.requestType, json);
      } catch (err) {
        stop(err as Error);
        return;
      }
      firstRead = true;
      input.message(msg);
    }
    if (splitter.error instanceof RangeError) endInput();
    else if (splitter.error !== undefined && !inputEnded) stop(splitter.error);
  };
  req.on("data", (chunk: Buffer) => {
    if (!inputEnded) forward(splitter.push(chunk));
  });
  req.on("end", () => {
    if (!inputEnded) forward(splitter.end());
    endInput();
  });
  req.on("error", endInput);
  res.once("close", endInput);
}

/** Runs one gateway call; the caller has checked the method is POST. */
export function serveGatewayCall(
  req: IncomingMessage,
  res: ServerResponse,
  handler: Handler,
  opts: GatewayOptions,
): void {
  switch (handler.kind) {
    case "unary":
      void serveUnary(req, res, handler, opts);
      return;
    case "server-stream":
      void serveServerStream(req, res, handler, opts);
      return;
    case "bidi":
      serveBidi(req, res, handler, opts);
      return;
  }
}

/** A method the table lacks answers like an unregistered gRPC method. */
export function sendUnimplemented(res: ServerResponse, methodPath: string): void {
  const service = methodPath.slice(1, methodPath.lastIndexOf("/"));
  sendUnaryError(res, { code: GRPC_CODE_NUMBERS.UNIMPLEMENTED, message: `unknown service ${service}` });
}
