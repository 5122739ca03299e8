// The on-disk form of a lease record in the backend's "lease" table.
//   key:   the lease id as an 8-byte big-endian two's-complement int64
//   value: format byte, then the granted TTL in seconds as an 8-byte big-endian int64;
//          format 1 ends there; format 2 (a lease with a checkpointed remaining TTL) adds the
//          remaining TTL in seconds as another 8-byte big-endian int64.
// A lease without a checkpoint is still written in format 1, so records stay readable by builds
// that predate lease checkpoints unless checkpointing is used.

import type { LeaseId } from "../mvcc/types.js";
import type { LeaseRecord } from "./lease-store.js";

const FORMAT_V1 = 1;
const FORMAT_V2 = 2;
const V1_BYTES = 9;
const V2_BYTES = 17;

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
  const remaining = rec.remainingTtl ?? 0;
  const out = new Uint8Array(remaining > 0 ? V2_BYTES : V1_BYTES);
  const view = new DataView(out.buffer);
  view.setUint8(0, remaining > 0 ? FORMAT_V2 : FORMAT_V1);
  view.setBigInt64(1, BigInt(rec.ttl));
  if (remaining > 0) view.setBigInt64(9, BigInt(remaining));
  return out;
}

export function decodeLeaseRecord(key: Uint8Array, value: Uint8Array): LeaseRecord {
  const id = decodeLeaseKey(key);
  const known =
    (value[0] === FORMAT_V1 && value.byteLength === V1_BYTES) ||
    (value[0] === FORMAT_V2 && value.byteLength === V2_BYTES);
  if (!known) {
    throw new Error(`lease table: lease ${id}: unknown record format (${value.byteLength} bytes)`);
  }
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const ttl = Number(view.getBigInt64(1));
  if (value[0] === FORMAT_V1) return { id, ttl };
  const remainingTtl = Number(view.getBigInt64(9));
  return remainingTtl > 0 ? { id, ttl, remainingTtl } : { id, ttl };
}
