// Plain protobuf messages (handler-types.ts convention) <-> the domain types of MemberApi
// (src/mvcc/types.ts: camelCase, numbers for revisions, bigint lease IDs). No rules live here.
import type { MemberLogger } from "../common/logger.js";
import type { WatchCreateRequest, WatchFilter, WatchResponse } from "../mvcc/watch/index.js";
import type {
  Compare,
  DeleteRangeRequest,
  DeleteRangeResponse,
  KeyValue,
  MvccEvent,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  RequestOp,
  ResponseHeader,
  ResponseOp,
  TxnRequest,
  TxnResponse,
} from "../mvcc/types.js";
import type { MemberApi } from "../server/member-api.js";
import type { PlainMessage } from "./handler-types.js";

/** What the handler table needs besides the member (etcd's request limits). */
export interface ApiOptions {
  /** --max-txn-ops */
  maxTxnOps: number;
  /** --max-request-bytes */
  maxRequestBytes: number;
  /** --election-timeout: how often streams requiring a leader check for one (default 1000). */
  electionTimeoutMs?: number;
  logger?: MemberLogger;
}

const EMPTY = new Uint8Array(0);

// ---- reading fields of decoded requests ----------------------------------------------------------

/** A bytes field (absent = empty). */
export function bytesField(msg: PlainMessage, field: string): Uint8Array {
  const v = msg[field];
  return v instanceof Uint8Array ? v : EMPTY;
}

/** An int64 field (decimal string by convention; numbers and bigints tolerated). */
export function int64Field(msg: PlainMessage, field: string): bigint {
  const v = msg[field];
  if (typeof v === "bigint") return v;
  if (typeof v === "number") return BigInt(Math.trunc(v));
  if (typeof v === "string" && v !== "") return BigInt(v);
  return 0n;
}

/** An int64 field that fits a JS number (revisions, counts, TTLs); clamped to the safe range. */
export function numberField(msg: PlainMessage, field: string): number {
  const n = int64Field(msg, field);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) return Number.MAX_SAFE_INTEGER;
  if (n < BigInt(Number.MIN_SAFE_INTEGER)) return Number.MIN_SAFE_INTEGER;
  return Number(n);
}

export function boolField(msg: PlainMessage, field: string): boolean {
  return msg[field] === true;
}

/** An int32/enum field. */
export function intField(msg: PlainMessage, field: string): number {
  const v = msg[field];
  return typeof v === "number" ? v : typeof v === "string" ? Number(v) : 0;
}

/** A sub-message field, or undefined when unset. */
export function messageField(msg: PlainMessage, field: string): PlainMessage | undefined {
  const v = msg[field];
  return v !== null && typeof v === "object" && !(v instanceof Uint8Array) ? (v as PlainMessage) : undefined;
}

function listField(msg: PlainMessage, field: string): PlainMessage[] {
  const v = msg[field];
  return Array.isArray(v) ? (v as PlainMessage[]) : [];
}

// ---- responses --------------------------------------------------------------------------------

/** etcdserverpb.ResponseHeader: this member's identity and term, and the response's revision. */
export function plainHeader(member: MemberApi, header: ResponseHeader | { revision: number }): PlainMessage {
  const info = member.header();
  return {
    cluster_id: info.clusterId.toString(),
    member_id: info.memberId.toString(),
    revision: String(header.revision),
    raft_term: String(info.raftTerm),
  };
}

export function plainKeyValue(kv: KeyValue): PlainMessage {
  return {
    key: kv.key,
    create_revision: String(kv.createRevision),
    mod_revision: String(kv.modRevision),
    version: String(kv.version),
    value: kv.value,
    lease: kv.lease.toString(),
  };
}

export function plainEvent(ev: MvccEvent): PlainMessage {
  return {
    type: ev.type,
    kv: plainKeyValue(ev.kv),
    prev_kv: ev.prevKv === undefined ? null : plainKeyValue(ev.prevKv),
  };
}

/** Nested responses inside a Txn carry only the revision in their header, as etcd's do. */
type HeaderFn = (revision: number) => PlainMessage;

function rangeBody(resp: RangeResponse, header: PlainMessage): PlainMessage {
  return { header, kvs: resp.kvs.map(plainKeyValue), more: resp.more, count: String(resp.count) };
}

function putBody(resp: PutResponse, header: PlainMessage): PlainMessage {
  return { header, prev_kv: resp.prevKv === undefined ? null : plainKeyValue(resp.prevKv) };
}

function deleteBody(resp: DeleteRangeResponse, header: PlainMessage): PlainMessage {
  return { header, deleted: String(resp.deleted), prev_kvs: resp.prevKvs.map(plainKeyValue) };
}

function txnBody(resp: TxnResponse, header: PlainMessage, nested: HeaderFn): PlainMessage {
  return {
    header,
    succeeded: resp.succeeded,
    responses: resp.responses.map((op) => plainResponseOp(op, nested)),
  };
}

function plainResponseOp(op: ResponseOp, nested: HeaderFn): PlainMessage {
  if ("responseRange" in op)
    return { response_range: rangeBody(op.responseRange, nested(op.responseRange.header.revision)) };
  if ("responsePut" in op)
    return { response_put: putBody(op.responsePut, nested(op.responsePut.header.revision)) };
  if ("responseDeleteRange" in op) {
    return {
      response_delete_range: deleteBody(
        op.responseDeleteRange,
        nested(op.responseDeleteRange.header.revision),
      ),
    };
  }
  // etcd leaves a nested Txn's header empty.
  return { response_txn: txnBody(op.responseTxn, {}, nested) };
}

const nestedHeader: HeaderFn = (revision) => ({ revision: String(revision) });

export function plainRangeResponse(member: MemberApi, resp: RangeResponse): PlainMessage {
  return rangeBody(resp, plainHeader(member, resp.header));
}

export function plainPutResponse(member: MemberApi, resp: PutResponse): PlainMessage {
  return putBody(resp, plainHeader(member, resp.header));
}

export function plainDeleteRangeResponse(member: MemberApi, resp: DeleteRangeResponse): PlainMessage {
  return deleteBody(resp, plainHeader(member, resp.header));
}

export function plainTxnResponse(member: MemberApi, resp: TxnResponse): PlainMessage {
  return txnBody(resp, plainHeader(member, resp.header), nestedHeader);
}

const FILTER_NAMES: readonly WatchFilter[] = ["NOPUT", "NODELETE"];

export function plainWatchResponse(member: MemberApi, resp: WatchResponse): PlainMessage {
  return {
    header: plainHeader(member, resp.header),
    watch_id: String(resp.watchId),
    created: resp.created,
    canceled: resp.canceled,
    compact_revision: String(resp.compactRevision),
    cancel_reason: resp.cancelReason,
    fragment: resp.fragment,
    events: resp.events.map(plainEvent),
  };
}

// ---- requests ---------------------------------------------------------------------------------

export function rangeRequest(msg: PlainMessage): RangeRequest {
  return {
    key: bytesField(msg, "key"),
    rangeEnd: bytesField(msg, "range_end"),
    limit: numberField(msg, "limit"),
    revision: numberField(msg, "revision"),
    sortOrder: intField(msg, "sort_order"),
    sortTarget: intField(msg, "sort_target"),
    serializable: boolField(msg, "serializable"),
    keysOnly: boolField(msg, "keys_only"),
    countOnly: boolField(msg, "count_only"),
    minModRevision: numberField(msg, "min_mod_revision"),
    maxModRevision: numberField(msg, "max_mod_revision"),
    minCreateRevision: numberField(msg, "min_create_revision"),
    maxCreateRevision: numberField(msg, "max_create_revision"),
  };
}

export function putRequest(msg: PlainMessage): PutRequest {
  return {
    key: bytesField(msg, "key"),
    value: bytesField(msg, "value"),
    lease: int64Field(msg, "lease"),
    prevKv: boolField(msg, "prev_kv"),
    ignoreValue: boolField(msg, "ignore_value"),
    ignoreLease: boolField(msg, "ignore_lease"),
  };
}

export function deleteRangeRequest(msg: PlainMessage): DeleteRangeRequest {
  return {
    key: bytesField(msg, "key"),
    rangeEnd: bytesField(msg, "range_end"),
    prevKv: boolField(msg, "prev_kv"),
  };
}

function compare(msg: PlainMessage): Compare {
  const c: Compare = {
    result: intField(msg, "result"),
    target: intField(msg, "target"),
    key: bytesField(msg, "key"),
    rangeEnd: bytesField(msg, "range_end"),
  };
  // Only the oneof member that is set is carried over; the store compares the one `target` names.
  if (msg["version"] != null) c.version = numberField(msg, "version");
  if (msg["create_revision"] != null) c.createRevision = numberField(msg, "create_revision");
  if (msg["mod_revision"] != null) c.modRevision = numberField(msg, "mod_revision");
  if (msg["value"] != null) c.value = bytesField(msg, "value");
  if (msg["lease"] != null) c.lease = int64Field(msg, "lease");
  return c;
}

/** A RequestOp with no member set becomes an op the rules reject ("etcdserver: key not found"). */
function requestOp(msg: PlainMessage): RequestOp {
  const range = messageField(msg, "request_range");
  if (range !== undefined) return { requestRange: rangeRequest(range) };
  const put = messageField(msg, "request_put");
  if (put !== undefined) return { requestPut: putRequest(put) };
  const del = messageField(msg, "request_delete_range");
  if (del !== undefined) return { requestDeleteRange: deleteRangeRequest(del) };
  const txn = messageField(msg, "request_txn");
  if (txn !== undefined) return { requestTxn: txnRequest(txn) };
  return {} as RequestOp;
}

export function txnRequest(msg: PlainMessage): TxnRequest {
  return {
    compare: listField(msg, "compare").map(compare),
    success: listField(msg, "success").map(requestOp),
    failure: listField(msg, "failure").map(requestOp),
  };
}

export function watchCreateRequest(msg: PlainMessage): WatchCreateRequest {
  const filters = Array.isArray(msg["filters"]) ? (msg["filters"] as number[]) : [];
  return {
    key: bytesField(msg, "key"),
    rangeEnd: bytesField(msg, "range_end"),
    startRevision: numberField(msg, "start_revision"),
    prevKv: boolField(msg, "prev_kv"),
    filters: filters.flatMap((f) => (FILTER_NAMES[f] === undefined ? [] : [FILTER_NAMES[f]])),
    progressNotify: boolField(msg, "progress_notify"),
    fragment: boolField(msg, "fragment"),
    watchId: numberField(msg, "watch_id"),
  };
}

/** Roughly the encoded size of a request: every byte string plus a few bytes per field. */
export function approximateSize(msg: unknown): number {
  if (msg instanceof Uint8Array) return msg.length + 3;
  if (Array.isArray(msg)) return msg.reduce((n: number, item) => n + approximateSize(item), 0);
  if (msg !== null && typeof msg === "object") {
    let n = 2;
    for (const v of Object.values(msg as Record<string, unknown>)) n += approximateSize(v);
    return n;
  }
  return typeof msg === "string" ? msg.length + 1 : 2;
}
