// etcdctl 3.4 dials some per-endpoint calls (endpoint status, defrag, hashkv, snapshot save) with
// the endpoint URL itself as the gRPC authority, so a request arrives with
// `:authority: http://127.0.0.1:2379`. grpc-go servers (etcd) accept that; Node's HTTP/2 parser
// (nghttp2) resets the stream with PROTOCOL_ERROR, because '/' is not allowed in an authority.
//
// This module repairs such header blocks before Node reads them: every '/' in an :authority value
// becomes '-'. The value keeps its length, so the HPACK dynamic table (whose entry sizes count
// decoded lengths) stays identical on the client's and the server's side, and nothing else in the
// connection changes: other header fields are copied byte for byte, other frames pass untouched.
// Assumption (true of grpc-go's and Node's encoders): a literal whose name is indexed names
// :authority through the static table (index 1), not through a dynamic entry.
import { Duplex } from "node:stream";
import hpack from "hpack.js";

const PREFACE_LENGTH = 24;
const FRAME_HEADER = 9;
const TYPE_HEADERS = 0x1;
const TYPE_CONTINUATION = 0x9;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;
/** Node's SETTINGS_MAX_FRAME_SIZE (the HTTP/2 default); rewritten blocks are split to fit it. */
const MAX_FRAME_PAYLOAD = 16384;
const STATIC_AUTHORITY_INDEX = 1;
const SLASH = 0x2f;
const DASH = 0x2d;

class Cursor {
  constructor(
    readonly bytes: Buffer,
    public pos: number,
  ) {}

  /** An HPACK integer with an N-bit prefix (RFC 7541 §5.1). */
  int(prefixBits: number): number {
    const max = (1 << prefixBits) - 1;
    let value = this.byte() & max;
    if (value < max) return value;
    let factor = 1;
    for (;;) {
      const b = this.byte();
      value += (b & 0x7f) * factor;
      factor *= 128;
      if ((b & 0x80) === 0) return value;
      if (factor > 2 ** 35) throw new Error("HPACK integer too large");
    }
  }

  byte(): number {
    if (this.pos >= this.bytes.length) throw new Error("truncated HPACK block");
    return this.bytes[this.pos++]!;
  }

  /** Skips a string literal; returns where it starts. */
  skipString(): number {
    const start = this.pos;
    const length = this.int(7);
    this.pos += length;
    if (this.pos > this.bytes.length) throw new Error("truncated HPACK string");
    return start;
  }
}

/** The decoded bytes of the string literal at `start` (Huffman decoding when flagged). */
function decodeString(block: Buffer, start: number, end: number): Buffer {
  const decoder = hpack.decoder.create();
  decoder.push(block.subarray(start, end));
  const out = decoder.decodeStr();
  return Buffer.isBuffer(out) ? out : Buffer.from(out);
}

function encodeInt(value: number, prefixBits: number, firstByteFlags: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [firstByteFlags | value];
  const out = [firstByteFlags | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) | 0x80);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return out;
}

/**
 * Returns the header block with every ':authority' value that contains '/' repaired, or null when
 * nothing needs to change. Throws on a malformed block (the caller then leaves it alone).
 */
export function repairHeaderBlock(block: Buffer): Buffer | null {
  const c = new Cursor(block, 0);
  const parts: Buffer[] = [];
  let copiedUpTo = 0;
  while (c.pos < block.length) {
    const first = block[c.pos]!;
    if ((first & 0x80) !== 0) {
      c.int(7); // indexed field: the table already holds a repaired value
      continue;
    }
    if ((first & 0xe0) === 0x20) {
      c.int(5); // dynamic table size update
      continue;
    }
    const repStart = c.pos;
    const nameIndex = c.int((first & 0x40) !== 0 ? 6 : 4);
    let isAuthority = nameIndex === STATIC_AUTHORITY_INDEX;
    if (nameIndex === 0) {
      const nameStart = c.skipString();
      isAuthority = decodeString(block, nameStart, c.pos).toString("latin1") === ":authority";
    }
    const valueStart = c.skipString();
    const valueEnd = c.pos;
    if (!isAuthority) continue;
    const value = decodeString(block, valueStart, valueEnd);
    if (!value.includes(SLASH)) continue;
    const repaired = Buffer.from(value.map((b) => (b === SLASH ? DASH : b)));
    parts.push(
      block.subarray(copiedUpTo, repStart),
      block.subarray(repStart, valueStart),
      Buffer.from(encodeInt(repaired.length, 7, 0)), // a plain (not Huffman) literal
      repaired,
    );
    copiedUpTo = valueEnd;
  }
  if (parts.length === 0) return null;
  parts.push(block.subarray(copiedUpTo));
  return Buffer.concat(parts);
}

function frameHeader(length: number, type: number, flags: number, streamId: Buffer): Buffer {
  const h = Buffer.alloc(FRAME_HEADER);
  h.writeUIntBE(length, 0, 3);
  h[3] = type;
  h[4] = flags;
  streamId.copy(h, 5);
  return h;
}

interface ParsedHeaders {
  /** Bytes from the HEADERS frame through its last CONTINUATION frame. */
  end: number;
  flags: number;
  streamId: Buffer;
  priority: Buffer;
  block: Buffer;
}

/** Reads the HEADERS frame at `pos` and its CONTINUATIONs; undefined when not all bytes are there. */
function readHeaders(bytes: Buffer, pos: number): ParsedHeaders | undefined {
  const length = bytes.readUIntBE(pos, 3);
  if (bytes.length < pos + FRAME_HEADER + length) return undefined;
  const flags = bytes[pos + 4]!;
  const streamId = bytes.subarray(pos + 5, pos + FRAME_HEADER);
  let payload = bytes.subarray(pos + FRAME_HEADER, pos + FRAME_HEADER + length);
  if ((flags & FLAG_PADDED) !== 0) payload = payload.subarray(1, payload.length - payload[0]!);
  const priority = (flags & FLAG_PRIORITY) !== 0 ? payload.subarray(0, 5) : Buffer.alloc(0);
  const fragments = [payload.subarray(priority.length)];
  let next = pos + FRAME_HEADER + length;
  let endHeaders = (flags & FLAG_END_HEADERS) !== 0;
  while (!endHeaders) {
    if (bytes.length < next + FRAME_HEADER) return undefined;
    const len = bytes.readUIntBE(next, 3);
    if (bytes.length < next + FRAME_HEADER + len) return undefined;
    if (bytes[next + 3] !== TYPE_CONTINUATION) break; // a protocol error: Node will say so
    fragments.push(bytes.subarray(next + FRAME_HEADER, next + FRAME_HEADER + len));
    endHeaders = (bytes[next + 4]! & FLAG_END_HEADERS) !== 0;
    next += FRAME_HEADER + len;
  }
  return { end: next, flags, streamId, priority, block: Buffer.concat(fragments) };
}

/** HEADERS (+ CONTINUATION) frames carrying `block`, split to fit the frame size. */
function headersFrames(h: ParsedHeaders, block: Buffer): Buffer[] {
  const out: Buffer[] = [];
  const firstRoom = MAX_FRAME_PAYLOAD - h.priority.length;
  const first = block.subarray(0, firstRoom);
  const baseFlags = h.flags & ~(FLAG_PADDED | FLAG_END_HEADERS);
  const single = block.length <= firstRoom;
  out.push(
    frameHeader(
      h.priority.length + first.length,
      TYPE_HEADERS,
      baseFlags | (single ? FLAG_END_HEADERS : 0),
      h.streamId,
    ),
    h.priority,
    first,
  );
  for (let pos = firstRoom; pos < block.length; pos += MAX_FRAME_PAYLOAD) {
    const part = block.subarray(pos, pos + MAX_FRAME_PAYLOAD);
    const last = pos + MAX_FRAME_PAYLOAD >= block.length;
    out.push(frameHeader(part.length, TYPE_CONTINUATION, last ? FLAG_END_HEADERS : 0, h.streamId), part);
  }
  return out;
}

/**
 * Rewrites the client-to-server byte stream of an HTTP/2 connection (starting with the preface),
 * repairing :authority values in every header block. Other bytes pass through unchanged.
 */
export class AuthorityRepairer {
  private pending: Buffer = Buffer.alloc(0);
  private prefaceLeft = PREFACE_LENGTH;

  /** Feeds bytes from the client; returns the bytes to hand to the server. */
  push(chunk: Buffer): Buffer {
    let bytes = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const out: Buffer[] = [];
    if (this.prefaceLeft > 0) {
      const n = Math.min(this.prefaceLeft, bytes.length);
      out.push(bytes.subarray(0, n));
      this.prefaceLeft -= n;
      bytes = bytes.subarray(n);
    }
    let pos = 0;
    while (bytes.length >= pos + FRAME_HEADER) {
      const length = bytes.readUIntBE(pos, 3);
      if (bytes[pos + 3] !== TYPE_HEADERS) {
        if (bytes.length < pos + FRAME_HEADER + length) break;
        out.push(bytes.subarray(pos, pos + FRAME_HEADER + length));
        pos += FRAME_HEADER + length;
        continue;
      }
      const h = readHeaders(bytes, pos);
      if (h === undefined) break;
      let repaired: Buffer | null;
      try {
        repaired = repairHeaderBlock(h.block);
      } catch {
        repaired = null;
      }
      if (repaired === null) out.push(bytes.subarray(pos, h.end));
      else out.push(...headersFrames(h, repaired));
      pos = h.end;
    }
    this.pending = Buffer.from(bytes.subarray(pos));
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }
}

/**
 * A duplex over `socket` whose readable side is the client's bytes after repair (starting with
 * `initial`, the bytes already read while sniffing); writes go to the socket unchanged.
 */
export function repairingConnection(socket: Duplex, initial: Buffer): Duplex {
  const repairer = new AuthorityRepairer();
  const wrapped = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      socket.write(chunk, callback);
    },
    // HTTP/2 hands over a response's frames (headers, data, trailers) as one corked batch: pass
    // it on as one batch too, so it leaves in one system call instead of one per frame.
    writev(chunks: Array<{ chunk: Buffer }>, callback) {
      socket.cork();
      for (let i = 0; i < chunks.length - 1; i++) socket.write(chunks[i]!.chunk);
      socket.write(chunks[chunks.length - 1]!.chunk, callback);
      socket.uncork();
    },
    final(callback) {
      socket.end();
      callback();
    },
    destroy(err, callback) {
      socket.destroy(err ?? undefined);
      callback(err);
    },
  });
  const deliver = (chunk: Buffer): void => {
    const out = repairer.push(chunk);
    if (out.length > 0 && !wrapped.push(out)) socket.pause();
  };
  deliver(initial);
  socket.on("data", deliver);
  socket.on("end", () => wrapped.push(null));
  socket.on("close", () => wrapped.destroy());
  socket.on("error", (err) => wrapped.destroy(err));
  return wrapped;
}
