// The data types of Kvorum's MVCC state machine, shaped after etcd v3's kv.proto and rpc.proto
// (field names in camelCase). They are the contract between src/mvcc, src/lease, the watch code,
// and later src/api (which converts protobuf messages to and from these).
//
// Conventions: keys and values are Uint8Array; revisions, versions and counts are JS numbers
// (exact up to 2^53, far beyond any revision a store reaches); lease IDs are bigint because etcd
// lease IDs use all 63 bits.

export type LeaseId = bigint;
/** "No lease". */
export const NO_LEASE: LeaseId = 0n;

export interface KeyValue {
  key: Uint8Array;
  createRevision: number;
  modRevision: number;
  /** 1 on create, +1 per put; a deleted key reads as absent (version 0). */
  version: number;
  value: Uint8Array;
  lease: LeaseId;
}

export enum EventType {
  PUT = 0,
  DELETE = 1,
}

export interface MvccEvent {
  type: EventType;
  /** For DELETE: key, modRevision = the delete's revision, other fields zero. */
  kv: KeyValue;
  /** Filled only when a watcher asked for prev_kv. */
  prevKv?: KeyValue;
}

/** Every response carries the store's revision after the request (for writes: the new one). */
export interface ResponseHeader {
  revision: number;
}

export enum SortOrder {
  NONE = 0,
  ASCEND = 1,
  DESCEND = 2,
}

export enum SortTarget {
  KEY = 0,
  VERSION = 1,
  CREATE = 2,
  MOD = 3,
  VALUE = 4,
}

export interface RangeRequest {
  key: Uint8Array;
  /** Empty: just `key`. [0]: every key >= key. Otherwise [key, rangeEnd). */
  rangeEnd?: Uint8Array;
  limit?: number;
  /** <= 0: latest. */
  revision?: number;
  sortOrder?: SortOrder;
  sortTarget?: SortTarget;
  serializable?: boolean;
  keysOnly?: boolean;
  countOnly?: boolean;
  minModRevision?: number;
  maxModRevision?: number;
  minCreateRevision?: number;
  maxCreateRevision?: number;
}

export interface RangeResponse {
  header: ResponseHeader;
  kvs: KeyValue[];
  more: boolean;
  count: number;
}

export interface PutRequest {
  key: Uint8Array;
  value: Uint8Array;
  lease?: LeaseId;
  prevKv?: boolean;
  ignoreValue?: boolean;
  ignoreLease?: boolean;
}

export interface PutResponse {
  header: ResponseHeader;
  prevKv?: KeyValue;
}

export interface DeleteRangeRequest {
  key: Uint8Array;
  rangeEnd?: Uint8Array;
  prevKv?: boolean;
}

export interface DeleteRangeResponse {
  header: ResponseHeader;
  deleted: number;
  prevKvs: KeyValue[];
}

export enum CompareResult {
  EQUAL = 0,
  GREATER = 1,
  LESS = 2,
  NOT_EQUAL = 3,
}

export enum CompareTarget {
  VERSION = 0,
  CREATE = 1,
  MOD = 2,
  VALUE = 3,
  LEASE = 4,
}

export interface Compare {
  result: CompareResult;
  target: CompareTarget;
  key: Uint8Array;
  rangeEnd?: Uint8Array;
  /** The field matching `target` is the one compared against. */
  version?: number;
  createRevision?: number;
  modRevision?: number;
  value?: Uint8Array;
  lease?: LeaseId;
}

export type RequestOp =
  | { requestRange: RangeRequest }
  | { requestPut: PutRequest }
  | { requestDeleteRange: DeleteRangeRequest }
  | { requestTxn: TxnRequest };

export type ResponseOp =
  | { responseRange: RangeResponse }
  | { responsePut: PutResponse }
  | { responseDeleteRange: DeleteRangeResponse }
  | { responseTxn: TxnResponse };

export interface TxnRequest {
  compare: Compare[];
  success: RequestOp[];
  failure: RequestOp[];
}

export interface TxnResponse {
  header: ResponseHeader;
  succeeded: boolean;
  responses: ResponseOp[];
}

export interface CompactionRequest {
  revision: number;
  physical?: boolean;
}

export interface CompactionResponse {
  header: ResponseHeader;
}
