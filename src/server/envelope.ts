// The internal request envelope: what the member proposes through raft for every write. One raft
// entry's data is [kind u8][epoch f64][seq varint][payload]; (epoch, seq) identify the waiting
// caller on the proposing member (epoch = that member incarnation's start time, so sequence
// numbers replayed from an earlier run never match a caller of this run). Payloads are the domain
// requests in a compact binary form: varints for counts and non-negative integers, zigzag varints
// for integers that may be negative, 8-byte two's complement for lease IDs (int64) and member IDs (uint64, same bits),
// and a presence bitmask for optional fields so a decoded request equals the one proposed.
import type {
  Compare,
  CompactionRequest,
  DeleteRangeRequest,
  PutRequest,
  RangeRequest,
  RequestOp,
  TxnRequest,
} from "../mvcc/types.js";

export enum RequestKind {
  Put = 1,
  DeleteRange = 2,
  Txn = 3,
  Compact = 4,
  LeaseGrant = 5,
  LeaseRevoke = 6,
  Alarm = 7,
  /** A member's attributes (name, client URLs), published once it serves (etcd's publish). */
  Publish = 8,
  /** Remaining TTLs of leases recorded by the leader (etcd's LeaseCheckpointRequest). */
  LeaseCheckpoint = 9,
}

export type InternalRequest =
  | { kind: RequestKind.Put; req: PutRequest }
  | { kind: RequestKind.DeleteRange; req: DeleteRangeRequest }
  | { kind: RequestKind.Txn; req: TxnRequest }
  | { kind: RequestKind.Compact; req: CompactionRequest }
  | { kind: RequestKind.LeaseGrant; req: { id: bigint; ttl: number } }
  | { kind: RequestKind.LeaseRevoke; req: { id: bigint } }
  | { kind: RequestKind.Alarm; req: { action: number; memberId: bigint; alarm: number } }
  | { kind: RequestKind.Publish; req: { memberId: bigint; name: string; clientUrls: string[] } }
  | { kind: RequestKind.LeaseCheckpoint; req: { checkpoints: Array<{ id: bigint; remainingTtl: number }> } };

export interface Envelope {
  epoch: number;
  seq: number;
  request: InternalRequest;
}

export class EnvelopeError extends Error {
  constructor(message: string) {
    super(`request envelope: ${message}`);
    this.name = "EnvelopeError";
  }
}

const utf8 = new TextEncoder();
const utf8d = new TextDecoder();

// ---- writing ------------------------------------------------------------------------------------

class Writer {
  private buf: Uint8Array;
  private view: DataView;
  pos = 0;

  constructor(initial = 64) {
    this.buf = new Uint8Array(initial);
    this.view = new DataView(this.buf.buffer);
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void {
    this.room(1);
    this.buf[this.pos++] = v;
  }

  /** Non-negative safe integer, 7 bits per byte (arithmetic, so values above 2^32 work). */
  uvar(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new EnvelopeError(`not a non-negative integer: ${v}`);
    this.room(8);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
  }

  /** Any safe integer, zigzag-encoded (the extremes, whose zigzag exceeds 2^53, via bigint). */
  svar(v: number): void {
    if (!Number.isSafeInteger(v)) throw new EnvelopeError(`not an integer: ${v}`);
    if (v > -(2 ** 51) && v < 2 ** 51) {
      this.uvar(v >= 0 ? v * 2 : -v * 2 - 1);
      return;
    }
    let z = v >= 0 ? BigInt(v) * 2n : -BigInt(v) * 2n - 1n;
    this.room(10);
    while (z >= 0x80n) {
      this.buf[this.pos++] = Number(z & 0x7fn) | 0x80;
      z >>= 7n;
    }
    this.buf[this.pos++] = Number(z);
  }

  f64(v: number): void {
    this.room(8);
    this.view.setFloat64(this.pos, v);
    this.pos += 8;
  }

  i64(v: bigint): void {
    this.room(8);
    this.view.setBigInt64(this.pos, BigInt.asIntN(64, v));
    this.pos += 8;
  }

  bytes(b: Uint8Array): void {
    this.uvar(b.length);
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  finish(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}

// ---- reading ------------------------------------------------------------------------------------

class Reader {
  private pos = 0;
  private readonly view: DataView;

  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new EnvelopeError("truncated");
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++] as number;
  }

  uvar(): number {
    let v = 0;
    let scale = 1;
    for (;;) {
      const b = this.u8();
      v += (b & 0x7f) * scale;
      if (b < 0x80) return v;
      scale *= 0x80;
      if (scale > 2 ** 56) throw new EnvelopeError("varint too long");
    }
  }

  svar(): number {
    let z = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (shift > 63n) throw new EnvelopeError("varint too long");
      const b = this.u8();
      z |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) break;
    }
    const v = (z & 1n) === 0n ? z >> 1n : -((z + 1n) >> 1n);
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new EnvelopeError("integer out of range");
    }
    return Number(v);
  }

  f64(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos);
    this.pos += 8;
    return v;
  }

  i64(): bigint {
    this.need(8);
    const v = this.view.getBigInt64(this.pos);
    this.pos += 8;
    return v;
  }

  /** A copy, so the decoded request does not pin the entry's buffer. */
  bytes(): Uint8Array {
    const n = this.uvar();
    this.need(n);
    const out = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  done(): void {
    if (this.pos !== this.buf.length) throw new EnvelopeError("trailing bytes");
  }
}

// ---- domain requests ----------------------------------------------------------------------------

function writePut(w: Writer, r: PutRequest): void {
  const flags =
    (r.lease !== undefined ? 1 : 0) |
    (r.prevKv !== undefined ? 2 : 0) |
    (r.prevKv === true ? 4 : 0) |
    (r.ignoreValue !== undefined ? 8 : 0) |
    (r.ignoreValue === true ? 16 : 0) |
    (r.ignoreLease !== undefined ? 32 : 0) |
    (r.ignoreLease === true ? 64 : 0);
  w.u8(flags);
  w.bytes(r.key);
  w.bytes(r.value);
  if (r.lease !== undefined) w.i64(r.lease);
}

function readPut(r: Reader): PutRequest {
  const flags = r.u8();
  const req: PutRequest = { key: r.bytes(), value: r.bytes() };
  if (flags & 1) req.lease = r.i64();
  if (flags & 2) req.prevKv = (flags & 4) !== 0;
  if (flags & 8) req.ignoreValue = (flags & 16) !== 0;
  if (flags & 32) req.ignoreLease = (flags & 64) !== 0;
  return req;
}

function writeDelete(w: Writer, r: DeleteRangeRequest): void {
  w.u8((r.rangeEnd !== undefined ? 1 : 0) | (r.prevKv !== undefined ? 2 : 0) | (r.prevKv === true ? 4 : 0));
  w.bytes(r.key);
  if (r.rangeEnd !== undefined) w.bytes(r.rangeEnd);
}

function readDelete(r: Reader): DeleteRangeRequest {
  const flags = r.u8();
  const req: DeleteRangeRequest = { key: r.bytes() };
  if (flags & 1) req.rangeEnd = r.bytes();
  if (flags & 2) req.prevKv = (flags & 4) !== 0;
  return req;
}

const RANGE_NUMBERS = [
  "limit",
  "revision",
  "sortOrder",
  "sortTarget",
  "minModRevision",
  "maxModRevision",
  "minCreateRevision",
  "maxCreateRevision",
] as const;
const RANGE_BOOLS = ["serializable", "keysOnly", "countOnly"] as const;

function writeRange(w: Writer, r: RangeRequest): void {
  // Presence bits: rangeEnd, 8 numbers, then (present, value) pairs for 3 booleans.
  let mask = r.rangeEnd !== undefined ? 1 : 0;
  RANGE_NUMBERS.forEach((f, i) => {
    if (r[f] !== undefined) mask += 2 ** (1 + i);
  });
  RANGE_BOOLS.forEach((f, i) => {
    if (r[f] !== undefined) mask += 2 ** (9 + 2 * i);
    if (r[f] === true) mask += 2 ** (10 + 2 * i);
  });
  w.uvar(mask);
  w.bytes(r.key);
  if (r.rangeEnd !== undefined) w.bytes(r.rangeEnd);
  for (const f of RANGE_NUMBERS) {
    const v = r[f];
    if (v !== undefined) w.svar(v);
  }
}

function readRange(r: Reader): RangeRequest {
  const mask = r.uvar();
  const bit = (i: number) => Math.floor(mask / 2 ** i) % 2 === 1;
  const req: RangeRequest = { key: r.bytes() };
  if (bit(0)) req.rangeEnd = r.bytes();
  // The enum fields (sortOrder, sortTarget) are numbers on the wire like the others.
  const numbers = req as unknown as Record<(typeof RANGE_NUMBERS)[number], number>;
  RANGE_NUMBERS.forEach((f, i) => {
    if (bit(1 + i)) numbers[f] = r.svar();
  });
  RANGE_BOOLS.forEach((f, i) => {
    if (bit(9 + 2 * i)) req[f] = bit(10 + 2 * i);
  });
  return req;
}

function writeCompare(w: Writer, c: Compare): void {
  const flags =
    (c.rangeEnd !== undefined ? 1 : 0) |
    (c.version !== undefined ? 2 : 0) |
    (c.createRevision !== undefined ? 4 : 0) |
    (c.modRevision !== undefined ? 8 : 0) |
    (c.value !== undefined ? 16 : 0) |
    (c.lease !== undefined ? 32 : 0);
  w.u8(flags);
  w.u8(c.result);
  w.u8(c.target);
  w.bytes(c.key);
  if (c.rangeEnd !== undefined) w.bytes(c.rangeEnd);
  if (c.version !== undefined) w.svar(c.version);
  if (c.createRevision !== undefined) w.svar(c.createRevision);
  if (c.modRevision !== undefined) w.svar(c.modRevision);
  if (c.value !== undefined) w.bytes(c.value);
  if (c.lease !== undefined) w.i64(c.lease);
}

function readCompare(r: Reader): Compare {
  const flags = r.u8();
  const c: Compare = { result: r.u8(), target: r.u8(), key: r.bytes() };
  if (flags & 1) c.rangeEnd = r.bytes();
  if (flags & 2) c.version = r.svar();
  if (flags & 4) c.createRevision = r.svar();
  if (flags & 8) c.modRevision = r.svar();
  if (flags & 16) c.value = r.bytes();
  if (flags & 32) c.lease = r.i64();
  return c;
}

const OP_RANGE = 0;
const OP_PUT = 1;
const OP_DELETE = 2;
const OP_TXN = 3;

function writeOps(w: Writer, ops: RequestOp[]): void {
  w.uvar(ops.length);
  for (const op of ops) {
    if ("requestRange" in op) {
      w.u8(OP_RANGE);
      writeRange(w, op.requestRange);
    } else if ("requestPut" in op) {
      w.u8(OP_PUT);
      writePut(w, op.requestPut);
    } else if ("requestDeleteRange" in op) {
      w.u8(OP_DELETE);
      writeDelete(w, op.requestDeleteRange);
    } else {
      w.u8(OP_TXN);
      writeTxn(w, op.requestTxn);
    }
  }
}

function readOps(r: Reader): RequestOp[] {
  const n = r.uvar();
  const ops: RequestOp[] = [];
  for (let i = 0; i < n; i++) {
    const tag = r.u8();
    if (tag === OP_RANGE) ops.push({ requestRange: readRange(r) });
    else if (tag === OP_PUT) ops.push({ requestPut: readPut(r) });
    else if (tag === OP_DELETE) ops.push({ requestDeleteRange: readDelete(r) });
    else if (tag === OP_TXN) ops.push({ requestTxn: readTxn(r) });
    else throw new EnvelopeError(`unknown txn op ${tag}`);
  }
  return ops;
}

function writeTxn(w: Writer, t: TxnRequest): void {
  w.uvar(t.compare.length);
  for (const c of t.compare) writeCompare(w, c);
  writeOps(w, t.success);
  writeOps(w, t.failure);
}

function readTxn(r: Reader): TxnRequest {
  const n = r.uvar();
  const compare: Compare[] = [];
  for (let i = 0; i < n; i++) compare.push(readCompare(r));
  return { compare, success: readOps(r), failure: readOps(r) };
}

// ---- the envelope -------------------------------------------------------------------------------

export function encodeEnvelope(epoch: number, seq: number, request: InternalRequest): Uint8Array {
  const w = new Writer();
  w.u8(request.kind);
  w.f64(epoch);
  w.uvar(seq);
  switch (request.kind) {
    case RequestKind.Put:
      writePut(w, request.req);
      break;
    case RequestKind.DeleteRange:
      writeDelete(w, request.req);
      break;
    case RequestKind.Txn:
      writeTxn(w, request.req);
      break;
    case RequestKind.Compact:
      w.svar(request.req.revision);
      w.u8(request.req.physical === true ? 1 : 0);
      break;
    case RequestKind.LeaseGrant:
      w.i64(request.req.id);
      w.svar(request.req.ttl);
      break;
    case RequestKind.LeaseRevoke:
      w.i64(request.req.id);
      break;
    case RequestKind.Alarm:
      w.u8(request.req.action);
      w.i64(request.req.memberId);
      w.u8(request.req.alarm);
      break;
    case RequestKind.Publish:
      w.i64(request.req.memberId);
      w.bytes(utf8.encode(request.req.name));
      w.uvar(request.req.clientUrls.length);
      for (const url of request.req.clientUrls) w.bytes(utf8.encode(url));
      break;
    case RequestKind.LeaseCheckpoint:
      w.uvar(request.req.checkpoints.length);
      for (const cp of request.req.checkpoints) {
        w.i64(cp.id);
        w.svar(cp.remainingTtl);
      }
      break;
  }
  return w.finish();
}

function readRequest(kind: number, r: Reader): InternalRequest {
  switch (kind) {
    case RequestKind.Put:
      return { kind, req: readPut(r) };
    case RequestKind.DeleteRange:
      return { kind, req: readDelete(r) };
    case RequestKind.Txn:
      return { kind, req: readTxn(r) };
    case RequestKind.Compact:
      return { kind, req: { revision: r.svar(), physical: r.u8() === 1 } };
    case RequestKind.LeaseGrant:
      return { kind, req: { id: r.i64(), ttl: r.svar() } };
    case RequestKind.LeaseRevoke:
      return { kind, req: { id: r.i64() } };
    case RequestKind.Alarm:
      return { kind, req: { action: r.u8(), memberId: BigInt.asUintN(64, r.i64()), alarm: r.u8() } };
    case RequestKind.Publish: {
      const memberId = BigInt.asUintN(64, r.i64());
      const name = utf8d.decode(r.bytes());
      const clientUrls: string[] = [];
      for (let n = r.uvar(); n > 0; n--) clientUrls.push(utf8d.decode(r.bytes()));
      return { kind, req: { memberId, name, clientUrls } };
    }
    case RequestKind.LeaseCheckpoint: {
      const checkpoints: Array<{ id: bigint; remainingTtl: number }> = [];
      for (let n = r.uvar(); n > 0; n--) checkpoints.push({ id: r.i64(), remainingTtl: r.svar() });
      return { kind, req: { checkpoints } };
    }
    default:
      throw new EnvelopeError(`unknown request kind ${kind}`);
  }
}

export function decodeEnvelope(data: Uint8Array): Envelope {
  const r = new Reader(data);
  const kind = r.u8();
  const epoch = r.f64();
  const seq = r.uvar();
  const request = readRequest(kind, r);
  r.done();
  return { epoch, seq, request };
}
