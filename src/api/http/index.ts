// The HTTP/1.1 side of the client port: the JSON gateway (/v3/..., /v3beta/...), GET /health,
// /livez and /readyz (probes.ts), GET /version and /metrics, with the CORS headers etcd sends on every answer.
import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import type { MemberLogger } from "../../common/logger.js";
import type { ServerMetrics } from "../../common/metrics.js";
import type { MemberApi } from "../../server/member-api.js";
import type { HandlerTable } from "../handler-types.js";
import {
  serveHealth,
  serveMetrics,
  serveVersion,
  sendMethodNotAllowed,
  sendPlainError,
} from "./endpoints.js";
import { sendUnimplemented, serveGatewayCall, type JsonCodec } from "./gateway.js";
import { GATEWAY_ROUTES, gatewayPath } from "./routes.js";
import { probeRoute, serveProbe } from "./probes.js";

export { instrumentHandlers } from "./instrument.js";
export type { JsonCodec } from "./gateway.js";

export interface HttpHandlerOptions {
  /** plainFromJson / plainToJson from src/proto/codec.ts. */
  codec: JsonCodec;
  /** --max-request-bytes: bounds a gateway request body (with room for JSON and base64). */
  maxRequestBytes: number;
  metrics?: ServerMetrics;
  logger?: MemberLogger;
}

/** gRPC's receive limit is max-request-bytes + 512 KiB; base64 in JSON needs 4/3 of that and more. */
function gatewayBodyLimit(maxRequestBytes: number): number {
  return 2 * (maxRequestBytes + 512 * 1024);
}

function addCorsHeaders(res: ServerResponse): void {
  res.setHeader("access-control-allow-headers", "accept, content-type, authorization");
  res.setHeader("access-control-allow-methods", "POST, GET, OPTIONS, PUT, DELETE");
  res.setHeader("access-control-allow-origin", "*");
}

export function createHttpHandler(
  table: HandlerTable,
  member: MemberApi,
  opts: HttpHandlerOptions,
): RequestListener {
  const gateway = { codec: opts.codec, maxBodyBytes: gatewayBodyLimit(opts.maxRequestBytes) };
  const onUnhealthy = (reason: string): void => opts.logger?.warn({ reason }, "/health error");
  return (req: IncomingMessage, res: ServerResponse): void => {
    addCorsHeaders(res);
    if (req.method === "OPTIONS") {
      res.writeHead(200);
      res.end();
      return;
    }
    const path = gatewayPath(req.url ?? "/");
    if (path === "/health") {
      void serveHealth(req, res, member, opts.metrics, onUnhealthy);
      return;
    }
    const probe = probeRoute(path);
    if (probe !== undefined) {
      void serveProbe(req, res, member, probe, opts.logger);
      return;
    }
    if (path === "/version") {
      serveVersion(req, res);
      return;
    }
    if (path === "/metrics" && opts.metrics !== undefined) {
      void serveMetrics(res, opts.metrics);
      return;
    }
    const methodPath = GATEWAY_ROUTES.get(path);
    if (methodPath === undefined) {
      // grpc-gateway's answer under /v3/, Go's ServeMux's elsewhere.
      if (path.startsWith("/v3/")) sendPlainError(res, 404, "Not Found");
      else sendPlainError(res, 404, "404 page not found");
      return;
    }
    if (req.method !== "POST") {
      sendMethodNotAllowed(res);
      return;
    }
    const handler = table.get(methodPath);
    if (handler === undefined) {
      sendUnimplemented(res, methodPath);
      return;
    }
    serveGatewayCall(req, res, handler, gateway);
  };
}

/** For --listen-metrics-urls: /metrics, /health, /livez and /readyz. */
export function createMetricsHttpHandler(
  member: MemberApi,
  metrics: ServerMetrics,
  logger?: MemberLogger,
): RequestListener {
  const onUnhealthy = (reason: string): void => logger?.warn({ reason }, "/health error");
  return (req, res) => {
    const path = gatewayPath(req.url ?? "/");
    const probe = probeRoute(path);
    if (path === "/metrics") void serveMetrics(res, metrics);
    else if (path === "/health") void serveHealth(req, res, member, metrics, onUnhealthy);
    else if (probe !== undefined) void serveProbe(req, res, member, probe, logger);
    else sendPlainError(res, 404, "404 page not found");
  };
}
