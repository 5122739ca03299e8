// --max-concurrent-streams on our HTTP/2 layer: the value advertised in the server's SETTINGS
// (seen by node:http2 and on the wire), and a stream opened beyond it refused alone with
// RST_STREAM, as etcd's grpc-go transport (plain) and net/http server (TLS) do.
import assert from "node:assert/strict";
import http2 from "node:http2";
import net from "node:net";
import { Duplex } from "node:stream";
import { after, describe, test } from "node:test";
import type { HandlerTable } from "../handler-types.js";
import { HTTP2_PREFACE, listenClientUrl, type ClientListener } from "../listener.js";
import { unary } from "../services/unary.js";
import { encodeHeaderBlock, H2Connection, H2Error } from "./h2-connection.js";
import { createGrpcServer, type GrpcEndpoint } from "./server.js";
import { streamLimit } from "./stream-limit.js";

const SETTINGS = 0x4;
const HEADERS = 0x1;
const RST_STREAM = 0x3;
const SETTINGS_MAX_CONCURRENT_STREAMS = 0x3;

interface Frame {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
}

function frame(type: number, flags: number, stream: number, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return Buffer.concat([h, payload]);
}

/** Splits bytes into whole frames; returns the frames and the unparsed rest. */
function parseFrames(buf: Buffer): { frames: Frame[]; rest: Buffer } {
  const frames: Frame[] = [];
  let pos = 0;
  while (buf.length - pos >= 9) {
    const length = buf.readUIntBE(pos, 3);
    if (buf.length - pos < 9 + length) break;
    frames.push({
      type: buf[pos + 3]!,
      flags: buf[pos + 4]!,
      stream: buf.readUInt32BE(pos + 5) & 0x7fffffff,
      payload: buf.subarray(pos + 9, pos + 9 + length),
    });
    pos += 9 + length;
  }
  return { frames, rest: buf.subarray(pos) };
}

/** The settings of a SETTINGS frame, id → value. */
function settingsOf(f: Frame): Map<number, number> {
  const out = new Map<number, number>();
  for (let i = 0; i + 6 <= f.payload.length; i += 6)
    out.set(f.payload.readUInt16BE(i), f.payload.readUInt32BE(i + 2));
  return out;
}

const requestBlock = (path: string): Buffer =>
  encodeHeaderBlock([
    [":method", "POST"],
    [":scheme", "http"],
    [":path", path],
    [":authority", "127.0.0.1"],
    ["content-type", "application/grpc"],
    ["te", "trailers"],
  ]);
/** HEADERS that open a request stream which stays open (no END_STREAM). */
const openStream = (id: number, path = "/etcdserverpb.KV/Range"): Buffer =>
  frame(HEADERS, 0x4, id, requestBlock(path));

/** A raw client: writes frames, collects what the server sends, waits for a frame to appear. */
class RawClient {
  readonly frames: Frame[] = [];
  private rest: Buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];

  constructor(readonly socket: net.Socket) {
    socket.on("data", (chunk: Buffer) => {
      const parsed = parseFrames(Buffer.concat([this.rest, chunk]));
      this.rest = parsed.rest;
      this.frames.push(...parsed.frames);
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on("error", () => {});
  }

  static async connect(port: number): Promise<RawClient> {
    const socket = net.connect(port, "127.0.0.1");
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    return new RawClient(socket);
  }

  send(...frames: Buffer[]): void {
    this.socket.write(Buffer.concat(frames));
  }

  async waitFor(pred: (f: Frame) => boolean, what: string, ms = 3000): Promise<Frame> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.frames.find(pred);
      if (found !== undefined) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Range calls hang until the test releases them; Put answers at once. */
const hanging: Array<() => void> = [];
function table(): HandlerTable {
  const t: HandlerTable = new Map();
  t.set(
    "/etcdserverpb.KV/Range",
    unary(
      "etcdserverpb.RangeRequest",
      "etcdserverpb.RangeResponse",
      () => new Promise((resolve) => hanging.push(() => resolve({}))),
    ),
  );
  t.set(
    "/etcdserverpb.KV/Put",
    unary("etcdserverpb.PutRequest", "etcdserverpb.PutResponse", () => Promise.resolve({})),
  );
  return t;
}

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function serve(maxConcurrentStreams?: number): Promise<number> {
  const endpoint: GrpcEndpoint = createGrpcServer(table(), { maxRecvBytes: 64 * 1024, maxConcurrentStreams });
  const listener: ClientListener = await listenClientUrl("http://127.0.0.1:0", {
    grpc: endpoint,
    http: (_q, r) => r.end(),
  });
  cleanups.push(
    () => listener.close(),
    () => endpoint.close(),
  );
  return listener.port!;
}

async function serverSettings(port: number): Promise<Map<number, number>> {
  const c = await RawClient.connect(port);
  try {
    c.send(HTTP2_PREFACE, frame(SETTINGS, 0, 0));
    return settingsOf(await c.waitFor((f) => f.type === SETTINGS && (f.flags & 1) === 0, "server SETTINGS"));
  } finally {
    c.close();
  }
}

describe("SETTINGS_MAX_CONCURRENT_STREAMS", () => {
  test("node:http2 sees the configured value in the server's settings", async () => {
    const port = await serve(3);
    const session = http2.connect(`http://127.0.0.1:${port}`);
    cleanups.push(() => void session.destroy());
    session.on("error", () => {});
    await new Promise<void>((resolve, reject) => {
      session.once("remoteSettings", () => resolve());
      session.once("error", reject);
    });
    assert.equal(session.remoteSettings.maxConcurrentStreams, 3);
  });

  test("etcd's default math.MaxUint32 is advertised as 4294967295, as grpc-go does", async () => {
    const port = await serve();
    assert.equal((await serverSettings(port)).get(SETTINGS_MAX_CONCURRENT_STREAMS), 4294967295);
  });

  test("0 leaves the setting out (grpc-go: no limit)", async () => {
    const port = await serve(0);
    const settings = await serverSettings(port);
    assert.equal(settings.has(SETTINGS_MAX_CONCURRENT_STREAMS), false);
    assert.equal(settings.get(0x4), 4 * 1024 * 1024); // the other settings are still there
  });
});

describe("a stream beyond the limit", () => {
  test("is refused with RST_STREAM(REFUSED_STREAM); the open streams are unaffected; a freed slot serves", async () => {
    const port = await serve(3);
    const c = await RawClient.connect(port);
    cleanups.push(() => c.close());
    c.send(HTTP2_PREFACE, frame(SETTINGS, 0, 0));
    await c.waitFor((f) => f.type === SETTINGS && (f.flags & 1) === 1, "SETTINGS ack");
    c.send(frame(SETTINGS, 1, 0)); // acknowledge the server's
    // No request message follows, so these three streams stay open.
    c.send(openStream(1), openStream(3), openStream(5));
    c.send(openStream(7, "/etcdserverpb.KV/Put"));
    const rst = await c.waitFor((f) => f.type === RST_STREAM && f.stream === 7, "RST_STREAM on stream 7");
    assert.equal(rst.payload.readUInt32BE(0), H2Error.REFUSED_STREAM);
    assert.equal(
      c.frames.some((f) => f.type === RST_STREAM && f.stream !== 7),
      false,
      "only the fourth stream is reset",
    );
    assert.equal(
      c.frames.some((f) => f.type === 0x7),
      false,
      "no GOAWAY: the connection stays up",
    );
    // The client cancels stream 1: a slot frees and a new stream is served.
    c.send(frame(RST_STREAM, 0, 1, Buffer.from([0, 0, 0, 8])));
    const put = Buffer.from([0, 0, 0, 0, 0]); // an empty PutRequest message
    c.send(frame(HEADERS, 0x4, 9, requestBlock("/etcdserverpb.KV/Put")), frame(0x0, 0x1, 9, put));
    const answer = await c.waitFor(
      (f) => f.type === HEADERS && f.stream === 9 && (f.flags & 1) === 1,
      "trailers",
    );
    assert.ok(answer);
    assert.equal(
      c.frames.some((f) => f.type === RST_STREAM && f.stream === 9),
      false,
    );
  });
});

/** A socket stand-in that records what the connection writes. */
class FakeSocket extends Duplex {
  readonly written: Buffer[] = [];
  encrypted = true;
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.written.push(chunk);
    cb();
  }
  frames(): Frame[] {
    return parseFrames(Buffer.concat(this.written)).frames;
  }
}

describe("TLS connections (etcd serves them with net/http's HTTP/2 server)", () => {
  const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

  async function tlsConnection(
    max: number,
    ackFirst: boolean,
  ): Promise<{ socket: FakeSocket; codes: number[] }> {
    const socket = new FakeSocket();
    const conn = new H2Connection(socket, Buffer.alloc(0), {
      onStream: () => {},
      keepaliveIntervalMs: 60_000,
      keepaliveTimeoutMs: 60_000,
      maxConcurrentStreams: max,
      tls: true,
    });
    cleanups.push(() => conn.destroy());
    const input = [HTTP2_PREFACE, frame(SETTINGS, 0, 0)];
    if (ackFirst) input.push(frame(SETTINGS, 1, 0));
    input.push(openStream(1), openStream(3));
    socket.push(Buffer.concat(input));
    await tick();
    const codes = socket
      .frames()
      .filter((f) => f.type === RST_STREAM)
      .map((f) => f.payload.readUInt32BE(0));
    return { socket, codes };
  }

  test("PROTOCOL_ERROR once our SETTINGS are acknowledged", async () => {
    assert.deepEqual((await tlsConnection(1, true)).codes, [H2Error.PROTOCOL_ERROR]);
  });

  test("REFUSED_STREAM before the acknowledgement", async () => {
    assert.deepEqual((await tlsConnection(1, false)).codes, [H2Error.REFUSED_STREAM]);
  });

  test("0 advertises and applies net/http's 250", async () => {
    const { socket } = await tlsConnection(0, true);
    const settings = socket.frames().find((f) => f.type === SETTINGS && (f.flags & 1) === 0)!;
    assert.equal(settingsOf(settings).get(SETTINGS_MAX_CONCURRENT_STREAMS), 250);
    assert.deepEqual(streamLimit(0, true).limit, 250);
  });
});
