// grpc.health.v1.Health, which etcd serves too: the member answers SERVING while it runs.
import { once } from "node:events";
import type { MemberApi } from "../../server/member-api.js";
import type { ApiOptions } from "../convert.js";
import type { HandlerTable, ServerStreamHandler } from "../handler-types.js";
import { addMethods, unary } from "./unary.js";

const SERVING = 1;

export function healthHandlers(_member: MemberApi, _opts: ApiOptions): HandlerTable {
  const watch: ServerStreamHandler = {
    kind: "server-stream",
    requestType: "grpc.health.v1.HealthCheckRequest",
    responseType: "grpc.health.v1.HealthCheckResponse",
    async *handle(_req, ctx) {
      yield { status: SERVING };
      // The status never changes while the server runs: hold the stream until the client leaves.
      if (!ctx.signal.aborted) await once(ctx.signal, "abort").catch(() => {});
    },
  };
  return addMethods(new Map(), "grpc.health.v1.Health", {
    Check: unary("grpc.health.v1.HealthCheckRequest", "grpc.health.v1.HealthCheckResponse", async () => ({
      status: SERVING,
    })),
    Watch: watch,
  });
}
