// Transport-level conformance of the gRPC binding (createGrpcServer) against fake handlers: the
// gRPC-over-HTTP/2 edges that any implementation of the binding must get right, whether it sits on
// @grpc/grpc-js or on a hand-written HTTP/2 framing layer. Calls come from a grpc-js client and,
// for raw protocol cases, from node:http2's client writing gRPC's length-prefixed messages by hand.
import assert from "node:assert/strict";
import http2 from "node:http2";
import net from "node:net";
import type { Duplex } from "node:stream";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import v8 from "node:v8";
import * as grpc from "@grpc/grpc-js";
import { decodePlain, encodePlain } from "../../proto/codec.js";
import {
  RpcError,
  type BidiStreamHandler,
  type CallContext,
  type Handler,
  type HandlerTable,
  type PlainMessage,
  type ServerStreamHandler,
  type UnaryHandler,
} from "../handler-types.js";
import { unary } from "../services/unary.js";
import { createGrpcServer, type GrpcEndpoint } from "./server.js";

const MAX_RECV_BYTES = 2 * 1024 * 1024;
const KIB = 1024;
const b = (s: string): Buffer => Buffer.from(s);
const text = (bytes: unknown): string => Buffer.from(bytes as Uint8Array).toString("utf8");

// ---- helpers: time bounds --------------------------------------------------------------------

async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function abortedWithin(signal: AbortSignal, ms: number, what: string): Promise<void> {
  const aborted = signal.aborted
    ? Promise.resolve()
    : new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
  return within(aborted, ms, what);
}

/** Polls `cond` every 10 ms until it holds, failing after `ms`. */
async function eventually(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(10);
  }
}

// ---- fake handlers ---------------------------------------------------------------------------

/** Calls into the "hang" handler, by request key: the handler's abort signal once it runs. */
const hangWaiters = new Map<string, (signal: AbortSignal) => void>();

function hangEntered(key: string): Promise<AbortSignal> {
  return within(
    new Promise<AbortSignal>((resolve) => hangWaiters.set(key, resolve)),
    5000,
    `hang handler for ${key} to run`,
  );
}

/** The metadata the Put handler saw on its last call with key "meta". */
let seenMetadata: ReadonlyMap<string, string> | undefined;

function takeMetadata(): ReadonlyMap<string, string> {
  const md = seenMetadata;
  seenMetadata = undefined;
  assert.ok(md, "the handler ran and saw metadata");
  return md;
}

const seenContexts: CallContext[] = [];

interface WatchProbe {
  signal: AbortSignal;
  received: number;
  inputEnded: boolean;
}
const watchProbes: WatchProbe[] = [];

async function nextWatch(count: number): Promise<WatchProbe> {
  await eventually(() => watchProbes.length >= count, 5000, `bidi stream #${count} to open`);
  return watchProbes[count - 1]!;
}

/** Echoes key and value in prev_kv; key "throw" → RpcError(lease, value), "throw-plain" → Error(value). */
const putHandler: UnaryHandler = {
  kind: "unary",
  requestType: "etcdserverpb.PutRequest",
  responseType: "etcdserverpb.PutResponse",
  async handle(req, ctx) {
    const key = text(req["key"]);
    const value = req["value"] as Uint8Array;
    if (key === "throw") throw new RpcError(Number(req["lease"]), text(value));
    if (key === "throw-plain") throw new Error(text(value));
    if (key === "meta") seenMetadata = new Map(ctx.metadata);
    if (key === "ctx") seenContexts.push(ctx);
    if (key.startsWith("slow")) await sleep(Math.floor(Math.random() * 20));
    return {
      header: { revision: "7", member_id: "18446744073709551615" },
      prev_kv: { key: req["key"], value, version: String(value.length) },
    };
  },
};

/** `limit` key-values of 64 KiB each, value i filled with byte i. */
const rangeHandler: UnaryHandler = {
  kind: "unary",
  requestType: "etcdserverpb.RangeRequest",
  responseType: "etcdserverpb.RangeResponse",
  handle(req) {
    const n = Number(req["limit"]);
    const kvs = Array.from({ length: n }, (_, i) => ({
      key: b(`key-${i}`),
      value: Buffer.alloc(64 * KIB, i & 0xff),
      mod_revision: String(i + 1),
    }));
    return Promise.resolve({ header: { revision: String(n) }, kvs, count: String(n) });
  },
};

/** Never answers: waits for its abort signal (through the shared `unary()` helper). */
const hangHandler = unary(
  "etcdserverpb.DeleteRangeRequest",
  "etcdserverpb.DeleteRangeResponse",
  (req, opts) =>
    new Promise<PlainMessage>((_resolve, reject) => {
      const signal = opts.signal;
      assert.ok(signal, "the handler gets an abort signal");
      signal.addEventListener("abort", () => reject(new RpcError(1, "context canceled")), { once: true });
      hangWaiters.get(text(req["key"]))?.(signal);
    }),
);

/** Hands the test a way to read ctx.signal for the first time, whenever it chooses; never answers. */
let lateSignalEntered: ((readSignal: () => AbortSignal) => void) | undefined;
const lateSignalHandler: UnaryHandler = {
  kind: "unary",
  requestType: "etcdserverpb.TxnRequest",
  responseType: "etcdserverpb.TxnResponse",
  handle(_req, ctx) {
    lateSignalEntered?.(() => ctx.signal);
    return new Promise<PlainMessage>(() => {});
  },
};

/** 50 messages of 64 KiB: blob i filled with byte i, remaining_bytes counting down to 0. */
const snapshotHandler: ServerStreamHandler = {
  kind: "server-stream",
  requestType: "etcdserverpb.SnapshotRequest",
  responseType: "etcdserverpb.SnapshotResponse",
  async *handle() {
    for (let i = 0; i < 50; i++) {
      if (i % 10 === 0) await sleep(1);
      yield { remaining_bytes: String(49 - i), blob: Buffer.alloc(64 * KIB, i) };
    }
  },
};

/** Three leader responses, then an RpcError: a status after messages. */
const observeHandler: ServerStreamHandler = {
  kind: "server-stream",
  requestType: "v3electionpb.LeaderRequest",
  responseType: "v3electionpb.LeaderResponse",
  async *handle(req) {
    for (let i = 0; i < 3; i++) yield { kv: { key: req["name"], value: b(`leader-${i}`) } };
    throw new RpcError(9, "election: observe ended: ü 100%");
  },
};

/** Echoes each request: watch_id = running count, cancel_reason = the create_request key. */
const watchHandler: BidiStreamHandler = {
  kind: "bidi",
  requestType: "etcdserverpb.WatchRequest",
  responseType: "etcdserverpb.WatchResponse",
  open(out, ctx) {
    const probe: WatchProbe = { signal: ctx.signal, received: 0, inputEnded: false };
    watchProbes.push(probe);
    return {
      message(req) {
        probe.received++;
        const create = req["create_request"] as PlainMessage | null | undefined;
        out.send({
          watch_id: String(probe.received),
          created: true,
          cancel_reason: create ? text(create["key"]) : "",
        });
      },
      end() {
        probe.inputEnded = true;
        out.end();
      },
    };
  },
};

function handlerTable(): HandlerTable {
  return new Map<string, Handler>([
    ["/etcdserverpb.KV/Put", putHandler],
    ["/etcdserverpb.KV/Range", rangeHandler],
    ["/etcdserverpb.KV/DeleteRange", hangHandler],
    ["/etcdserverpb.KV/Txn", lateSignalHandler],
    ["/etcdserverpb.Maintenance/Snapshot", snapshotHandler],
    ["/v3electionpb.Election/Observe", observeHandler],
    ["/etcdserverpb.Watch/Watch", watchHandler],
  ]);
}

// ---- server fixture --------------------------------------------------------------------------

interface Fixture {
  port: number;
  endpoint: GrpcEndpoint;
  close(): Promise<void>;
}

async function startServer(): Promise<Fixture> {
  const endpoint = createGrpcServer(handlerTable(), { maxRecvBytes: MAX_RECV_BYTES });
  // Nothing has been read from the socket yet: the binding reads the preface itself. (The
  // listener may pass the bytes it sniffed as a second argument; here there are none.)
  const inject = endpoint.injectConnection.bind(endpoint) as (socket: Duplex, head: Buffer) => void;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    inject(socket, Buffer.alloc(0));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.address() as net.AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    port,
    endpoint,
    close: () =>
      (closing ??= (async () => {
        server.close();
        await within(endpoint.close(), 5000, "endpoint close");
        for (const s of sockets) s.destroy();
      })()),
  };
}

// ---- grpc-js client helpers ------------------------------------------------------------------

const clients: grpc.Client[] = [];

function newClient(port: number, options: grpc.ChannelOptions = {}): grpc.Client {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), options);
  clients.push(client);
  return client;
}

interface CallOptions {
  deadlineMs?: number;
  metadata?: grpc.Metadata;
}

/** A unary call with raw request bytes; returns the call (for cancel) and its decoded result. */
function unaryBytes(
  client: grpc.Client,
  path: string,
  bytes: Buffer,
  responseType: string,
  opts: CallOptions = {},
): { call: grpc.ClientUnaryCall; result: Promise<PlainMessage> } {
  let call!: grpc.ClientUnaryCall;
  const result = new Promise<PlainMessage>((resolve, reject) => {
    call = client.makeUnaryRequest(
      path,
      (x: Buffer) => x,
      (x: Buffer) => decodePlain(responseType, x),
      bytes,
      opts.metadata ?? new grpc.Metadata(),
      { deadline: Date.now() + (opts.deadlineMs ?? 10_000) },
      (err, resp) => (err ? reject(err) : resolve(resp as PlainMessage)),
    );
  });
  return { call, result };
}

function unaryCall(
  client: grpc.Client,
  method: string,
  req: PlainMessage,
  opts: CallOptions = {},
): { call: grpc.ClientUnaryCall; result: Promise<PlainMessage> } {
  return unaryBytes(
    client,
    `/etcdserverpb.KV/${method}`,
    Buffer.from(encodePlain(`etcdserverpb.${method}Request`, req)),
    `etcdserverpb.${method}Response`,
    opts,
  );
}

const put = (client: grpc.Client, key: string, value = "v", opts: CallOptions = {}): Promise<PlainMessage> =>
  unaryCall(client, "Put", { key: b(key), value: b(value) }, opts).result;

async function assertEcho(p: Promise<PlainMessage>, key: string, value: string | Buffer): Promise<void> {
  const resp = await p;
  const kv = resp["prev_kv"] as PlainMessage;
  assert.equal(text(kv["key"]), key);
  assert.ok(Buffer.from(kv["value"] as Uint8Array).equals(typeof value === "string" ? b(value) : value));
}

async function rejectsWith(
  p: Promise<unknown>,
  code: grpc.status,
  details?: string | RegExp,
): Promise<grpc.ServiceError> {
  let caught: grpc.ServiceError | undefined;
  await assert.rejects(p, (err: grpc.ServiceError) => {
    caught = err;
    assert.equal(err.code, code, `status code (details: ${err.details})`);
    if (typeof details === "string") assert.equal(err.details, details);
    else if (details) assert.match(err.details, details);
    return true;
  });
  return caught!;
}

interface BidiResult {
  replies: PlainMessage[];
  status: Promise<grpc.StatusObject>;
  stream: grpc.ClientDuplexStream<PlainMessage, PlainMessage>;
}

function watchStream(client: grpc.Client): BidiResult {
  const stream = client.makeBidiStreamRequest(
    "/etcdserverpb.Watch/Watch",
    (m: PlainMessage) => Buffer.from(encodePlain("etcdserverpb.WatchRequest", m)),
    (x: Buffer) => decodePlain("etcdserverpb.WatchResponse", x),
  );
  const replies: PlainMessage[] = [];
  stream.on("data", (m: PlainMessage) => replies.push(m));
  stream.on("error", () => {}); // the status promise reports it
  const status = new Promise<grpc.StatusObject>((resolve) => stream.on("status", resolve));
  return { replies, status, stream };
}

const watchReq = (key: string): PlainMessage => ({ create_request: { key: b(key) } });

// ---- raw HTTP/2 client helpers ---------------------------------------------------------------

const sessions: http2.ClientHttp2Session[] = [];

async function rawSession(port: number): Promise<http2.ClientHttp2Session> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  sessions.push(session);
  session.on("error", () => {});
  await within(
    new Promise<void>((resolve, reject) => {
      session.once("connect", () => resolve());
      session.once("error", reject);
    }),
    5000,
    "raw HTTP/2 connect",
  );
  return session;
}

/** gRPC's length-prefixed message: 1 byte compressed flag, 4 bytes big-endian length, the bytes. */
function grpcFrame(message: Uint8Array, compressed = false): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out[0] = compressed ? 1 : 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

function parseGrpcFrames(body: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (at < body.length) {
    assert.ok(body.length - at >= 5, "a complete 5-byte message prefix");
    assert.equal(body[at], 0, "response messages are not compressed");
    const len = body.readUInt32BE(at + 1);
    assert.ok(body.length - at - 5 >= len, `a complete message of ${len} bytes`);
    out.push(body.subarray(at + 5, at + 5 + len));
    at += 5 + len;
  }
  return out;
}

interface RawResult {
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders;
  messages: Buffer[];
  /** grpc-status from the trailers, or from the headers of a trailers-only response. */
  code: number;
  /** grpc-message, percent-decoded. */
  message: string;
  /** grpc-message as sent. */
  rawMessage: string;
}

interface RawCallOptions {
  headers?: http2.OutgoingHttpHeaders;
  /** Pause between written chunks. */
  gapMs?: number;
  /** Leave the request stream open (no END_STREAM) after the chunks. */
  noEnd?: boolean;
  /** Slow reader: pause the response stream this long after its first chunk and after each further MiB. */
  slowReadMs?: number;
  timeoutMs?: number;
  /** Receives the stream as soon as it is opened. */
  onStream?: (stream: http2.ClientHttp2Stream) => void;
}

async function rawCall(
  session: http2.ClientHttp2Session,
  path: string,
  chunks: Buffer[],
  opts: RawCallOptions = {},
): Promise<RawResult> {
  const stream = session.request({
    ":method": "POST",
    ":path": path,
    "content-type": "application/grpc",
    te: "trailers",
    ...opts.headers,
  });
  opts.onStream?.(stream);
  const done = new Promise<RawResult>((resolve, reject) => {
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const data: Buffer[] = [];
    let received = 0;
    let nextPauseAt = 0;
    const timer = setTimeout(() => {
      stream.close(http2.constants.NGHTTP2_CANCEL);
      reject(new Error(`raw call ${path}: no end within ${opts.timeoutMs ?? 10_000} ms`));
    }, opts.timeoutMs ?? 10_000);
    stream.on("response", (h) => (headers = h));
    stream.on("trailers", (t) => (trailers = t));
    stream.on("data", (chunk: Buffer) => {
      data.push(chunk);
      received += chunk.length;
      if (opts.slowReadMs !== undefined && received >= nextPauseAt) {
        nextPauseAt = received + 1024 * KIB;
        stream.pause();
        setTimeout(() => stream.resume(), opts.slowReadMs);
      }
    });
    stream.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    stream.on("end", () => {
      clearTimeout(timer);
      const raw = trailers["grpc-status"] ?? headers["grpc-status"];
      const rawMessage = String(trailers["grpc-message"] ?? headers["grpc-message"] ?? "");
      try {
        assert.equal(headers[":status"], 200, "HTTP status of a gRPC response");
        assert.match(String(headers["content-type"]), /^application\/grpc/);
        assert.notEqual(raw, undefined, "a grpc-status");
        resolve({
          headers,
          trailers,
          messages: parseGrpcFrames(Buffer.concat(data)),
          code: Number(raw),
          message: decodeURIComponent(rawMessage),
          rawMessage,
        });
      } catch (err) {
        reject(err as Error);
      }
    });
  });
  for (let i = 0; i < chunks.length; i++) {
    if (i > 0 && opts.gapMs !== undefined) await sleep(opts.gapMs);
    stream.write(chunks[i]);
  }
  if (!opts.noEnd) stream.end();
  return done;
}

function putFrame(key: string, value: string | Buffer = "v"): Buffer {
  const bytes = typeof value === "string" ? b(value) : value;
  return grpcFrame(encodePlain("etcdserverpb.PutRequest", { key: b(key), value: bytes }));
}

async function rawPut(session: http2.ClientHttp2Session, key: string, value = "v"): Promise<void> {
  const res = await rawCall(session, "/etcdserverpb.KV/Put", [putFrame(key, value)]);
  assert.equal(res.code, grpc.status.OK, res.message);
  assert.equal(res.messages.length, 1);
  await assertEcho(Promise.resolve(decodePlain("etcdserverpb.PutResponse", res.messages[0]!)), key, value);
}

// ---- the tests -------------------------------------------------------------------------------

describe("gRPC binding: transport conformance", { timeout: 60_000 }, () => {
  let fx: Fixture;
  let client: grpc.Client;

  before(async () => {
    fx = await startServer();
    client = newClient(fx.port);
  });

  after(async () => {
    for (const s of sessions) s.destroy();
    for (const c of clients) c.close();
    await fx.close();
  });

  test("a request message split across several DATA frames is reassembled", async () => {
    const session = await rawSession(fx.port);
    const value = Buffer.alloc(1000, 0x61);
    const body = putFrame("split", value);
    // The first chunk ends inside the 5-byte prefix, the second inside the message.
    const res = await rawCall(
      session,
      "/etcdserverpb.KV/Put",
      [body.subarray(0, 3), body.subarray(3, 400), body.subarray(400)],
      {
        gapMs: 50,
      },
    );
    assert.equal(res.code, grpc.status.OK, res.message);
    assert.equal(res.messages.length, 1);
    const resp = decodePlain("etcdserverpb.PutResponse", res.messages[0]!);
    assert.equal((resp["header"] as PlainMessage)["member_id"], "18446744073709551615");
    await assertEcho(Promise.resolve(resp), "split", value);

    // Byte by byte, with END_STREAM on an empty DATA frame after a pause.
    const small = putFrame("bytes", "xyz");
    const bytes = [...small].map((x) => Buffer.from([x]));
    const res2 = await rawCall(session, "/etcdserverpb.KV/Put", bytes, { gapMs: 5 });
    assert.equal(res2.code, grpc.status.OK, res2.message);
    await assertEcho(
      Promise.resolve(decodePlain("etcdserverpb.PutResponse", res2.messages[0]!)),
      "bytes",
      "xyz",
    );

    // An empty message (length 0) is a valid request with every field at its default.
    const res3 = await rawCall(session, "/etcdserverpb.KV/Put", [grpcFrame(new Uint8Array(0))]);
    assert.equal(res3.code, grpc.status.OK, res3.message);
    await assertEcho(Promise.resolve(decodePlain("etcdserverpb.PutResponse", res3.messages[0]!)), "", "");
  });

  test("a ~3 MiB response reaches a grpc-js client and a slow raw reader whole", async () => {
    const check = (resp: PlainMessage): void => {
      assert.equal(resp["count"], "48");
      const kvs = resp["kvs"] as PlainMessage[];
      assert.equal(kvs.length, 48);
      kvs.forEach((kv, i) => {
        assert.equal(text(kv["key"]), `key-${i}`);
        assert.ok(Buffer.from(kv["value"] as Uint8Array).equals(Buffer.alloc(64 * KIB, i)), `value ${i}`);
      });
    };
    check(await unaryCall(client, "Range", { key: b("k"), limit: "48" }).result);

    const session = await rawSession(fx.port);
    const started = Date.now();
    const res = await rawCall(
      session,
      "/etcdserverpb.KV/Range",
      [grpcFrame(encodePlain("etcdserverpb.RangeRequest", { key: b("k"), limit: "48" }))],
      { slowReadMs: 200, timeoutMs: 20_000 },
    );
    assert.equal(res.code, grpc.status.OK, res.message);
    assert.equal(res.messages.length, 1);
    assert.ok(res.messages[0]!.length > 3 * 1024 * KIB, `response of ${res.messages[0]!.length} bytes`);
    check(decodePlain("etcdserverpb.RangeResponse", res.messages[0]!));
    assert.ok(Date.now() - started >= 200, "the reader really paused");
    // The connection is still good after the large, flow-controlled response.
    await rawPut(session, "after-large");
  });

  test("a server stream of 50 × 64 KiB arrives complete and in order", async () => {
    const stream = client.makeServerStreamRequest(
      "/etcdserverpb.Maintenance/Snapshot",
      (m: PlainMessage) => Buffer.from(encodePlain("etcdserverpb.SnapshotRequest", m)),
      (x: Buffer) => decodePlain("etcdserverpb.SnapshotResponse", x),
      {},
      new grpc.Metadata(),
      { deadline: Date.now() + 20_000 },
    );
    const got: PlainMessage[] = [];
    stream.on("data", (m: PlainMessage) => got.push(m));
    stream.on("error", () => {});
    const status = await within(
      new Promise<grpc.StatusObject>((resolve) => stream.on("status", resolve)),
      20_000,
      "snapshot stream status",
    );
    assert.equal(status.code, grpc.status.OK, status.details);
    assert.equal(got.length, 50);
    got.forEach((m, i) => {
      assert.equal(m["remaining_bytes"], String(49 - i));
      assert.ok(Buffer.from(m["blob"] as Uint8Array).equals(Buffer.alloc(64 * KIB, i)), `blob ${i}`);
    });
  });

  test("a server stream that throws after messages: the messages, then that status", async () => {
    const stream = client.makeServerStreamRequest(
      "/v3electionpb.Election/Observe",
      (m: PlainMessage) => Buffer.from(encodePlain("v3electionpb.LeaderRequest", m)),
      (x: Buffer) => decodePlain("v3electionpb.LeaderResponse", x),
      { name: b("elect") },
      new grpc.Metadata(),
      { deadline: Date.now() + 10_000 },
    );
    const got: string[] = [];
    stream.on("data", (m: PlainMessage) => got.push(text((m["kv"] as PlainMessage)["value"])));
    const err = await within(
      new Promise<grpc.ServiceError>((resolve) => stream.on("error", resolve)),
      10_000,
      "observe error",
    );
    assert.deepEqual(got, ["leader-0", "leader-1", "leader-2"]);
    assert.equal(err.code, grpc.status.FAILED_PRECONDITION);
    assert.equal(err.details, "election: observe ended: ü 100%");
  });

  test("bidi: 1000 requests echoed in order; half-close ends the handler's input, then OK", async () => {
    const before = watchProbes.length;
    const { replies, status, stream } = watchStream(client);
    for (let i = 0; i < 1000; i++) stream.write(watchReq(`w${i}`));
    stream.end();
    const s = await within(status, 20_000, "bidi status");
    assert.equal(s.code, grpc.status.OK, s.details);
    assert.equal(replies.length, 1000);
    replies.forEach((r, i) => {
      assert.equal(r["watch_id"], String(i + 1));
      assert.equal(r["cancel_reason"], `w${i}`);
    });
    const probe = await nextWatch(before + 1);
    assert.equal(probe.received, 1000);
    assert.equal(probe.inputEnded, true);
  });

  test("cancellation by the client aborts the handler's signal", async () => {
    // grpc-js call.cancel()
    const entered = hangEntered("cancel-grpc");
    const { call, result } = unaryCall(client, "DeleteRange", { key: b("cancel-grpc") });
    const signal = await entered;
    assert.equal(signal.aborted, false);
    call.cancel();
    await rejectsWith(result, grpc.status.CANCELLED);
    await abortedWithin(signal, 2000, "handler signal after grpc-js cancel");

    // Raw RST_STREAM(CANCEL); the connection keeps serving other streams.
    const session = await rawSession(fx.port);
    const rawEntered = hangEntered("cancel-raw");
    let stream: http2.ClientHttp2Stream | undefined;
    const raw = rawCall(
      session,
      "/etcdserverpb.KV/DeleteRange",
      [grpcFrame(encodePlain("etcdserverpb.DeleteRangeRequest", { key: b("cancel-raw") }))],
      {
        onStream: (s) => (stream = s),
      },
    );
    raw.catch(() => {});
    const rawSignal = await rawEntered;
    stream!.close(http2.constants.NGHTTP2_CANCEL);
    await abortedWithin(rawSignal, 2000, "handler signal after RST_STREAM(CANCEL)");
    await rawPut(session, "after-cancel");

    // A bidi stream cancelled by the client.
    const count = watchProbes.length;
    const bidi = watchStream(client);
    bidi.stream.write(watchReq("c"));
    await eventually(() => bidi.replies.length === 1, 5000, "first bidi reply");
    const probe = await nextWatch(count + 1);
    bidi.stream.cancel();
    assert.equal((await within(bidi.status, 2000, "bidi status")).code, grpc.status.CANCELLED);
    await abortedWithin(probe.signal, 2000, "bidi handler signal after cancel");
  });

  test("handler contexts are ordinary fast objects, with signal on their prototype", async () => {
    // A context built as an object literal with a getter closure per call is a dictionary-mode
    // object whose accessor pair V8 allocates in the old generation: it kept every call's objects
    // alive through young-generation GCs (25 % of all allocation surviving, scavenges of 5-15 ms).
    seenContexts.length = 0;
    await put(client, "ctx", "1");
    await put(client, "ctx", "2");
    assert.equal(seenContexts.length, 2);
    v8.setFlagsFromString("--allow-natives-syntax");
    const hasFastProperties = new Function("o", "return %HasFastProperties(o)") as (o: object) => boolean;
    const haveSameMap = new Function("a", "b", "return %HaveSameMap(a, b)") as (
      a: object,
      b: object,
    ) => boolean;
    for (const ctx of seenContexts) {
      assert.equal(
        Object.getOwnPropertyDescriptor(ctx, "signal"),
        undefined,
        "signal is not an own accessor",
      );
      assert.equal(hasFastProperties(ctx), true, "the context is not in dictionary mode");
      assert.equal(ctx.signal.aborted, false);
    }
    assert.equal(
      haveSameMap(seenContexts[0]!, seenContexts[1]!),
      true,
      "all contexts share one hidden class",
    );
  });

  test("a handler that first reads ctx.signal after the client cancelled gets it aborted", async () => {
    // The binding makes the AbortController only when a handler asks for the signal.
    const session = await rawSession(fx.port);
    const entered = within(
      new Promise<() => AbortSignal>((resolve) => (lateSignalEntered = resolve)),
      5000,
      "the Txn handler to run",
    );
    let stream: http2.ClientHttp2Stream | undefined;
    const raw = rawCall(
      session,
      "/etcdserverpb.KV/Txn",
      [grpcFrame(encodePlain("etcdserverpb.TxnRequest", {}))],
      {
        onStream: (s) => (stream = s),
      },
    );
    raw.catch(() => {});
    const readSignal = await entered;
    stream!.close(http2.constants.NGHTTP2_CANCEL);
    // Frames of one connection are handled in order: once this answer is back, so is the reset.
    await rawPut(session, "after-late-cancel");
    const signal = readSignal();
    assert.equal(signal.aborted, true, "the signal made after the reset is already aborted");
    assert.match(String((signal.reason as Error).message), /context canceled/);
  });

  test("a client deadline ends the call with DEADLINE_EXCEEDED and aborts the handler", async () => {
    const entered = hangEntered("deadline-grpc");
    const started = Date.now();
    const { result } = unaryCall(client, "DeleteRange", { key: b("deadline-grpc") }, { deadlineMs: 200 });
    const signal = await entered;
    await rejectsWith(result, grpc.status.DEADLINE_EXCEEDED);
    assert.ok(Date.now() - started < 2000);
    await abortedWithin(signal, 2000, "handler signal after the deadline");

    // grpc-timeout honoured by the server itself: the raw client never cancels.
    const session = await rawSession(fx.port);
    const rawEntered = hangEntered("deadline-raw");
    const rawStarted = Date.now();
    const raw = rawCall(
      session,
      "/etcdserverpb.KV/DeleteRange",
      [grpcFrame(encodePlain("etcdserverpb.DeleteRangeRequest", { key: b("deadline-raw") }))],
      { headers: { "grpc-timeout": "200m" }, timeoutMs: 5000 },
    );
    const rawSignal = await rawEntered;
    const res = await raw;
    assert.equal(res.code, grpc.status.DEADLINE_EXCEEDED, res.message);
    assert.ok(Date.now() - rawStarted < 2000, "the server ends the call at its grpc-timeout");
    await abortedWithin(rawSignal, 2000, "handler signal after grpc-timeout");
  });

  test("unknown methods and services: UNIMPLEMENTED naming what is missing", async () => {
    const empty = Buffer.alloc(0);
    // In the .proto files but with no handler.
    const noHandler = await rejectsWith(
      unaryBytes(client, "/etcdserverpb.KV/Compact", empty, "etcdserverpb.CompactionResponse").result,
      grpc.status.UNIMPLEMENTED,
    );
    assert.match(noHandler.details, /Compact/);
    // Not in the .proto files: unknown method of a known service, unknown service.
    const noMethod = await rejectsWith(
      unaryBytes(client, "/etcdserverpb.KV/NoSuchMethod", empty, "etcdserverpb.PutResponse").result,
      grpc.status.UNIMPLEMENTED,
    );
    assert.match(noMethod.details, /NoSuchMethod/);
    const noService = await rejectsWith(
      unaryBytes(client, "/nosuch.Service/Put", empty, "etcdserverpb.PutResponse").result,
      grpc.status.UNIMPLEMENTED,
    );
    assert.match(noService.details, /nosuch\.Service/);
    // A streaming method with no handler.
    const keepAlive = client.makeBidiStreamRequest(
      "/etcdserverpb.Lease/LeaseKeepAlive",
      (m: PlainMessage) => Buffer.from(encodePlain("etcdserverpb.LeaseKeepAliveRequest", m)),
      (x: Buffer) => decodePlain("etcdserverpb.LeaseKeepAliveResponse", x),
    );
    keepAlive.on("error", () => {});
    keepAlive.write({ ID: "1" });
    const s = await within(
      new Promise<grpc.StatusObject>((resolve) => keepAlive.on("status", resolve)),
      5000,
      "LeaseKeepAlive status",
    );
    assert.equal(s.code, grpc.status.UNIMPLEMENTED);
    assert.match(s.details, /LeaseKeepAlive/);

    // The same over raw HTTP/2.
    const session = await rawSession(fx.port);
    const res = await rawCall(session, "/nosuch.Service/Put", [grpcFrame(new Uint8Array(0))]);
    assert.equal(res.code, grpc.status.UNIMPLEMENTED);
    assert.match(res.message, /nosuch\.Service/);
    await put(client, "after-unimplemented");
  });

  test("a request over maxRecvBytes: RESOURCE_EXHAUSTED, and the connection serves on", async () => {
    const big = Buffer.alloc(MAX_RECV_BYTES + 64 * KIB, 0x62);
    await rejectsWith(
      unaryCall(client, "Put", { key: b("huge"), value: big }).result,
      grpc.status.RESOURCE_EXHAUSTED,
    );
    await assertEcho(put(client, "after-huge"), "after-huge", "v");

    // A message just under the limit is accepted.
    const fits = Buffer.alloc(MAX_RECV_BYTES - 64, 0x63);
    await assertEcho(unaryCall(client, "Put", { key: b("fits"), value: fits }).result, "fits", fits);

    // Raw: the same session serves a following call.
    const session = await rawSession(fx.port);
    const res = await rawCall(session, "/etcdserverpb.KV/Put", [putFrame("huge-raw", big)]).catch(
      (err: Error) => err,
    );
    if (!(res instanceof Error)) assert.equal(res.code, grpc.status.RESOURCE_EXHAUSTED, res.message);
    else assert.fail(`raw oversized call failed at the HTTP/2 level: ${res.message}`);
    await rawPut(session, "after-huge-raw");
  });

  test("malformed protobuf: INTERNAL, and the same client's next call works", async () => {
    await rejectsWith(
      unaryBytes(
        client,
        "/etcdserverpb.KV/Put",
        Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f]),
        "etcdserverpb.PutResponse",
      ).result,
      grpc.status.INTERNAL,
    );
    await assertEcho(put(client, "after-malformed"), "after-malformed", "v");
    // A wrong wire type for a known field.
    await rejectsWith(
      unaryBytes(client, "/etcdserverpb.KV/Put", Buffer.from([0x0f, 0x01]), "etcdserverpb.PutResponse")
        .result,
      grpc.status.INTERNAL,
    );
    await assertEcho(put(client, "after-malformed-2"), "after-malformed-2", "v");
  });

  test("unary framing errors: no message, two messages, a truncated message, a wrong content-type", async () => {
    const session = await rawSession(fx.port);
    const empty = grpcFrame(new Uint8Array(0));
    for (const [what, body] of [
      ["no request message", Buffer.alloc(0)],
      ["two request messages", Buffer.concat([putFrame("one"), putFrame("two")])],
      ["a message cut short by END_STREAM", Buffer.from([0, 0, 0, 0, 10, 1, 2])],
      ["a prefix cut short by END_STREAM", Buffer.from([0, 0, 0])],
    ] as const) {
      const res = await rawCall(session, "/etcdserverpb.KV/Put", [body]);
      assert.notEqual(res.code, grpc.status.OK, `${what} is not OK`);
      assert.equal(res.messages.length, 0, `${what}: no response message`);
    }
    // Not gRPC: HTTP 415 (the gRPC spec's answer), not a gRPC status.
    const stream = session.request({
      ":method": "POST",
      ":path": "/etcdserverpb.KV/Put",
      "content-type": "application/json",
    });
    stream.on("error", () => {});
    stream.resume();
    stream.end(empty);
    const headers = await within(
      new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once("response", resolve)),
      5000,
      "response to a non-gRPC content-type",
    );
    assert.equal(headers[":status"], 415);
    await rawPut(session, "after-framing-errors");
  });

  test("200 concurrent unary calls on one connection are all answered, each with its own reply", async () => {
    const one = newClient(fx.port);
    const calls = Array.from({ length: 200 }, (_, i) =>
      assertEcho(put(one, `slow-${i}`, `value-${i}`), `slow-${i}`, `value-${i}`),
    );
    await within(Promise.all(calls), 20_000, "200 grpc-js calls");

    const session = await rawSession(fx.port);
    const raws = Array.from({ length: 200 }, (_, i) => rawPut(session, `slow-raw-${i}`, `value-${i}`));
    await within(Promise.all(raws), 20_000, "200 raw streams");
  });

  test("metadata: custom lower-case keys, -bin values and a 20 KiB value reach ctx.metadata", async () => {
    const large = "0123456789abcdef".repeat((20 * KIB) / 16);
    const md = new grpc.Metadata();
    md.set("hasleader", "true");
    md.set("x-foo", "bar");
    md.set("x-large", large);
    md.set("x-data-bin", Buffer.from("héllo"));
    seenMetadata = undefined;
    await put(client, "meta", "v", { metadata: md });
    const seen = takeMetadata();
    assert.equal(seen.get("hasleader"), "true");
    assert.equal(seen.get("x-foo"), "bar");
    assert.equal(seen.get("x-large"), large);
    assert.equal(seen.get("x-data-bin"), "héllo");
    for (const key of seen.keys()) {
      assert.equal(key, key.toLowerCase());
      assert.ok(!key.startsWith(":"), `pseudo-header ${key} is not metadata`);
    }

    // Raw: a header block over 16 KiB goes out as HEADERS + CONTINUATION.
    const session = await rawSession(fx.port);
    const res = await rawCall(session, "/etcdserverpb.KV/Put", [putFrame("meta")], {
      headers: { hasleader: "true", "x-foo": "bar", "x-large": large },
    });
    assert.equal(res.code, grpc.status.OK, res.message);
    const rawSeen = takeMetadata();
    assert.equal(rawSeen.get("hasleader"), "true");
    assert.equal(rawSeen.get("x-foo"), "bar");
    assert.equal(rawSeen.get("x-large"), large);
  });

  test("RpcError codes and messages reach the client exactly, percent-encoded on the wire", async () => {
    const messages: Array<[number, string]> = [
      [grpc.status.FAILED_PRECONDITION, "etcdserver: plain ascii message"],
      [grpc.status.INVALID_ARGUMENT, "100% sure: ünïcödé ✓ 漢字 😀 a%20b %"],
      [grpc.status.NOT_FOUND, "two\nlines\tand\r\ncontrols"],
      [grpc.status.UNAVAILABLE, "etcdserver: no leader"],
    ];
    const session = await rawSession(fx.port);
    for (const [code, message] of messages) {
      const thrown = unaryCall(client, "Put", { key: b("throw"), value: b(message), lease: String(code) });
      await rejectsWith(thrown.result, code, message);

      const res = await rawCall(session, "/etcdserverpb.KV/Put", [
        grpcFrame(
          encodePlain("etcdserverpb.PutRequest", { key: b("throw"), value: b(message), lease: String(code) }),
        ),
      ]);
      assert.equal(res.code, code);
      assert.equal(res.message, message);
      assert.match(res.rawMessage, /^[\x20-\x7e]*$/, "grpc-message is printable ASCII");
      assert.equal(res.messages.length, 0);
    }
    // Anything else thrown is INTERNAL with its message.
    await rejectsWith(
      unaryCall(client, "Put", { key: b("throw-plain"), value: b("disk on fire") }).result,
      grpc.status.INTERNAL,
      "disk on fire",
    );
  });

  test("garbage after the HTTP/2 preface closes only that connection", async () => {
    const count = watchProbes.length;
    const bidi = watchStream(client);
    bidi.stream.write(watchReq("before-garbage"));
    await eventually(() => bidi.replies.length === 1, 5000, "bidi reply before garbage");

    for (const garbage of [
      Buffer.alloc(64, 0xff), // a frame header announcing 16 MiB, over the default max frame size
      Buffer.from("\x00\x00\x04\x01\x00\x00\x00\x00\x00hello world, not a settings frame"),
    ]) {
      const socket = net.connect(fx.port, "127.0.0.1");
      socket.on("error", () => {});
      socket.resume();
      const closed = new Promise<void>((resolve) => {
        socket.once("end", () => resolve());
        socket.once("close", () => resolve());
      });
      await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
      socket.write(Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1"), garbage]));
      try {
        await within(closed, 2000, "server closing a connection that sent garbage");
      } finally {
        socket.destroy();
      }
    }

    bidi.stream.write(watchReq("after-garbage"));
    await eventually(() => bidi.replies.length === 2, 5000, "bidi reply after garbage");
    assert.equal(bidi.replies[1]!["cancel_reason"], "after-garbage");
    await assertEcho(put(client, "after-garbage"), "after-garbage", "v");
    bidi.stream.end();
    assert.equal((await within(bidi.status, 5000, "bidi status")).code, grpc.status.OK);
    assert.equal((await nextWatch(count + 1)).inputEnded, true);
  });

  test("client keepalive pings every 100 ms keep an idle connection READY", async () => {
    const pinging = newClient(fx.port, {
      "grpc.keepalive_time_ms": 100,
      "grpc.keepalive_timeout_ms": 1000,
      "grpc.keepalive_permit_without_calls": 1,
    });
    await put(pinging, "ping");
    await sleep(1500); // about 15 pings on an idle connection
    await assertEcho(put(pinging, "ping-2"), "ping-2", "v");
    assert.equal(pinging.getChannel().getConnectivityState(false), grpc.connectivityState.READY);
  });
});

describe("gRPC binding: close()", { timeout: 60_000 }, () => {
  test("close() completes within 2 s with an open bidi stream, and ends that stream", async () => {
    const fx = await startServer();
    const client = newClient(fx.port);
    try {
      const count = watchProbes.length;
      const bidi = watchStream(client);
      bidi.stream.write(watchReq("open"));
      await eventually(() => bidi.replies.length === 1, 5000, "bidi reply");
      const probe = await nextWatch(count + 1);

      const started = Date.now();
      await within(fx.endpoint.close(), 2000, "endpoint close with an open bidi stream");
      assert.ok(Date.now() - started < 2000);

      const s = await within(bidi.status, 2000, "the open stream's status after close");
      assert.notEqual(s.code, grpc.status.OK, "an interrupted stream does not end OK");
      await eventually(
        () => probe.signal.aborted || probe.inputEnded,
        2000,
        "the handler told of the end (signal or input.end)",
      );
    } finally {
      client.close();
      await fx.close();
    }
  });
});
