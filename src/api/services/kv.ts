// etcdserverpb.KV: Range, Put, DeleteRange, Txn, Compact. The checks etcd's gRPC layer makes
// before a request reaches the server (v3rpc/key.go) run here; the member does the rest.
import { Errors } from "../../mvcc/errors.js";
import { checkPutRequest, checkTxnRequestShape } from "../../mvcc/txn-rules.js";
import type { MemberApi } from "../../server/member-api.js";
import {
  approximateSize,
  boolField,
  deleteRangeRequest,
  numberField,
  plainDeleteRangeResponse,
  plainHeader,
  plainPutResponse,
  plainRangeResponse,
  plainTxnResponse,
  putRequest,
  rangeRequest,
  txnRequest,
  type ApiOptions,
} from "../convert.js";
import type { HandlerTable, PlainMessage } from "../handler-types.js";
import { addMethods, unary } from "./unary.js";

/** A KV method: it keeps waiting when the client cancels (see UnaryOptions.cancellable). */
function kvMethod(
  requestType: string,
  responseType: string,
  handle: Parameters<typeof unary>[2],
): ReturnType<typeof unary> {
  return unary(`etcdserverpb.${requestType}`, `etcdserverpb.${responseType}`, handle, undefined, {
    cancellable: false,
  });
}

export function kvHandlers(member: MemberApi, opts: ApiOptions): HandlerTable {
  /** etcd refuses a proposal whose encoding exceeds --max-request-bytes. */
  const checkSize = (req: PlainMessage): void => {
    if (approximateSize(req) > opts.maxRequestBytes) throw Errors.requestTooLarge();
  };
  return addMethods(new Map(), "etcdserverpb.KV", {
    Range: kvMethod("RangeRequest", "RangeResponse", (req, o) => {
      const r = rangeRequest(req);
      if (r.key.length === 0) throw Errors.emptyKey();
      return member.range(r, o).then((resp) => plainRangeResponse(member, resp));
    }),
    Put: kvMethod("PutRequest", "PutResponse", (req, o) => {
      const r = putRequest(req);
      checkPutRequest(r);
      checkSize(req);
      return member.put(r, o).then((resp) => plainPutResponse(member, resp));
    }),
    DeleteRange: kvMethod("DeleteRangeRequest", "DeleteRangeResponse", (req, o) => {
      const r = deleteRangeRequest(req);
      if (r.key.length === 0) throw Errors.emptyKey();
      checkSize(req);
      return member.deleteRange(r, o).then((resp) => plainDeleteRangeResponse(member, resp));
    }),
    Txn: kvMethod("TxnRequest", "TxnResponse", (req, o) => {
      const r = txnRequest(req);
      checkTxnRequestShape(r, opts.maxTxnOps);
      checkSize(req);
      return member.txn(r, o).then((resp) => plainTxnResponse(member, resp));
    }),
    Compact: kvMethod("CompactionRequest", "CompactionResponse", (req, o) =>
      member
        .compact({ revision: numberField(req, "revision"), physical: boolField(req, "physical") }, o)
        .then((resp) => ({ header: plainHeader(member, resp.header) })),
    ),
  });
}
