// etcd 3.4's backend schema inside a bbolt file: bucket names, how keys are built, and the
// protobuf / JSON values etcd stores (mvccpb.KeyValue, leasepb.Lease, etcdserverpb.AlarmMember,
// membership.Member). Protobuf messages are encoded field by field in field-number order with
// proto3 zero values left out, which is what etcd's generated marshalers produce, so the bytes
// are the same as etcd's.

export const BUCKETS = {
  key: "key",
  meta: "meta",
  lease: "lease",
  alarm: "alarm",
  cluster: "cluster",
  members: "members",
  membersRemoved: "members_removed",
  auth: "auth",
  authUsers: "authUsers",
  authRoles: "authRoles",
} as const;

export const META_KEYS = {
  consistentIndex: "consistent_index",
  scheduledCompact: "scheduledCompactRev",
  finishedCompact: "finishedCompactRev",
} as const;

export const CLUSTER_VERSION_KEY = "clusterVersion";
export const AUTH_REVISION_KEY = "authRevision";
/** Value etcd stores under members_removed for each removed member. */
export const REMOVED_VALUE = "removed";

const TOMBSTONE = 0x74; // 't'
const REV_BYTES = 17;

/** A revision as etcd writes it: main (8 bytes BE), '_', sub (8 bytes BE), and 't' for a tombstone. */
export function revisionBytes(main: number, sub: number, tombstone = false): Buffer {
  const out = Buffer.alloc(tombstone ? REV_BYTES + 1 : REV_BYTES);
  out.writeBigUInt64BE(BigInt(main), 0);
  out[8] = 0x5f; // '_'
  out.writeBigUInt64BE(BigInt(sub), 9);
  if (tombstone) out[REV_BYTES] = TOMBSTONE;
  return out;
}

export function parseRevisionBytes(b: Uint8Array): { main: number; sub: number; tombstone: boolean } {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (buf.length < REV_BYTES) throw new Error(`revision of ${buf.length} bytes`);
  return {
    main: Number(buf.readBigUInt64BE(0)),
    sub: Number(buf.readBigUInt64BE(9)),
    tombstone: buf.length === REV_BYTES + 1 && buf[REV_BYTES] === TOMBSTONE,
  };
}

export function u64BE(n: number | bigint): Buffer {
  const out = Buffer.alloc(8);
  out.writeBigUInt64BE(BigInt.asUintN(64, BigInt(n)));
  return out;
}

// ---- protobuf --------------------------------------------------------------------------------

class ProtoWriter {
  private readonly parts: Buffer[] = [];

  varintField(field: number, n: number | bigint): this {
    const v = BigInt.asUintN(64, BigInt(n));
    if (v === 0n) return this;
    this.parts.push(varint(BigInt(field << 3)), varint(v));
    return this;
  }

  bytesField(field: number, b: Uint8Array): this {
    if (b.length === 0) return this;
    this.parts.push(varint(BigInt((field << 3) | 2)), varint(BigInt(b.length)), Buffer.from(b));
    return this;
  }

  finish(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function varint(v: bigint): Buffer {
  const bytes: number[] = [];
  while (v >= 0x80n) {
    bytes.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  bytes.push(Number(v));
  return Buffer.from(bytes);
}

export interface EtcdKeyValue {
  key: Uint8Array;
  createRevision: number;
  modRevision: number;
  version: number;
  value: Uint8Array;
  lease: bigint;
}

/** mvccpb.KeyValue. A tombstone is a KeyValue with only the key set. */
export function encodeKeyValue(kv: EtcdKeyValue): Buffer {
  return new ProtoWriter()
    .bytesField(1, kv.key)
    .varintField(2, kv.createRevision)
    .varintField(3, kv.modRevision)
    .varintField(4, kv.version)
    .bytesField(5, kv.value)
    .varintField(6, kv.lease)
    .finish();
}

/** leasepb.Lease{ID, TTL, RemainingTTL}; RemainingTTL (a persisted lease checkpoint) only when set. */
export function encodeLease(id: bigint, ttl: number, remainingTtl = 0): Buffer {
  return new ProtoWriter().varintField(1, id).varintField(2, ttl).varintField(3, remainingTtl).finish();
}

/** etcdserverpb.AlarmMember{MemberID, Alarm}: etcd's alarm bucket key (the value is empty). */
export function encodeAlarmMember(memberId: bigint, alarm: number): Buffer {
  return new ProtoWriter().varintField(1, memberId).varintField(2, alarm).finish();
}

/** Decodes the varint and length-delimited fields of a protobuf message (others are rejected). */
export function decodeProto(buf: Uint8Array): Map<number, bigint | Buffer> {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const out = new Map<number, bigint | Buffer>();
  let at = 0;
  const readVarint = (): bigint => {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (at >= b.length) throw new Error("protobuf: truncated varint");
      const byte = b[at++]!;
      v |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return v;
    }
  };
  while (at < b.length) {
    const tag = Number(readVarint());
    const field = tag >>> 3;
    if ((tag & 7) === 0) out.set(field, readVarint());
    else if ((tag & 7) === 2) {
      const n = Number(readVarint());
      out.set(field, b.subarray(at, at + n));
      at += n;
    } else throw new Error(`protobuf: unsupported wire type ${tag & 7}`);
  }
  return out;
}

export function decodeKeyValue(buf: Uint8Array): EtcdKeyValue {
  const f = decodeProto(buf);
  const num = (i: number): number => Number(BigInt.asIntN(64, (f.get(i) as bigint | undefined) ?? 0n));
  return {
    key: (f.get(1) as Buffer | undefined) ?? Buffer.alloc(0),
    createRevision: num(2),
    modRevision: num(3),
    version: num(4),
    value: (f.get(5) as Buffer | undefined) ?? Buffer.alloc(0),
    lease: BigInt.asIntN(64, (f.get(6) as bigint | undefined) ?? 0n),
  };
}

// ---- members ---------------------------------------------------------------------------------

export interface EtcdMember {
  id: bigint;
  name: string;
  peerUrls: string[];
  clientUrls: string[];
  isLearner: boolean;
}

/** etcd's members bucket key: the member ID in lower-case hex without padding (types.ID). */
export function memberKey(id: bigint): Buffer {
  return Buffer.from(BigInt.asUintN(64, id).toString(16), "ascii");
}

/** membership.Member as Go's encoding/json writes it (omitempty fields left out when empty). */
export function encodeMember(m: EtcdMember): Buffer {
  let json = `{"id":${BigInt.asUintN(64, m.id).toString()},"peerURLs":${goJson(m.peerUrls)}`;
  if (m.isLearner) json += `,"isLearner":true`;
  if (m.name !== "") json += `,"name":${goJson(m.name)}`;
  if (m.clientUrls.length > 0) json += `,"clientURLs":${goJson(m.clientUrls)}`;
  return Buffer.from(json + "}", "utf8");
}

/** JSON as Go's encoder writes it: HTML-sensitive characters and U+2028/9 escaped. */
function goJson(v: unknown): string {
  return JSON.stringify(v).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
