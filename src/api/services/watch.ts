// etcdserverpb.Watch/Watch: one bidirectional stream per client stream, multiplexing its watchers
// over a WatchStream of the member's watch hub. Backpressure: when the transport's buffer is full
// the sink says so, the watch layer stops pushing events (its watchers catch up from the backend
// later) and resumes once the transport drains. etcd keeps the stream open after the client
// half-closes; it ends when the client cancels or goes away.
import { INVALID_WATCH_ID } from "../../mvcc/watch/index.js";
import type { MemberApi } from "../../server/member-api.js";
import {
  int64Field,
  messageField,
  plainWatchResponse,
  watchCreateRequest,
  type ApiOptions,
} from "../convert.js";
import { toRpcError } from "../errors.js";
import type { BidiStreamHandler, HandlerTable } from "../handler-types.js";
import { WatchIdMap } from "./watch-ids.js";

export function watchHandlers(member: MemberApi, _opts: ApiOptions): HandlerTable {
  const handler: BidiStreamHandler = {
    kind: "bidi",
    requestType: "etcdserverpb.WatchRequest",
    responseType: "etcdserverpb.WatchResponse",
    open(out, ctx) {
      let stream: ReturnType<MemberApi["openWatchStream"]> | undefined;
      let ended = false;
      const finish = (err?: unknown): void => {
        if (ended) return;
        ended = true;
        stream?.close();
        out.end(err === undefined ? undefined : toRpcError(err));
      };
      // IDs a client picks beyond 2^53 get stand-ins in the watch layer; answers show them exactly.
      const ids = new WatchIdMap();
      try {
        stream = member.openWatchStream({
          send: (resp) => {
            const plain = plainWatchResponse(member, resp);
            plain["watch_id"] = ids.clientId(resp.watchId);
            if (resp.canceled) ids.release(resp.watchId);
            return out.send(plain);
          },
        });
      } catch (err) {
        finish(err);
        return { message: () => {}, end: () => {} };
      }
      const watches = stream;
      out.onDrain(() => watches.resume());
      if (ctx.signal.aborted) finish();
      else ctx.signal.addEventListener("abort", () => finish(), { once: true });
      return {
        message(req) {
          if (ended) return;
          try {
            const create = messageField(req, "create_request");
            if (create !== undefined) {
              const wanted = ids.forCreate(int64Field(create, "watch_id"));
              const id = watches.createWatch({ ...watchCreateRequest(create), watchId: wanted.id });
              if (id === INVALID_WATCH_ID && wanted.fresh) ids.release(wanted.id);
              return;
            }
            const cancel = messageField(req, "cancel_request");
            if (cancel !== undefined) {
              const id = ids.lookup(int64Field(cancel, "watch_id"));
              if (id !== undefined) watches.cancelWatch(id);
              return;
            }
            if (messageField(req, "progress_request") !== undefined) watches.requestProgress();
          } catch (err) {
            finish(err);
          }
        },
        end() {
          // Half-close: keep serving the watchers until the call itself ends.
        },
      };
    },
  };
  return new Map([["/etcdserverpb.Watch/Watch", handler]]);
}
