// Protobuf encoded size of a WatchResponse (rpc.proto / kv.proto field layout) and etcd's
// fragmenting rule: a response larger than the limit is split into several, all but the last
// marked `fragment`, each with at least one event.
import { Buffer } from "node:buffer";
import type { KeyValue, MvccEvent } from "../types.js";
import type { WatchResponse } from "./types.js";

/** etcd's default --max-request-bytes (1.5 MiB). */
export const DEFAULT_MAX_RESPONSE_BYTES = 1.5 * 1024 * 1024;

function varintSize(n: number): number {
  if (n < 0) return 10; // negative int64: always 10 bytes
  let size = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function bigVarintSize(n: bigint): number {
  if (n < 0n) return 10;
  let size = 1;
  while (n >= 128n) {
    n >>= 7n;
    size++;
  }
  return size;
}

/** An int field with a one-byte tag; default (0) is not encoded. */
const intField = (v: number): number => (v === 0 ? 0 : 1 + varintSize(v));
/** A length-delimited field (bytes, string, message) with a one-byte tag. */
const lenField = (len: number): number => 1 + varintSize(len) + len;
const bytesField = (len: number): number => (len === 0 ? 0 : lenField(len));

function keyValueSize(kv: KeyValue): number {
  return (
    bytesField(kv.key.length) +
    intField(kv.createRevision) +
    intField(kv.modRevision) +
    intField(kv.version) +
    bytesField(kv.value.length) +
    (kv.lease === 0n ? 0 : 1 + bigVarintSize(kv.lease))
  );
}

/** Size of one event as a field of WatchResponse (tag and length included). */
export function eventFieldSize(ev: MvccEvent): number {
  const body =
    intField(ev.type) + lenField(keyValueSize(ev.kv)) + (ev.prevKv ? lenField(keyValueSize(ev.prevKv)) : 0);
  return lenField(body);
}

/** Header: revision exactly, plus an upper bound for cluster_id, member_id and raft_term. */
function headerFieldSize(revision: number): number {
  return lenField(intField(revision) + 3 * 11);
}

/** Encoded size of the response without its events. */
function envelopeSize(resp: WatchResponse): number {
  return (
    headerFieldSize(resp.header.revision) +
    intField(resp.watchId) +
    (resp.created ? 2 : 0) +
    (resp.canceled ? 2 : 0) +
    intField(resp.compactRevision) +
    bytesField(Buffer.byteLength(resp.cancelReason)) +
    (resp.fragment ? 2 : 0)
  );
}

export function encodedSize(resp: WatchResponse): number {
  let size = envelopeSize(resp);
  for (const ev of resp.events) size += eventFieldSize(ev);
  return size;
}

/**
 * Splits `resp` when its encoded size is >= maxBytes and it has at least two events (etcd's rule);
 * otherwise returns it alone. Fragments keep event order; only the last has fragment=false.
 */
export function fragmentResponse(resp: WatchResponse, maxBytes: number): WatchResponse[] {
  if (resp.events.length < 2 || encodedSize(resp) < maxBytes) return [resp];
  const envelope = envelopeSize({ ...resp, fragment: true });
  const out: WatchResponse[] = [];
  let current: MvccEvent[] = [];
  let size = envelope;
  for (const ev of resp.events) {
    const evSize = eventFieldSize(ev);
    if (current.length > 0 && size + evSize >= maxBytes) {
      out.push({ ...resp, fragment: true, events: current });
      current = [];
      size = envelope;
    }
    current.push(ev);
    size += evSize;
  }
  out.push({ ...resp, fragment: false, events: current });
  return out;
}
