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
import { addMethods, unary, type UnaryOptions } from "./unary.js";

/** The KV methods keep waiting when the client cancels (see UnaryOptions.cancellable). */
const KV_CALL: UnaryOptions = { cancellable: false };

export function kvHandlers(member: MemberApi, opts: ApiOptions): HandlerTable {
  /** etcd refuses a proposal whose encoding exceeds --max-request-bytes. */
  const checkSize = (req: PlainMessage): void => {
    if (approximateSize(req) > opts.maxRequestBytes) throw Errors.requestTooLarge();
  };
  return addMethods(new Map(), "etcdserverpb.KV", {
    Range: unary(
      "etcdserverpb.RangeRequest",
      "etcdserverpb.RangeResponse",
      (req, o) => {
        const r = rangeRequest(req);
        if (r.key.length === 0) throw Errors.emptyKey();
        return member.range(r, o).then((resp) => plainRangeResponse(member, resp));
      },
      undefined,
      KV_CALL,
    ),
    Put: unary(
      "etcdserverpb.PutRequest",
      "etcdserverpb.PutResponse",
      (req, o) => {
        const r = putRequest(req);
        checkPutRequest(r);
        checkSize(req);
        return member.put(r, o).then((resp) => plainPutResponse(member, resp));
      },
      undefined,
      KV_CALL,
    ),
    DeleteRange: unary(
      "etcdserverpb.DeleteRangeRequest",
      "etcdserverpb.DeleteRangeResponse",
      async (req, o) => {
        const r = deleteRangeRequest(req);
        if (r.key.length === 0) throw Errors.emptyKey();
        checkSize(req);
        return plainDeleteRangeResponse(member, await member.deleteRange(r, o));
      },
      undefined,
      KV_CALL,
    ),
    Txn: unary(
      "etcdserverpb.TxnRequest",
      "etcdserverpb.TxnResponse",
      async (req, o) => {
        const r = txnRequest(req);
        checkTxnRequestShape(r, opts.maxTxnOps);
        checkSize(req);
        return plainTxnResponse(member, await member.txn(r, o));
      },
      undefined,
      KV_CALL,
    ),
    Compact: unary(
      "etcdserverpb.CompactionRequest",
      "etcdserverpb.CompactionResponse",
      async (req, o) => {
        const resp = await member.compact(
          { revision: numberField(req, "revision"), physical: boolField(req, "physical") },
          o,
        );
        return { header: plainHeader(member, resp.header) };
      },
      undefined,
      KV_CALL,
    ),
  });
}
