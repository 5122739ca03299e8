// gRPC metadata hasleader=true (clientv3.WithRequireLeader) on streaming calls, as etcd 3.4's
// stream interceptor handles it: a stream opened while the member knows no leader fails at once
// with "etcdserver: no leader" (UNAVAILABLE); a stream opened with a leader is watched, and once
// the member has been without a leader for MAX_NO_LEADER_CHECKS checks in a row (one check per
// election timeout) the stream ends with that same error. Streams without the metadata are left
// alone. Unary calls check the same metadata in the member (RequestOptions.requireLeader).
import { ServerErrors } from "../../server/errors.js";
import type { MemberApi } from "../../server/member-api.js";
import { toRpcError } from "../errors.js";
import type { CallContext, Handler, HandlerTable, StreamInput } from "../handler-types.js";

/** etcd's maxNoLeaderCnt: leaderless checks in a row before streams requiring a leader end. */
export const MAX_NO_LEADER_CHECKS = 3;

const requiresLeader = (ctx: CallContext): boolean => ctx.metadata.get("hasleader") === "true";

const noLeader = () => toRpcError(ServerErrors.noLeader());

/**
 * The streams that require a leader, and the periodic check that ends them. The timer runs only
 * while such streams exist; its count of leaderless checks starts at 0 each time it starts.
 */
export class LeaderMonitor {
  private readonly streams = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;
  private leaderless = 0;

  constructor(
    private readonly hasLeader: () => boolean,
    private readonly periodMs: number,
  ) {}

  /** Watches one stream; `end` is called if it must end. Returns the function to stop watching. */
  track(end: () => void): () => void {
    this.streams.add(end);
    if (this.timer === undefined) {
      this.leaderless = 0;
      this.timer = setInterval(() => this.check(), this.periodMs);
      this.timer.unref();
    }
    return () => {
      this.streams.delete(end);
      this.stopIfIdle();
    };
  }

  get size(): number {
    return this.streams.size;
  }

  /** One periodic check (public for tests). */
  check(): void {
    this.leaderless = this.hasLeader() ? 0 : this.leaderless + 1;
    if (this.leaderless < MAX_NO_LEADER_CHECKS) return;
    const ends = [...this.streams];
    this.streams.clear();
    for (const end of ends) end();
    this.stopIfIdle();
  }

  private stopIfIdle(): void {
    if (this.streams.size > 0 || this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** A context whose signal also fires when the monitor ends the stream. */
function guardedContext(ctx: CallContext): { ctx: CallContext; abort: () => void } {
  const controller = new AbortController();
  const outer = ctx.signal;
  const forward = () => controller.abort(outer.reason);
  if (outer.aborted) forward();
  else outer.addEventListener("abort", forward, { once: true });
  return {
    ctx: { metadata: ctx.metadata, signal: controller.signal },
    abort: () => {
      outer.removeEventListener("abort", forward);
      controller.abort(new Error("etcdserver: no leader"));
    },
  };
}

function guard(handler: Handler, monitor: LeaderMonitor, hasLeader: () => boolean): Handler {
  switch (handler.kind) {
    case "unary":
      return handler;
    case "bidi":
      return {
        ...handler,
        open: (out, ctx): StreamInput => {
          if (!requiresLeader(ctx)) return handler.open(out, ctx);
          if (!hasLeader()) {
            out.end(noLeader());
            return { message() {}, end() {} };
          }
          const inner = guardedContext(ctx);
          let ended = false;
          const untrack = monitor.track(() => {
            if (ended) return;
            ended = true;
            out.end(noLeader());
            inner.abort();
          });
          ctx.signal.addEventListener("abort", untrack, { once: true });
          return handler.open(
            {
              send: (resp) => out.send(resp),
              onDrain: (listener) => out.onDrain(listener),
              end: (err) => {
                untrack();
                if (ended) return;
                ended = true;
                out.end(err);
              },
            },
            inner.ctx,
          );
        },
      };
    case "server-stream":
      return {
        ...handler,
        handle: (req, ctx) => {
          if (!requiresLeader(ctx)) return handler.handle(req, ctx);
          return (async function* () {
            if (!hasLeader()) throw noLeader();
            const inner = guardedContext(ctx);
            let untrack = () => {};
            const lost = new Promise<never>((_, reject) => {
              untrack = monitor.track(() => {
                reject(noLeader());
                inner.abort();
              });
            });
            lost.catch(() => {}); // raced below; never left unhandled while suspended at a yield
            const it = handler.handle(req, inner.ctx)[Symbol.asyncIterator]();
            try {
              for (;;) {
                const next = await Promise.race([it.next(), lost]);
                if (next.done === true) return;
                yield next.value;
              }
            } finally {
              untrack();
              // Not awaited: a next() may still be pending (the inner handler ends on its signal).
              void it.return?.()?.catch(() => {});
            }
          })();
        },
      };
  }
}

/** Wraps every streaming handler of the table with the hasleader check. */
export function guardLeader(table: HandlerTable, member: MemberApi, electionTimeoutMs: number): HandlerTable {
  const hasLeader = () => member.leaderId() !== 0n;
  const monitor = new LeaderMonitor(hasLeader, electionTimeoutMs);
  const out: HandlerTable = new Map();
  for (const [path, handler] of table) {
    out.set(path, path.startsWith("/grpc.health") ? handler : guard(handler, monitor, hasLeader));
  }
  return out;
}
