// GET /health, GET /version and /metrics, answered as etcd 3.4 answers them.
import { counts } from "../../common/etcd-counts.js";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { ServerMetrics } from "../../common/metrics.js";
import { AlarmAction, AlarmType, type MemberApi } from "../../server/member-api.js";
import { ETCD_API_VERSION, ETCD_CLUSTER_VERSION } from "../../version.js";

const HEALTH_READ_TIMEOUT_MS = 1000;
const HEALTH_KEY = new TextEncoder().encode("health");

/** Go's http.Error: text/plain, nosniff, the message and a newline. */
export function sendPlainError(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, {
    "content-type": "text/plain; charset=utf-8",
    "x-content-type-options": "nosniff",
  });
  res.end(text + "\n");
}

export function sendMethodNotAllowed(res: ServerResponse, allow?: string): void {
  if (allow !== undefined) res.setHeader("allow", allow);
  sendPlainError(res, 405, "Method Not Allowed");
}

/** Alarm names ?exclude= may list ("NOSPACE", "CORRUPT"). */
function excludedAlarms(req: IncomingMessage): Set<string> {
  const query = new URL(req.url ?? "/", "http://x").searchParams;
  return new Set(query.getAll("exclude"));
}

export interface HealthResult {
  health: boolean;
  /** Why not healthy (for the log). */
  reason?: string;
}

/**
 * etcd's health rule: unhealthy while any alarm not excluded is raised, while there is no leader,
 * or when a linearizable read does not complete within a second. With ?serializable=true (etcd
 * 3.5; etcd 3.4 ignores it) the member's own state is checked: no leader needed, a local read.
 */
export async function checkHealth(
  member: MemberApi,
  exclude: ReadonlySet<string>,
  serializable = false,
): Promise<HealthResult> {
  try {
    const { alarms } = await member.alarm({ action: AlarmAction.GET, memberId: 0n, alarm: AlarmType.NONE });
    for (const a of alarms) {
      const name = AlarmType[a.alarm] ?? String(a.alarm);
      if (!exclude.has(name))
        return { health: false, reason: `alarm ${name} raised by ${a.memberId.toString(16)}` };
    }
    if (!serializable) {
      const status = await member.status();
      if (status.leader === 0n) return { health: false, reason: "no leader" };
    }
    await member.range(
      { key: HEALTH_KEY, countOnly: true, serializable },
      { signal: AbortSignal.timeout(HEALTH_READ_TIMEOUT_MS) },
    );
    // etcd's /health reads through its v2 store, which etcd_mvcc_range_total does not count.
    counts.mvccRange--;
    return { health: true };
  } catch (err) {
    const kind = serializable ? "serializable" : "linearizable";
    return { health: false, reason: `${kind} read failed: ${(err as Error).message}` };
  }
}

export async function serveHealth(
  req: IncomingMessage,
  res: ServerResponse,
  member: MemberApi,
  metrics: ServerMetrics | undefined,
  onUnhealthy?: (reason: string) => void,
): Promise<void> {
  if (req.method !== "GET") {
    sendMethodNotAllowed(res, "GET");
    return;
  }
  const serializable = new URL(req.url ?? "/", "http://x").searchParams.get("serializable") === "true";
  const result = await checkHealth(member, excludedAlarms(req), serializable);
  if (result.health) {
    metrics?.healthSuccess.inc();
    res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
    res.end('{"health":"true"}');
    return;
  }
  metrics?.healthFailures.inc();
  onUnhealthy?.(result.reason ?? "unhealthy");
  sendPlainError(res, 503, '{"health":"false"}');
}

export function serveVersion(req: IncomingMessage, res: ServerResponse): void {
  if (req.method !== "GET") {
    sendMethodNotAllowed(res, "GET");
    return;
  }
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify({ etcdserver: ETCD_API_VERSION, etcdcluster: ETCD_CLUSTER_VERSION }));
}

export async function serveMetrics(res: ServerResponse, metrics: ServerMetrics): Promise<void> {
  const scrapes = metrics.scrapes;
  // As Go's promhttp: this scrape is in flight while it is served, and counted once answered.
  scrapes.inFlight++;
  let code = 200;
  try {
    const text = await metrics.registry.metrics();
    res.writeHead(200, { "content-type": metrics.registry.contentType });
    res.end(text);
  } catch (err) {
    code = 500;
    sendPlainError(res, 500, `An error has occurred while serving metrics:\n\n${(err as Error).message}`);
  } finally {
    scrapes.inFlight--;
    scrapes.byCode.set(String(code), (scrapes.byCode.get(String(code)) ?? 0) + 1);
  }
}
