// GET /livez and /readyz, etcd 3.5's probes (not in etcd 3.4), and one path per check under each
// (/livez/serializable_read, /readyz/linearizable_read, ...). Each check either passes or fails
// with a reason:
//   livez:  serializable_read  (a local read answers)
//   readyz: data_corruption    (no CORRUPT alarm)
//           serializable_read
//           linearizable_read  (a read through the leader answers: the cluster has consensus)
//           non_learner        (this member is not a learner)
// The root path runs every check not named by an ?exclude= (unknown names are ignored, with a
// warning); a check's own path runs that check only. All checks pass: 200 "ok\n", preceded by
// one "[+]<name> ok" line per check when ?verbose is in the query. A check fails: 503 with every
// check's line ("[-]<name> failed: <reason>" for those that failed), whatever ?verbose says.
// Unlike etcd, which runs the checks in Go map order, the order is always the one above.
import type { IncomingMessage, ServerResponse } from "node:http";
import { AlarmAction, AlarmType, type MemberApi } from "../../server/member-api.js";
import { sendMethodNotAllowed, sendPlainError } from "./endpoints.js";

export type ProbeKind = "livez" | "readyz";

type Check = (member: MemberApi) => Promise<void>;

const PROBE_KEY = new TextEncoder().encode("health");

const readCheck =
  (serializable: boolean): Check =>
  async (member) => {
    await member.range({ key: PROBE_KEY, keysOnly: true, limit: 1, serializable });
  };

const CHECKS: Record<ProbeKind, ReadonlyArray<readonly [string, Check]>> = {
  livez: [["serializable_read", readCheck(true)]],
  readyz: [
    [
      "data_corruption",
      async (member) => {
        const { alarms } = await member.alarm({
          action: AlarmAction.GET,
          memberId: 0n,
          alarm: AlarmType.NONE,
        });
        if (alarms.some((a) => a.alarm === AlarmType.CORRUPT)) throw new Error("alarm activated: CORRUPT");
      },
    ],
    ["serializable_read", readCheck(true)],
    ["linearizable_read", readCheck(false)],
    [
      "non_learner",
      async (member) => {
        if (member.isLearner()) throw new Error("not supported for learner");
      },
    ],
  ],
};

/** The probe a path names: a root path, or one check's path; undefined for anything else. */
export function probeRoute(path: string): { kind: ProbeKind; check?: string } | undefined {
  for (const kind of ["livez", "readyz"] as const) {
    if (path === `/${kind}`) return { kind };
    const prefix = `/${kind}/`;
    if (path.startsWith(prefix)) {
      const check = path.slice(prefix.length);
      if (CHECKS[kind].some(([name]) => name === check)) return { kind, check };
    }
  }
  return undefined;
}

export interface ProbeResult {
  ok: boolean;
  /** One line per check run. */
  lines: string[];
}

export interface ProbeLogger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Runs the checks of a probe, one check or all but the excluded ones, in order. */
export async function runProbe(
  member: MemberApi,
  kind: ProbeKind,
  only: string | undefined,
  exclude: ReadonlySet<string>,
  logger?: ProbeLogger,
): Promise<ProbeResult> {
  const checks = CHECKS[kind].filter(([name]) => (only !== undefined ? name === only : !exclude.has(name)));
  if (only === undefined) {
    const unknown = [...exclude].filter((n) => !CHECKS[kind].some(([name]) => name === n));
    if (unknown.length > 0) {
      logger?.warn(
        { "missing-health-checks": unknown.map((n) => JSON.stringify(n)).join(",") },
        "some health checks cannot be excluded",
      );
    }
  }
  const result: ProbeResult = { ok: true, lines: [] };
  for (const [name, check] of checks) {
    try {
      await check(member);
      result.lines.push(`[+]${name} ok`);
    } catch (err) {
      result.ok = false;
      result.lines.push(`[-]${name} failed: ${(err as Error).message}`);
    }
  }
  return result;
}

export async function serveProbe(
  req: IncomingMessage,
  res: ServerResponse,
  member: MemberApi,
  route: { kind: ProbeKind; check?: string },
  logger?: ProbeLogger,
): Promise<void> {
  const path = route.check === undefined ? `/${route.kind}` : `/${route.kind}/${route.check}`;
  if (req.method !== "GET") {
    sendMethodNotAllowed(res, "GET");
    logger?.warn({ path, "status-code": 405 }, "Health request error");
    return;
  }
  const query = new URL(req.url ?? "/", "http://x").searchParams;
  const exclude = new Set(query.getAll("exclude").filter((n) => n !== ""));
  const result = await runProbe(member, route.kind, route.check, exclude, logger);
  const reason = result.lines.map((l) => `${l}\n`).join("");
  if (!result.ok) {
    // Go's http.Error: the text and one more newline.
    sendPlainError(res, 503, reason);
    logger?.error({ path, reason, "status-code": 503 }, "Health check error");
    return;
  }
  res.writeHead(200, { "content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff" });
  res.end((query.has("verbose") ? reason : "") + "ok\n");
}
