// A learner serves only Status and serializable Range, as etcd 3.4's interceptors allow; every
// other call (unary or stream) gets "etcdserver: rpc not supported for learner" (UNAVAILABLE, so
// clients move on to another endpoint).
import { ServerErrors } from "../../server/errors.js";
import type { MemberApi } from "../../server/member-api.js";
import { toRpcError } from "../errors.js";
import type { Handler, HandlerTable, PlainMessage } from "../handler-types.js";

const STATUS = "/etcdserverpb.Maintenance/Status";
const RANGE = "/etcdserverpb.KV/Range";

function allowedForLearner(path: string, req: PlainMessage | undefined): boolean {
  if (path === STATUS) return true;
  return path === RANGE && req !== undefined && req["serializable"] === true;
}

function guard(path: string, handler: Handler, member: MemberApi): Handler {
  const refuse = () => toRpcError(ServerErrors.notSupportedForLearner());
  switch (handler.kind) {
    case "unary":
      return {
        ...handler,
        handle: (req, ctx) =>
          member.isLearner() && !allowedForLearner(path, req)
            ? Promise.reject(refuse())
            : handler.handle(req, ctx),
      };
    case "server-stream":
      return {
        ...handler,
        handle: (req, ctx) => {
          if (member.isLearner()) {
            return (async function* () {
              yield* [];
              throw refuse();
            })();
          }
          return handler.handle(req, ctx);
        },
      };
    case "bidi":
      return {
        ...handler,
        open: (out, ctx) => {
          if (member.isLearner()) {
            out.end(refuse());
            return { message() {}, end() {} };
          }
          return handler.open(out, ctx);
        },
      };
  }
}

/** Wraps every handler of the table with the learner check. */
export function guardLearner(table: HandlerTable, member: MemberApi): HandlerTable {
  const out: HandlerTable = new Map();
  for (const [path, handler] of table) {
    out.set(path, path.startsWith("/grpc.health") ? handler : guard(path, handler, member));
  }
  return out;
}
