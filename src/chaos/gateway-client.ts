// The chaos clients talk to members through the JSON gateway: one HTTP request per operation,
// no retries (a retried write could apply twice and hide or fake a violation), each bounded in
// time. Every call returns what the response said, or throws (the caller decides whether the
// outcome is unknown).

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const unb64 = (s: string | undefined) => (s === undefined ? "" : Buffer.from(s, "base64").toString("utf8"));

export class GatewayError extends Error {
  constructor(
    message: string,
    /** True when the request surely had no effect (refused before reaching raft). */
    readonly definite: boolean,
  ) {
    super(message);
    this.name = "GatewayError";
  }
}

async function post(
  url: string,
  path: string,
  body: unknown,
  timeoutMs: number,
): Promise<Record<string, unknown>> {
  let r: Response;
  try {
    r = await fetch(`${url}${path}`, {
      method: "POST",
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause;
    // Nothing was sent when the connection was refused.
    throw new GatewayError(`${path}: ${(err as Error).message}`, cause?.code === "ECONNREFUSED");
  }
  const json = (await r.json().catch(() => ({}))) as Record<string, unknown>;
  if (!r.ok) throw new GatewayError(`${path}: ${r.status} ${JSON.stringify(json)}`, false);
  return json;
}

const headerRevision = (resp: Record<string, unknown>): number =>
  Number((resp["header"] as { revision?: string } | undefined)?.revision ?? 0);

export interface KeyValue {
  key: string;
  value: string;
  modRevision: number;
}

export async function get(
  url: string,
  key: string,
  timeoutMs: number,
): Promise<{ value: string | null; revision: number }> {
  const r = await post(url, "/v3/kv/range", { key: b64(key) }, timeoutMs);
  const kvs = (r["kvs"] as Array<{ value?: string }> | undefined) ?? [];
  return { value: kvs.length > 0 ? unb64(kvs[0]?.value) : null, revision: headerRevision(r) };
}

export async function put(
  url: string,
  key: string,
  value: string,
  timeoutMs: number,
  lease?: string,
): Promise<number> {
  const body: Record<string, unknown> = { key: b64(key), value: b64(value) };
  if (lease !== undefined) body["lease"] = lease;
  return headerRevision(await post(url, "/v3/kv/put", body, timeoutMs));
}

/** Returns the revision and whether something was deleted (a delete of nothing makes no revision). */
export async function del(
  url: string,
  key: string,
  timeoutMs: number,
): Promise<{ revision: number; deleted: boolean }> {
  const r = await post(url, "/v3/kv/deleterange", { key: b64(key) }, timeoutMs);
  return { revision: headerRevision(r), deleted: Number(r["deleted"] ?? 0) > 0 };
}

/**
 * If `key` holds `expect` (null: absent), set it to `value` (null: delete). With `modRevision`,
 * the compare is on mod_revision instead of the value (the Kubernetes way).
 */
export async function cas(
  url: string,
  key: string,
  expect: string | null,
  value: string | null,
  timeoutMs: number,
  modRevision?: number,
): Promise<{ succeeded: boolean; revision: number }> {
  const compare =
    expect === null
      ? { key: b64(key), target: "CREATE", result: "EQUAL", create_revision: "0" }
      : modRevision !== undefined
        ? { key: b64(key), target: "MOD", result: "EQUAL", mod_revision: String(modRevision) }
        : { key: b64(key), target: "VALUE", result: "EQUAL", value: b64(expect) };
  const success =
    value === null
      ? [{ request_delete_range: { key: b64(key) } }]
      : [{ request_put: { key: b64(key), value: b64(value) } }];
  const r = await post(url, "/v3/kv/txn", { compare: [compare], success, failure: [] }, timeoutMs);
  return { succeeded: r["succeeded"] === true, revision: headerRevision(r) };
}

/** One page of a prefix list (Kubernetes-style: limit, count, then at the first page's revision). */
export async function listPage(
  url: string,
  from: string,
  prefixEnd: string,
  limit: number,
  revision: number,
  timeoutMs: number,
): Promise<{ kvs: KeyValue[]; more: boolean; count: number; revision: number }> {
  const body: Record<string, unknown> = { key: b64(from), range_end: b64(prefixEnd), limit: String(limit) };
  if (revision > 0) body["revision"] = String(revision);
  const r = await post(url, "/v3/kv/range", body, timeoutMs);
  const kvs = (
    (r["kvs"] as Array<{ key?: string; value?: string; mod_revision?: string }> | undefined) ?? []
  ).map((kv) => ({
    key: unb64(kv.key),
    value: unb64(kv.value),
    modRevision: Number(kv.mod_revision ?? 0),
  }));
  return { kvs, more: r["more"] === true, count: Number(r["count"] ?? 0), revision: headerRevision(r) };
}

export async function leaseGrant(url: string, ttl: number, timeoutMs: number): Promise<string> {
  const r = await post(url, "/v3/lease/grant", { TTL: String(ttl) }, timeoutMs);
  return String(r["ID"]);
}

export async function leaseRevoke(url: string, id: string, timeoutMs: number): Promise<number> {
  return headerRevision(await post(url, "/v3/lease/revoke", { ID: id }, timeoutMs));
}

export async function status(
  url: string,
  timeoutMs: number,
): Promise<{ memberId: string; leader: string; revision: number; raftIndex: number; appliedIndex: number }> {
  const r = await post(url, "/v3/maintenance/status", {}, timeoutMs);
  const header = r["header"] as { member_id?: string; revision?: string } | undefined;
  return {
    memberId: BigInt(header?.member_id ?? "0").toString(16),
    leader: BigInt(String(r["leader"] ?? "0")).toString(16),
    revision: Number(header?.revision ?? 0),
    raftIndex: Number(r["raftIndex"] ?? 0),
    appliedIndex: Number(r["raftAppliedIndex"] ?? 0),
  };
}

export interface WatchEventJson {
  type: "PUT" | "DELETE";
  key: string;
  value: string | null;
  revision: number;
  prevValue?: string | null;
}

/**
 * A streaming watch through the gateway. Calls onEvents with each response's events; resolves
 * when the stream ends (the member went away, the signal aborted) with the reason.
 */
export async function watchStream(
  url: string,
  prefix: string,
  startRevision: number,
  prevKv: boolean,
  signal: AbortSignal,
  onEvents: (events: WatchEventJson[], headerRevision: number) => void,
): Promise<string> {
  const end = Buffer.from(prefix, "utf8");
  end[end.length - 1] = (end[end.length - 1] as number) + 1;
  let r: Response;
  try {
    r = await fetch(`${url}/v3/watch`, {
      method: "POST",
      signal,
      body: JSON.stringify({
        create_request: {
          key: b64(prefix),
          range_end: end.toString("base64"),
          start_revision: String(startRevision),
          prev_kv: prevKv,
          progress_notify: true,
        },
      }),
    });
  } catch (err) {
    return `connect: ${(err as Error).message}`;
  }
  const reader = r.body?.getReader();
  if (reader === undefined) return "no body";
  const decoder = new TextDecoder();
  let buffered = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return "stream ended";
      buffered += decoder.decode(value, { stream: true });
      let nl: number;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line === "") continue;
        const msg = JSON.parse(line) as { result?: Record<string, unknown>; error?: unknown };
        if (msg.error !== undefined) return `error: ${JSON.stringify(msg.error)}`;
        const res = msg.result ?? {};
        if (res["canceled"] === true) return `canceled: ${String(res["cancel_reason"] ?? "")}`;
        const header = Number((res["header"] as { revision?: string } | undefined)?.revision ?? 0);
        const events = ((res["events"] as Array<Record<string, unknown>> | undefined) ?? []).map((e) => {
          const kv = (e["kv"] as { key?: string; value?: string; mod_revision?: string } | undefined) ?? {};
          const type = e["type"] === "DELETE" ? "DELETE" : "PUT";
          const ev: WatchEventJson = {
            type,
            key: unb64(kv.key),
            value: type === "DELETE" ? null : unb64(kv.value),
            revision: Number(kv.mod_revision ?? 0),
          };
          if (prevKv) {
            const prev = e["prev_kv"] as { value?: string } | undefined;
            ev.prevValue = prev === undefined || prev === null ? null : unb64(prev.value);
          }
          return ev;
        });
        onEvents(events, header);
      }
    }
  } catch (err) {
    return `read: ${(err as Error).message}`;
  }
}
