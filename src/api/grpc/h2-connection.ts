// The server side of one HTTP/2 connection (RFC 9113), written for gRPC: frames in and out, HPACK
// header decoding (hpack.js's decoder and table), stream states, and flow control both ways. The
// gRPC layer (server.ts) sees streams with decoded request headers, body bytes and an end, and
// answers with pre-encoded header blocks, data and trailers.
//
// Why not node:http2: every unary call there costs an Http2Stream (a Duplex), nghttp2 callbacks
// into JS, and trailers that wait for a later turn of the event loop; this layer writes a whole
// answer (headers, data, trailers) in the turn that produced it, with every answer of that turn in
// one writev. It also accepts an :authority that nghttp2 refuses (etcdctl sends the endpoint URL,
// "http://host:port", on some calls; grpc-go servers accept it). See docs/adr/0012.
import type { Duplex } from "node:stream";
import hpack from "hpack.js";
import { DEFAULT_MAX_CONCURRENT_STREAMS, streamLimit, type StreamLimit } from "./stream-limit.js";

const FRAME_HEADER = 9;
const PREFACE_LENGTH = 24;

const DATA = 0x0;
const HEADERS = 0x1;
const PRIORITY = 0x2;
const RST_STREAM = 0x3;
const SETTINGS = 0x4;
const PUSH_PROMISE = 0x5;
const PING = 0x6;
const GOAWAY = 0x7;
const WINDOW_UPDATE = 0x8;
const CONTINUATION = 0x9;

const FLAG_END_STREAM = 0x1;
const FLAG_ACK = 0x1;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;

export const H2Error = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
} as const;

const SETTINGS_HEADER_TABLE_SIZE = 0x1;
const SETTINGS_ENABLE_PUSH = 0x2;
const SETTINGS_MAX_CONCURRENT_STREAMS = 0x3;
const SETTINGS_INITIAL_WINDOW_SIZE = 0x4;
const SETTINGS_MAX_FRAME_SIZE = 0x5;
const SETTINGS_MAX_HEADER_LIST_SIZE = 0x6;

const DEFAULT_WINDOW = 65_535;
const MAX_WINDOW = 2 ** 31 - 1;
/** The largest frame payload we accept (advertised) and the peer's default for what we send. */
const MAX_FRAME_PAYLOAD = 16_384;
/** What each stream may send us before a WINDOW_UPDATE: a request of etcd's size limit fits. */
const STREAM_RECV_WINDOW = 4 * 1024 * 1024;
/** The connection's receive window, raised once at the start. */
const CONN_RECV_WINDOW = 64 * 1024 * 1024;
/** grpc-go's default limit on a request's header list. */
const MAX_HEADER_BLOCK = 16 * 1024 * 1024;
/** Above this many bytes in the socket's buffer, data waits (flow control's other half). */
const SOCKET_HIGH_WATER = 1024 * 1024;
/** A stream whose queued answer exceeds this reports back-pressure to its writer. */
const STREAM_HIGH_WATER = 256 * 1024;

/** Decodes header blocks against the connection's dynamic table (hpack.js has no types). */
interface HpackDecoder {
  push(b: Buffer): void;
  isEmpty(): boolean;
  decodeBit(): number;
  decodeInt(): number;
  decodeStr(): number[] | Buffer;
}
interface HpackEntry {
  name: string;
  value: string;
  nameSize: number;
}
interface HpackTable {
  lookup(index: number): HpackEntry;
  add(name: string, value: string, nameSize: number, valueSize: number): void;
  updateSize(size: number): void;
}
const hp = hpack as unknown as {
  decoder: { create(): HpackDecoder };
  table: { create(o: { maxSize: number }): HpackTable };
};

function str(v: number[] | Buffer): string {
  return Buffer.isBuffer(v) ? v.toString("latin1") : Buffer.from(v).toString("latin1");
}

/** Decodes one complete header block into lower-case names → values (repeated names joined by ", "). */
function decodeHeaderBlock(table: HpackTable, block: Buffer): Map<string, string> {
  const d = hp.decoder.create();
  d.push(block);
  const headers = new Map<string, string>();
  const add = (name: string, value: string): void => {
    const prev = headers.get(name);
    headers.set(name, prev === undefined ? value : `${prev}, ${value}`);
  };
  while (!d.isEmpty()) {
    if (d.decodeBit() === 1) {
      const e = table.lookup(d.decodeInt());
      add(e.name, e.value);
      continue;
    }
    const incremental = d.decodeBit() === 1;
    if (!incremental) {
      if (d.decodeBit() === 1) {
        table.updateSize(d.decodeInt());
        continue;
      }
      d.decodeBit(); // never-indexed flag: we index nothing anyway
    }
    const index = d.decodeInt();
    let name: string;
    let nameSize: number;
    if (index === 0) {
      const raw = d.decodeStr();
      nameSize = raw.length;
      name = str(raw);
    } else {
      const e = table.lookup(index);
      name = e.name;
      nameSize = e.nameSize;
    }
    const rawValue = d.decodeStr();
    const value = str(rawValue);
    if (incremental) table.add(name, value, nameSize, rawValue.length);
    add(name, value);
  }
  return headers;
}

// ---- header block encoding: literals without indexing, so we keep no encoder state -------------

function hpackInt(out: number[], value: number, prefixBits: number, flags: number): void {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out.push(flags | value);
    return;
  }
  out.push(flags | max);
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) | 0x80);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
}

/** Indexes of names in HPACK's static table that our answers use. */
const STATIC_NAME: Record<string, number> = { ":status": 8, "content-type": 31 };

/** One header block of literal fields (not Huffman-coded, not indexed): `[name, value]` pairs. */
export function encodeHeaderBlock(fields: ReadonlyArray<readonly [string, string]>): Buffer {
  const out: number[] = [];
  for (const [name, value] of fields) {
    if (name === ":status" && value === "200") {
      out.push(0x88); // indexed: static entry 8 is ":status: 200"
      continue;
    }
    const v = Buffer.from(value, "latin1");
    const idx = STATIC_NAME[name];
    if (idx !== undefined) {
      hpackInt(out, idx, 4, 0x00);
    } else {
      out.push(0x00);
      const n = Buffer.from(name, "latin1");
      hpackInt(out, n.length, 7, 0x00);
      for (const b of n) out.push(b);
    }
    hpackInt(out, v.length, 7, 0x00);
    for (const b of v) out.push(b);
  }
  return Buffer.from(out);
}

function frameHeader(length: number, type: number, flags: number, streamId: number): Buffer {
  const h = Buffer.allocUnsafe(FRAME_HEADER);
  h[0] = (length >>> 16) & 0xff;
  h[1] = (length >>> 8) & 0xff;
  h[2] = length & 0xff;
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId, 5);
  return h;
}

class ConnectionError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** What the gRPC layer is told about a stream. */
export interface StreamListener {
  data(chunk: Buffer): void;
  /** The client half-closed its side. */
  end(): void;
  /** The client reset the stream, or the connection went away. */
  reset(): void;
}

/** One request stream. */
export class H2Stream {
  listener: StreamListener | undefined;
  remoteClosed = false;
  localClosed = false;
  /** Bytes we may still send on this stream (the peer's window). */
  sendWindow: number;
  /** Bytes received since our last WINDOW_UPDATE for this stream. */
  recvUnacked = 0;
  readonly queue: Buffer[] = [];
  queuedBytes = 0;
  /** A header block to send once the queue is empty, ending the stream (trailers). */
  pendingTrailers: Buffer | undefined;
  private drainListeners: Array<() => void> = [];
  headersSent = false;

  constructor(
    readonly conn: H2Connection,
    readonly id: number,
    readonly headers: Map<string, string>,
    sendWindow: number,
  ) {
    this.sendWindow = sendWindow;
  }

  get closed(): boolean {
    return this.localClosed;
  }

  /** Response headers (a block from encodeHeaderBlock); `end` makes it a trailers-only answer. */
  sendHeaders(block: Buffer, end = false): void {
    if (this.localClosed) return;
    this.headersSent = true;
    this.conn.writeHeaders(this.id, block, end);
    if (end) this.conn.closeLocal(this);
  }

  /** Queues body bytes; false when the stream's buffer is past its high-water mark. */
  sendData(bytes: Buffer): boolean {
    if (this.localClosed || this.pendingTrailers !== undefined) return false;
    if (bytes.length > 0) {
      this.queue.push(bytes);
      this.queuedBytes += bytes.length;
      this.conn.pump(this);
    }
    return this.queuedBytes < STREAM_HIGH_WATER;
  }

  /** Ends the stream with a trailer block once every queued byte has gone out. */
  sendTrailers(block: Buffer): void {
    if (this.localClosed || this.pendingTrailers !== undefined) return;
    this.pendingTrailers = block;
    this.conn.pump(this);
  }

  /** Resets the stream (RST_STREAM) and drops what is queued. */
  reset(code: number = H2Error.CANCEL): void {
    if (this.localClosed && this.remoteClosed) return;
    this.conn.resetStream(this, code);
  }

  onDrain(listener: () => void): void {
    this.drainListeners.push(listener);
  }

  /** Called by the connection after it sent some of this stream's queue. */
  drained(): void {
    if (this.queuedBytes >= STREAM_HIGH_WATER || this.drainListeners.length === 0) return;
    const listeners = this.drainListeners;
    this.drainListeners = [];
    for (const l of listeners) l();
  }
}

export interface H2ConnectionOptions {
  /** A new stream with its request headers; set `stream.listener` to receive its body. */
  onStream(stream: H2Stream): void;
  /** Server keep-alive: ping an idle client this often (etcd: 2 h) ... */
  keepaliveIntervalMs: number;
  /** ... and close the connection if the ping is not answered within this (etcd: 20 s). */
  keepaliveTimeoutMs: number;
  /** etcd's --max-concurrent-streams (default math.MaxUint32); see stream-limit.ts. */
  maxConcurrentStreams?: number;
  /** The connection came over TLS (etcd then refuses a stream too many as net/http does). */
  tls?: boolean;
}

export class H2Connection {
  private readonly streams = new Map<number, H2Stream>();
  private lastStreamId = 0;
  private input: Buffer = Buffer.alloc(0);
  private prefaceSeen = false;
  private readonly table: HpackTable = hp.table.create({ maxSize: 4096 });
  /** An open header block (HEADERS without END_HEADERS) waiting for CONTINUATION frames. */
  private continuation: { streamId: number; flags: number; parts: Buffer[]; size: number } | undefined;
  private peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxFrame = MAX_FRAME_PAYLOAD;
  private connSendWindow = DEFAULT_WINDOW;
  private connRecvUnacked = 0;
  /** Streams with queued data or trailers, in the order they asked. */
  private readonly waiting = new Set<H2Stream>();
  private out: Buffer[] = [];
  /** Bytes in `out`. */
  private outBytes = 0;
  private flushScheduled = false;
  private goingAway = false;
  /** A connection error was sent (GOAWAY with an error code). */
  private failed = false;
  private dead = false;
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private readonly closeListeners: Array<() => void> = [];
  private readonly streamLimit: StreamLimit;
  /** The client acknowledged our SETTINGS. */
  private settingsAcked = false;

  constructor(
    private readonly socket: Duplex,
    head: Buffer,
    private readonly opts: H2ConnectionOptions,
  ) {
    // Our SETTINGS (no server push; a stream window that holds a whole request) and a large
    // connection window: the server preface.
    this.streamLimit = streamLimit(
      opts.maxConcurrentStreams ?? DEFAULT_MAX_CONCURRENT_STREAMS,
      opts.tls ?? false,
    );
    const advertised = this.streamLimit.advertised;
    const settings = Buffer.alloc(advertised === undefined ? 18 : 24);
    settings.writeUInt16BE(SETTINGS_ENABLE_PUSH, 0);
    settings.writeUInt32BE(0, 2);
    settings.writeUInt16BE(SETTINGS_INITIAL_WINDOW_SIZE, 6);
    settings.writeUInt32BE(STREAM_RECV_WINDOW, 8);
    settings.writeUInt16BE(SETTINGS_MAX_HEADER_LIST_SIZE, 12);
    settings.writeUInt32BE(MAX_HEADER_BLOCK, 14);
    if (advertised !== undefined) {
      settings.writeUInt16BE(SETTINGS_MAX_CONCURRENT_STREAMS, 18);
      settings.writeUInt32BE(advertised, 20);
    }
    this.queueFrame(SETTINGS, 0, 0, settings);
    this.queueWindowUpdate(0, CONN_RECV_WINDOW - DEFAULT_WINDOW);
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    socket.on("drain", () => this.pumpAll());
    socket.on("error", () => this.destroy());
    socket.on("close", () => this.destroy());
    socket.on("end", () => this.destroy());
    this.armKeepalive();
    if (head.length > 0) this.receive(head);
  }

  get streamCount(): number {
    return this.streams.size;
  }

  onClose(listener: () => void): void {
    if (this.dead) listener();
    else this.closeListeners.push(listener);
  }

  /** Refuses new streams (GOAWAY with NO_ERROR); streams already open may finish. */
  goAway(): void {
    if (this.goingAway || this.dead) return;
    this.goingAway = true;
    this.sendGoAway(H2Error.NO_ERROR, "");
    if (this.streams.size === 0) this.endSocket();
  }

  destroy(): void {
    if (this.dead) return;
    this.dead = true;
    clearTimeout(this.keepaliveTimer);
    clearTimeout(this.pingTimer);
    const open = [...this.streams.values()];
    this.streams.clear();
    this.waiting.clear();
    for (const s of open) {
      s.localClosed = true;
      s.remoteClosed = true;
      s.listener?.reset();
    }
    this.socket.destroy();
    for (const l of this.closeListeners.splice(0)) l();
  }

  // ---- input --------------------------------------------------------------------------------------

  private receive(chunk: Buffer): void {
    // After a connection error nothing more is read: the GOAWAY is out and the socket is closing.
    if (this.dead || this.failed) return;
    this.input = this.input.length === 0 ? chunk : Buffer.concat([this.input, chunk]);
    this.armKeepalive();
    try {
      let pos = 0;
      const buf = this.input;
      if (!this.prefaceSeen) {
        if (buf.length < PREFACE_LENGTH) return;
        // The listener routed this connection here on seeing the preface.
        pos = PREFACE_LENGTH;
        this.prefaceSeen = true;
      }
      while (buf.length - pos >= FRAME_HEADER) {
        const length = (buf[pos]! << 16) | (buf[pos + 1]! << 8) | buf[pos + 2]!;
        if (length > MAX_FRAME_PAYLOAD) {
          throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, "frame larger than SETTINGS_MAX_FRAME_SIZE");
        }
        if (buf.length - pos < FRAME_HEADER + length) break;
        const type = buf[pos + 3]!;
        const flags = buf[pos + 4]!;
        const streamId = buf.readUInt32BE(pos + 5) & 0x7fffffff;
        const payload = buf.subarray(pos + FRAME_HEADER, pos + FRAME_HEADER + length);
        pos += FRAME_HEADER + length;
        this.frame(type, flags, streamId, payload);
        if (this.dead) return;
      }
      this.input = pos === buf.length ? Buffer.alloc(0) : buf.subarray(pos);
    } catch (err) {
      const code = err instanceof ConnectionError ? err.code : H2Error.COMPRESSION_ERROR;
      this.fail(code, err instanceof Error ? err.message : String(err));
    }
    this.scheduleFlush();
  }

  private frame(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (this.continuation !== undefined && type !== CONTINUATION) {
      throw new ConnectionError(H2Error.PROTOCOL_ERROR, "expected a CONTINUATION frame");
    }
    switch (type) {
      case DATA:
        return this.onData(flags, streamId, payload);
      case HEADERS:
        return this.onHeaders(flags, streamId, payload);
      case CONTINUATION:
        return this.onContinuation(flags, streamId, payload);
      case PRIORITY:
        return;
      case RST_STREAM:
        return this.onReset(streamId, payload);
      case SETTINGS:
        return this.onSettings(flags, streamId, payload);
      case PUSH_PROMISE:
        throw new ConnectionError(H2Error.PROTOCOL_ERROR, "PUSH_PROMISE from a client");
      case PING:
        return this.onPing(flags, streamId, payload);
      case GOAWAY:
        this.goingAway = true;
        return;
      case WINDOW_UPDATE:
        return this.onWindowUpdate(streamId, payload);
      default:
        return; // unknown frame types are ignored
    }
  }

  /** Strips padding (PADDED flag) from a DATA or HEADERS payload. */
  private unpad(flags: number, payload: Buffer): Buffer {
    if ((flags & FLAG_PADDED) === 0) return payload;
    if (payload.length < 1) throw new ConnectionError(H2Error.PROTOCOL_ERROR, "padded frame too short");
    const pad = payload[0]!;
    if (pad >= payload.length) throw new ConnectionError(H2Error.PROTOCOL_ERROR, "padding too long");
    return payload.subarray(1, payload.length - pad);
  }

  private onData(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, "DATA on stream 0");
    // Every DATA byte counts against the connection window, whatever happens to the stream.
    this.connRecvUnacked += payload.length;
    if (this.connRecvUnacked >= CONN_RECV_WINDOW / 2) {
      this.queueWindowUpdate(0, this.connRecvUnacked);
      this.connRecvUnacked = 0;
    }
    const stream = this.streams.get(streamId);
    if (stream === undefined || stream.remoteClosed) {
      if (streamId > this.lastStreamId) {
        throw new ConnectionError(H2Error.PROTOCOL_ERROR, "DATA on an idle stream");
      }
      return; // a stream we closed or reset: drop
    }
    const body = this.unpad(flags, payload);
    const end = (flags & FLAG_END_STREAM) !== 0;
    if (!end) {
      stream.recvUnacked += payload.length;
      if (stream.recvUnacked >= STREAM_RECV_WINDOW / 2) {
        this.queueWindowUpdate(stream.id, stream.recvUnacked);
        stream.recvUnacked = 0;
      }
    }
    if (body.length > 0) stream.listener?.data(body);
    if (end) this.closeRemote(stream);
  }

  private onHeaders(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, "HEADERS on stream 0");
    let fragment = this.unpad(flags, payload);
    if ((flags & FLAG_PRIORITY) !== 0) {
      if (fragment.length < 5) throw new ConnectionError(H2Error.PROTOCOL_ERROR, "HEADERS too short");
      fragment = fragment.subarray(5);
    }
    if ((flags & FLAG_END_HEADERS) !== 0) {
      this.headerBlock(streamId, flags, fragment);
      return;
    }
    this.continuation = { streamId, flags, parts: [Buffer.from(fragment)], size: fragment.length };
  }

  private onContinuation(flags: number, streamId: number, payload: Buffer): void {
    const c = this.continuation;
    if (c === undefined || c.streamId !== streamId) {
      throw new ConnectionError(H2Error.PROTOCOL_ERROR, "unexpected CONTINUATION frame");
    }
    c.parts.push(Buffer.from(payload));
    c.size += payload.length;
    if (c.size > MAX_HEADER_BLOCK) {
      throw new ConnectionError(H2Error.PROTOCOL_ERROR, "header block larger than allowed");
    }
    if ((flags & FLAG_END_HEADERS) === 0) return;
    this.continuation = undefined;
    this.headerBlock(streamId, c.flags, Buffer.concat(c.parts));
  }

  private headerBlock(streamId: number, flags: number, block: Buffer): void {
    // Decoded even for streams we refuse: the dynamic table must stay in step with the client's.
    let headers: Map<string, string>;
    try {
      headers = decodeHeaderBlock(this.table, block);
    } catch (err) {
      throw new ConnectionError(H2Error.COMPRESSION_ERROR, `bad header block: ${(err as Error).message}`);
    }
    const end = (flags & FLAG_END_STREAM) !== 0;
    const existing = this.streams.get(streamId);
    if (existing !== undefined) {
      // Trailers from the client (gRPC clients send none): only an end of stream matters.
      if (end && !existing.remoteClosed) this.closeRemote(existing);
      return;
    }
    if (streamId <= this.lastStreamId || streamId % 2 === 0) {
      if (streamId % 2 === 0)
        throw new ConnectionError(H2Error.PROTOCOL_ERROR, "even stream id from a client");
      return; // HEADERS on a stream we already closed
    }
    this.lastStreamId = streamId;
    if (this.goingAway) {
      this.queueFrame(RST_STREAM, 0, streamId, u32(H2Error.REFUSED_STREAM));
      return;
    }
    if (this.streams.size >= this.streamLimit.limit) {
      // One stream over SETTINGS_MAX_CONCURRENT_STREAMS: refused alone, as etcd's servers do.
      this.queueFrame(RST_STREAM, 0, streamId, u32(this.streamLimit.refuseCode(this.settingsAcked)));
      return;
    }
    const stream = new H2Stream(this, streamId, headers, this.peerInitialWindow);
    this.streams.set(streamId, stream);
    this.opts.onStream(stream);
    if (end && !stream.remoteClosed) this.closeRemote(stream);
  }

  private onReset(streamId: number, payload: Buffer): void {
    if (streamId === 0 || payload.length !== 4) {
      throw new ConnectionError(H2Error.PROTOCOL_ERROR, "bad RST_STREAM frame");
    }
    const stream = this.streams.get(streamId);
    if (stream === undefined) return;
    this.forget(stream);
    stream.localClosed = true;
    stream.remoteClosed = true;
    stream.listener?.reset();
  }

  private onSettings(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, "SETTINGS on a stream");
    if ((flags & FLAG_ACK) !== 0) {
      this.settingsAcked = true;
      return;
    }
    if (payload.length % 6 !== 0) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, "bad SETTINGS length");
    for (let i = 0; i < payload.length; i += 6) {
      const id = payload.readUInt16BE(i);
      const value = payload.readUInt32BE(i + 2);
      if (id === SETTINGS_INITIAL_WINDOW_SIZE) {
        if (value > MAX_WINDOW) throw new ConnectionError(H2Error.FLOW_CONTROL_ERROR, "window too large");
        const delta = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        for (const s of this.streams.values()) s.sendWindow += delta;
      } else if (id === SETTINGS_MAX_FRAME_SIZE) {
        if (value < 16_384 || value > 16_777_215) {
          throw new ConnectionError(H2Error.PROTOCOL_ERROR, "bad SETTINGS_MAX_FRAME_SIZE");
        }
        this.peerMaxFrame = value;
      } else if (id === SETTINGS_ENABLE_PUSH && value > 1) {
        throw new ConnectionError(H2Error.PROTOCOL_ERROR, "bad SETTINGS_ENABLE_PUSH");
      } else if (id === SETTINGS_HEADER_TABLE_SIZE) {
        // Our encoder never adds to the table, so any size the client allows is fine.
      }
    }
    this.queueFrame(SETTINGS, FLAG_ACK, 0, Buffer.alloc(0));
    this.pumpAll();
  }

  private onPing(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0 || payload.length !== 8) throw new ConnectionError(H2Error.PROTOCOL_ERROR, "bad PING");
    if ((flags & FLAG_ACK) !== 0) {
      clearTimeout(this.pingTimer);
      this.pingTimer = undefined;
      return;
    }
    this.queueFrame(PING, FLAG_ACK, 0, Buffer.from(payload));
  }

  private onWindowUpdate(streamId: number, payload: Buffer): void {
    if (payload.length !== 4) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, "bad WINDOW_UPDATE");
    const inc = payload.readUInt32BE(0) & 0x7fffffff;
    if (streamId === 0) {
      if (inc === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, "WINDOW_UPDATE of 0");
      this.connSendWindow += inc;
      if (this.connSendWindow > MAX_WINDOW) {
        throw new ConnectionError(H2Error.FLOW_CONTROL_ERROR, "connection window overflow");
      }
      this.pumpAll();
      return;
    }
    const stream = this.streams.get(streamId);
    if (stream === undefined) return;
    if (inc === 0 || stream.sendWindow + inc > MAX_WINDOW) {
      this.resetStream(stream, inc === 0 ? H2Error.PROTOCOL_ERROR : H2Error.FLOW_CONTROL_ERROR);
      stream.listener?.reset();
      return;
    }
    stream.sendWindow += inc;
    this.pump(stream);
  }

  private closeRemote(stream: H2Stream): void {
    stream.remoteClosed = true;
    if (stream.localClosed) this.forget(stream);
    stream.listener?.end();
  }

  private forget(stream: H2Stream): void {
    this.streams.delete(stream.id);
    this.waiting.delete(stream);
    if (this.goingAway && this.streams.size === 0) this.endSocket();
  }

  // ---- output -------------------------------------------------------------------------------------

  writeHeaders(streamId: number, block: Buffer, end: boolean): void {
    let flags = end ? FLAG_END_STREAM : 0;
    if (block.length <= this.peerMaxFrame) {
      this.queueFrame(HEADERS, flags | FLAG_END_HEADERS, streamId, block);
      return;
    }
    for (let off = 0; off < block.length; off += this.peerMaxFrame) {
      const part = block.subarray(off, off + this.peerMaxFrame);
      const last = off + this.peerMaxFrame >= block.length;
      this.queueFrame(
        off === 0 ? HEADERS : CONTINUATION,
        flags | (last ? FLAG_END_HEADERS : 0),
        streamId,
        part,
      );
      flags = 0;
    }
  }

  /** Our side of the stream is done (trailers sent); a stream the client still writes to is reset. */
  closeLocal(stream: H2Stream): void {
    stream.localClosed = true;
    this.waiting.delete(stream);
    if (!stream.remoteClosed) {
      // The answer is complete: tell the client to stop sending (RFC 9113 §8.1).
      this.queueFrame(RST_STREAM, 0, stream.id, u32(H2Error.NO_ERROR));
      stream.remoteClosed = true;
    }
    this.forget(stream);
  }

  resetStream(stream: H2Stream, code: number): void {
    if (!this.dead) this.queueFrame(RST_STREAM, 0, stream.id, u32(code));
    stream.localClosed = true;
    stream.remoteClosed = true;
    stream.queue.length = 0;
    stream.queuedBytes = 0;
    this.forget(stream);
    this.scheduleFlush();
  }

  /** Sends what flow control allows of the stream's queue, then its trailers once the queue is empty. */
  pump(stream: H2Stream): void {
    if (this.dead || stream.localClosed) return;
    while (stream.queue.length > 0) {
      const allowed = Math.min(stream.sendWindow, this.connSendWindow, this.peerMaxFrame);
      if (allowed <= 0 || this.congested()) {
        this.waiting.add(stream);
        this.scheduleFlush();
        return;
      }
      const head = stream.queue[0]!;
      const n = Math.min(allowed, head.length);
      const part = n === head.length ? head : head.subarray(0, n);
      if (n === head.length) stream.queue.shift();
      else stream.queue[0] = head.subarray(n);
      stream.queuedBytes -= n;
      stream.sendWindow -= n;
      this.connSendWindow -= n;
      this.queueFrame(DATA, 0, stream.id, part);
    }
    this.waiting.delete(stream);
    if (stream.pendingTrailers !== undefined) {
      const block = stream.pendingTrailers;
      stream.pendingTrailers = undefined;
      this.writeHeaders(stream.id, block, true);
      this.closeLocal(stream);
    }
    this.scheduleFlush();
    stream.drained();
  }

  private pumpAll(): void {
    for (const s of [...this.waiting]) {
      if (this.congested() || this.connSendWindow <= 0) return;
      this.pump(s);
    }
  }

  private congested(): boolean {
    return this.socket.writableLength + this.outBytes > SOCKET_HIGH_WATER;
  }

  private queueFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (this.dead) return;
    this.out.push(frameHeader(payload.length, type, flags, streamId));
    if (payload.length > 0) this.out.push(payload);
    this.outBytes += FRAME_HEADER + payload.length;
    this.scheduleFlush();
  }

  private queueWindowUpdate(streamId: number, inc: number): void {
    this.queueFrame(WINDOW_UPDATE, 0, streamId, u32(inc));
  }

  /** Frames queued in this turn go out together after the turn's callbacks and promise jobs. */
  private scheduleFlush(): void {
    if (this.flushScheduled || this.dead) return;
    this.flushScheduled = true;
    process.nextTick(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.dead || this.out.length === 0) return;
    const out = this.out;
    this.out = [];
    this.outBytes = 0;
    if (out.length === 1) {
      this.socket.write(out[0]);
      return;
    }
    // Small frames are copied into one buffer; large payloads go as they are (one writev).
    this.socket.cork();
    let small: Buffer[] = [];
    let smallBytes = 0;
    for (const b of out) {
      if (b.length < 4096) {
        small.push(b);
        smallBytes += b.length;
        continue;
      }
      if (small.length > 0) this.socket.write(Buffer.concat(small, smallBytes));
      small = [];
      smallBytes = 0;
      this.socket.write(b);
    }
    if (small.length > 0) this.socket.write(small.length === 1 ? small[0] : Buffer.concat(small, smallBytes));
    this.socket.uncork();
  }

  private sendGoAway(code: number, debug: string): void {
    const payload = Buffer.alloc(8 + Buffer.byteLength(debug));
    payload.writeUInt32BE(this.lastStreamId, 0);
    payload.writeUInt32BE(code, 4);
    payload.write(debug, 8);
    this.queueFrame(GOAWAY, 0, 0, payload);
  }

  private fail(code: number, message: string): void {
    if (this.dead || this.failed) return;
    this.failed = true;
    this.sendGoAway(code, message);
    this.flush();
    this.endSocket();
  }

  private endSocket(): void {
    if (this.dead) return;
    this.flush();
    this.socket.end();
    // A client that never closes its side is cut after a moment.
    setTimeout(() => this.destroy(), 1000).unref();
  }

  /** Server keep-alive: after an idle interval, ping; no answer within the timeout closes. */
  private armKeepalive(): void {
    if (this.dead) return;
    clearTimeout(this.pingTimer);
    this.pingTimer = undefined;
    if (this.keepaliveTimer !== undefined) {
      this.keepaliveTimer.refresh();
      return;
    }
    this.keepaliveTimer = setTimeout(() => {
      this.keepaliveTimer = undefined;
      if (this.dead) return;
      this.queueFrame(PING, 0, 0, Buffer.alloc(8));
      this.pingTimer = setTimeout(() => this.destroy(), this.opts.keepaliveTimeoutMs).unref();
    }, this.opts.keepaliveIntervalMs).unref();
  }
}

function u32(v: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(v >>> 0, 0);
  return b;
}
