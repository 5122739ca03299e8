// Request checks done before anything is applied, as etcd 3.4's gRPC layer does them
// (checkTxnRequest, checkRequestOp, checkPutRequest, checkIntervals): op-count limits, empty
// keys, ignore_value/ignore_lease misuse, and puts that collide with other puts or deletes in
// one Txn branch (nested Txns included; a key put in both branches of a nested Txn is fine).

import { compareBytes } from "./bytes.js";
import { Errors } from "./errors.js";
import { NO_LEASE, type PutRequest, type RequestOp, type TxnRequest } from "./types.js";

export const DEFAULT_MAX_TXN_OPS = 128;

/**
 * The longest key LMDB stores is 1978 bytes; the history table's key is the escaped user key
 * (each 0x00 byte doubled, plus 2) and an 8-byte revision. Longer keys are refused up front.
 */
const MAX_BACKEND_KEY = 1978;

export function keyFitsBackend(key: Uint8Array): boolean {
  let zeros = 0;
  for (const b of key) if (b === 0) zeros++;
  return key.length + zeros + 2 + 8 <= MAX_BACKEND_KEY;
}

export function checkPutRequest(req: PutRequest): void {
  if (req.key.length === 0) throw Errors.emptyKey();
  if (!keyFitsBackend(req.key)) throw Errors.requestTooLarge();
  if (req.ignoreValue === true && req.value.length !== 0) throw Errors.valueProvided();
  if (req.ignoreLease === true && (req.lease ?? NO_LEASE) !== NO_LEASE) throw Errors.leaseProvided();
}

/** All shape checks of a Txn, in etcd's order. Throws the first violation. */
export function checkTxnRequestShape(req: TxnRequest, maxTxnOps: number): void {
  checkTxnCounts(req, maxTxnOps);
  checkIntervals(req.success);
  checkIntervals(req.failure);
}

function checkTxnCounts(req: TxnRequest, maxTxnOps: number): void {
  const opc = Math.max(req.compare.length, req.success.length, req.failure.length);
  if (opc > maxTxnOps) throw Errors.tooManyTxnOps();
  for (const c of req.compare) if (c.key.length === 0) throw Errors.emptyKey();
  // Nested Txns get what is left of the budget (etcd passes maxTxnOps - opc down).
  for (const op of req.success) checkRequestOp(op, maxTxnOps - opc);
  for (const op of req.failure) checkRequestOp(op, maxTxnOps - opc);
}

function checkRequestOp(op: RequestOp, maxTxnOps: number): void {
  if ("requestRange" in op) {
    if (op.requestRange.key.length === 0) throw Errors.emptyKey();
  } else if ("requestPut" in op) {
    checkPutRequest(op.requestPut);
  } else if ("requestDeleteRange" in op) {
    if (op.requestDeleteRange.key.length === 0) throw Errors.emptyKey();
  } else if ("requestTxn" in op) {
    checkTxnCounts(op.requestTxn, maxTxnOps);
  } else {
    throw Errors.keyNotFound(); // an empty RequestOp, as etcd answers it
  }
}

/** A deleted interval [begin, end); end undefined = unbounded. */
interface DelInterval {
  begin: Uint8Array;
  end: Uint8Array | undefined;
}

const keyId = (k: Uint8Array): string => Buffer.from(k.buffer, k.byteOffset, k.byteLength).toString("latin1");

function deletesKey(dels: DelInterval[], key: Uint8Array): boolean {
  for (const d of dels) {
    if (compareBytes(d.begin, key) <= 0 && (d.end === undefined || compareBytes(key, d.end) < 0)) return true;
  }
  return false;
}

/**
 * etcd's checkIntervals: returns the keys put and intervals deleted by ops (children included).
 * Like etcd 3.4, a delete's range_end is taken literally, so range_end "\0" covers no key here.
 */
function checkIntervals(ops: RequestOp[]): { puts: Map<string, Uint8Array>; dels: DelInterval[] } {
  const dels: DelInterval[] = [];
  for (const op of ops) {
    if (!("requestDeleteRange" in op)) continue;
    const d = op.requestDeleteRange;
    if (d.rangeEnd !== undefined && d.rangeEnd.length !== 0) dels.push({ begin: d.key, end: d.rangeEnd });
    else dels.push({ begin: d.key, end: pointEnd(d.key) });
  }
  const puts = new Map<string, Uint8Array>();
  for (const op of ops) {
    if (!("requestTxn" in op)) continue;
    const then = checkIntervals(op.requestTxn.success);
    const otherwise = checkIntervals(op.requestTxn.failure);
    for (const [id, key] of then.puts) {
      if (puts.has(id) || deletesKey(dels, key)) throw Errors.duplicateKey();
      puts.set(id, key);
    }
    for (const [id, key] of otherwise.puts) {
      // The same key in both branches is fine: only one branch runs.
      if (puts.has(id) && !then.puts.has(id)) throw Errors.duplicateKey();
      if (deletesKey(dels, key)) throw Errors.duplicateKey();
      puts.set(id, key);
    }
    dels.push(...then.dels, ...otherwise.dels);
  }
  for (const op of ops) {
    if (!("requestPut" in op)) continue;
    const key = op.requestPut.key;
    const id = keyId(key);
    if (puts.has(id) || deletesKey(dels, key)) throw Errors.duplicateKey();
    puts.set(id, key);
  }
  return { puts, dels };
}

/** The exclusive end of the one-key interval [key, key + "\0"). */
function pointEnd(key: Uint8Array): Uint8Array {
  const end = new Uint8Array(key.length + 1);
  end.set(key);
  return end;
}
