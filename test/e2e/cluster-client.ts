// A small client for the multi-process cluster tests: the JSON gateway for puts, ranges and
// status (one HTTP request per call, bounded in time, to one chosen member), and the peer port's
// test-only fault route for partitions.
import { setPeerFaults } from "../../src/transport/faults.js";

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const unb64 = (s: string) => Buffer.from(s, "base64").toString("utf8");

export interface MemberStatus {
  memberId: string;
  leader: string;
  raftTerm: number;
  raftIndex: number;
  appliedIndex: number;
}

async function post(url: string, path: string, body: unknown, timeoutMs: number): Promise<unknown> {
  const r = await fetch(`${url}${path}`, {
    method: "POST",
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const json = (await r.json()) as unknown;
  if (!r.ok) throw new Error(`${path} on ${url}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}

/** Status with IDs in hex (as raft node IDs and etcdctl print them). */
export async function status(url: string, timeoutMs = 2000): Promise<MemberStatus> {
  const s = (await post(url, "/v3/maintenance/status", {}, timeoutMs)) as {
    header?: { member_id?: string; raft_term?: string };
    leader?: string;
    raftIndex?: string;
    raftTerm?: string;
    raftAppliedIndex?: string;
  };
  return {
    memberId: BigInt(s.header?.member_id ?? "0").toString(16),
    leader: BigInt(s.leader ?? "0").toString(16),
    raftTerm: Number(s.raftTerm ?? 0),
    raftIndex: Number(s.raftIndex ?? 0),
    appliedIndex: Number(s.raftAppliedIndex ?? 0),
  };
}

/** HashKV of the member's current revision. */
export async function hashKv(url: string): Promise<number> {
  const r = (await post(url, "/v3/maintenance/hash", {}, 5000)) as { hash?: number | string };
  return Number(r.hash ?? 0);
}

export async function put(url: string, key: string, value: string, timeoutMs = 5000): Promise<number> {
  const r = (await post(url, "/v3/kv/put", { key: b64(key), value: b64(value) }, timeoutMs)) as {
    header?: { revision?: string };
  };
  return Number(r.header?.revision ?? 0);
}

/** Keys and values under a prefix; serializable reads answer from the member's own state. */
export async function rangePrefix(
  url: string,
  prefix: string,
  opts: { serializable?: boolean; timeoutMs?: number } = {},
): Promise<Map<string, string>> {
  const end = Buffer.from(prefix, "utf8");
  end[end.length - 1] = (end[end.length - 1] as number) + 1;
  const r = (await post(
    url,
    "/v3/kv/range",
    { key: b64(prefix), range_end: end.toString("base64"), serializable: opts.serializable === true },
    opts.timeoutMs ?? 5000,
  )) as { kvs?: Array<{ key: string; value?: string }> };
  return new Map((r.kvs ?? []).map((kv) => [unb64(kv.key), unb64(kv.value ?? "")]));
}

/** Sets the drop lists of a member started with KVORUM_FAULT_INJECTION=1 (empty lists heal). */
export const setFaults = setPeerFaults;

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls until `check` returns a value (not undefined), or throws after timeoutMs. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await sleep(50);
  }
  throw new Error(
    `${what}: not within ${timeoutMs} ms${last !== undefined ? ` (last error: ${String(last)})` : ""}`,
  );
}
