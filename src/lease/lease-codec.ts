// The on-disk form of a lease record in the backend's "lease" table.
//   key:   the lease id as an 8-byte big-endian two's-complement int64
//   value: format byte (1), then the granted TTL in seconds as an 8-byte big-endian int64

import type { LeaseId } from "../mvcc/types.js";
import type { LeaseRecord } from "./lease-store.js";

const FORMAT_V1 = 1;
const VALUE_BYTES = 9;

export function encodeLeaseKey(id: LeaseId): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigInt64(0, id);
  return out;
}

export function decodeLeaseKey(key: Uint8Array): LeaseId {
  if (key.byteLength !== 8) throw new Error(`lease table: key of ${key.byteLength} bytes, want 8`);
  return new DataView(key.buffer, key.byteOffset, 8).getBigInt64(0);
}

export function encodeLeaseValue(rec: LeaseRecord): Uint8Array {
  const out = new Uint8Array(VALUE_BYTES);
  const view = new DataView(out.buffer);
  view.setUint8(0, FORMAT_V1);
  view.setBigInt64(1, BigInt(rec.ttl));
  return out;
}

export function decodeLeaseRecord(key: Uint8Array, value: Uint8Array): LeaseRecord {
  const id = decodeLeaseKey(key);
  if (value.byteLength !== VALUE_BYTES || value[0] !== FORMAT_V1) {
    throw new Error(`lease table: lease ${id}: unknown record format (${value.byteLength} bytes)`);
  }
  const ttl = new DataView(value.buffer, value.byteOffset, VALUE_BYTES).getBigInt64(1);
  return { id, ttl: Number(ttl) };
}
