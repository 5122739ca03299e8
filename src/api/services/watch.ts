// etcdserverpb.Watch/Watch: one bidirectional stream per client stream, multiplexing its watchers
// over a WatchStream of the member's watch hub. Backpressure: when the transport's buffer is full
// the sink says so, the watch layer stops pushing events (its watchers catch up from the backend
// later) and resumes once the transport drains. etcd keeps the stream open after the client
// half-closes; it ends when the client cancels or goes away.
import type { MemberApi } from "../../server/member-api.js";
import {
  messageField,
  numberField,
  plainWatchResponse,
  watchCreateRequest,
  type ApiOptions,
} from "../convert.js";
import { toRpcError } from "../errors.js";
import type { BidiStreamHandler, HandlerTable } from "../handler-types.js";

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
      try {
        stream = member.openWatchStream({ send: (resp) => out.send(plainWatchResponse(member, resp)) });
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
              watches.createWatch(watchCreateRequest(create));
              return;
            }
            const cancel = messageField(req, "cancel_request");
            if (cancel !== undefined) {
              watches.cancelWatch(numberField(cancel, "watch_id"));
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
