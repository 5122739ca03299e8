// Minimal gRPC over node:http2 for the side-by-side tests: unary calls and Watch streams on one
// HTTP/2 connection, so a test can see connection-level behaviour (SETTINGS, stream limits) and
// the exact WatchResponse messages, the same way against etcd and Kvorum. Also a raw-frame client
// for behaviour node:http2 hides (it queues requests beyond the peer's stream limit).
import http2 from "node:http2";
import net from "node:net";
import type { PlainMessage } from "../../src/api/handler-types.js";
import { decodePlain, encodePlain } from "../../src/proto/codec.js";

export function grpcMessage(typeName: string, msg: PlainMessage): Buffer {
  const body = encodePlain(typeName, msg);
  const out = Buffer.alloc(5 + body.length);
  out.writeUInt32BE(body.length, 1);
  out.set(body, 5);
  return out;
}

/** Splits length-prefixed gRPC messages off the front of `buf`; returns them and the rest. */
function takeMessages(buf: Buffer): { messages: Buffer[]; rest: Buffer } {
  const messages: Buffer[] = [];
  let pos = 0;
  while (buf.length - pos >= 5) {
    const n = buf.readUInt32BE(pos + 1);
    if (buf.length - pos < 5 + n) break;
    messages.push(buf.subarray(pos + 5, pos + 5 + n));
    pos += 5 + n;
  }
  return { messages, rest: buf.subarray(pos) };
}

function timeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]);
}

export async function connect(endpoint: string): Promise<http2.ClientHttp2Session> {
  const session = http2.connect(endpoint);
  session.on("error", () => {});
  await timeout(
    new Promise<void>((resolve, reject) => {
      session.once("remoteSettings", () => resolve());
      session.once("error", reject);
    }),
    5000,
    "HTTP/2 connection and the server's SETTINGS",
  );
  return session;
}

const REQUEST_HEADERS = (path: string): http2.OutgoingHttpHeaders => ({
  ":method": "POST",
  ":path": path,
  "content-type": "application/grpc",
  te: "trailers",
});

export interface UnaryResult {
  status: string;
  message: string;
  response: PlainMessage | undefined;
}

/** One unary call; resolves when its trailers arrive (no deadline: callers bound the wait). */
export function unaryCall(
  session: http2.ClientHttp2Session,
  path: string,
  requestType: string,
  responseType: string,
  req: PlainMessage,
): Promise<UnaryResult> {
  return new Promise((resolve, reject) => {
    const stream = session.request(REQUEST_HEADERS(path), { endStream: false });
    let body: Buffer = Buffer.alloc(0);
    let status = "";
    let message = "";
    stream.on("response", (headers) => {
      if (headers["grpc-status"] !== undefined) status = String(headers["grpc-status"]);
    });
    stream.on("trailers", (trailers) => {
      status = String(trailers["grpc-status"] ?? "");
      message = String(trailers["grpc-message"] ?? "");
    });
    stream.on("data", (chunk: Buffer) => (body = Buffer.concat([body, chunk])));
    stream.on("error", reject);
    stream.on("close", () => {
      const { messages } = takeMessages(body);
      const first = messages[0];
      resolve({
        status,
        message,
        response: first === undefined ? undefined : decodePlain(responseType, first),
      });
    });
    stream.end(grpcMessage(requestType, req));
  });
}

/** A Watch stream: send requests, and wait for responses matching a predicate. */
export class WatchClient {
  readonly responses: PlainMessage[] = [];
  private rest: Buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  closed = false;

  constructor(readonly stream: http2.ClientHttp2Stream) {
    stream.on("data", (chunk: Buffer) => {
      const { messages, rest } = takeMessages(Buffer.concat([this.rest, chunk]));
      this.rest = rest;
      for (const m of messages) this.responses.push(decodePlain("etcdserverpb.WatchResponse", m));
      this.wake();
    });
    stream.on("error", () => {});
    stream.on("close", () => {
      this.closed = true;
      this.wake();
    });
  }

  static open(session: http2.ClientHttp2Session): WatchClient {
    return new WatchClient(
      session.request(REQUEST_HEADERS("/etcdserverpb.Watch/Watch"), { endStream: false }),
    );
  }

  send(req: PlainMessage): void {
    this.stream.write(grpcMessage("etcdserverpb.WatchRequest", req));
  }

  /** Waits for a response (from index `from` on) that satisfies `pred`; bounded by `ms`. */
  async waitFor(
    pred: (r: PlainMessage) => boolean,
    ms: number,
    what: string,
    from = 0,
  ): Promise<PlainMessage> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.responses.slice(from).find(pred);
      if (found !== undefined) return found;
      const left = deadline - Date.now();
      if (left <= 0 || this.closed) throw new Error(`no watch response: ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Resolves after `ms` with the responses received meanwhile (from index `from`). */
  async quietFor(ms: number, from = 0): Promise<PlainMessage[]> {
    await new Promise((r) => setTimeout(r, ms));
    return this.responses.slice(from);
  }

  /** Cancels the stream (RST_STREAM CANCEL). */
  cancel(): void {
    this.stream.close(http2.constants.NGHTTP2_CANCEL);
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

// ---- raw frames ------------------------------------------------------------------------------

export const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

export interface Frame {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
}

export function frame(
  type: number,
  flags: number,
  stream: number,
  payload: Uint8Array = Buffer.alloc(0),
): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return Buffer.concat([h, payload]);
}

/** HPACK literal fields without indexing (no Huffman): enough for a request's headers. */
export function headerBlock(fields: Array<[string, string]>): Buffer {
  const out: number[] = [];
  const lit = (s: string): void => {
    const b = Buffer.from(s, "latin1");
    if (b.length >= 127) throw new Error("header too long for this encoder");
    out.push(b.length, ...b);
  };
  for (const [name, value] of fields) {
    out.push(0x00);
    lit(name);
    lit(value);
  }
  return Buffer.from(out);
}

/** A client that writes frames as told and records every frame the server sends. */
export class RawH2Client {
  readonly frames: Frame[] = [];
  private rest: Buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: net.Socket) {
    socket.on("data", (chunk: Buffer) => {
      let buf = Buffer.concat([this.rest, chunk]);
      while (buf.length >= 9) {
        const length = buf.readUIntBE(0, 3);
        if (buf.length < 9 + length) break;
        this.frames.push({
          type: buf[3]!,
          flags: buf[4]!,
          stream: buf.readUInt32BE(5) & 0x7fffffff,
          payload: buf.subarray(9, 9 + length),
        });
        buf = buf.subarray(9 + length);
      }
      this.rest = buf;
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on("error", () => {});
  }

  /** Uses an already connected socket (a TLS one, say). */
  static wrap(socket: net.Socket): RawH2Client {
    return new RawH2Client(socket);
  }

  static async connect(endpoint: string): Promise<RawH2Client> {
    const url = new URL(endpoint);
    const socket = net.connect(Number(url.port), url.hostname);
    await timeout(
      new Promise<void>((resolve, reject) => {
        socket.once("connect", resolve);
        socket.once("error", reject);
      }),
      5000,
      "TCP connect",
    );
    return new RawH2Client(socket);
  }

  send(...frames: Buffer[]): void {
    this.socket.write(Buffer.concat(frames));
  }

  async waitFor(pred: (f: Frame) => boolean, ms: number, what: string): Promise<Frame> {
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

/** The settings in a SETTINGS frame, id → value. */
export function settingsOf(f: Frame): Map<number, number> {
  const out = new Map<number, number>();
  for (let i = 0; i + 6 <= f.payload.length; i += 6)
    out.set(f.payload.readUInt16BE(i), f.payload.readUInt32BE(i + 2));
  return out;
}
