// Side by side: the same raw HTTP requests to etcd 3.4's JSON gateway and to Kvorum's, with
// 64-bit integers as JSON numbers and as strings, at and beyond their limits, top-level and
// nested. The answers (HTTP status and JSON body) must be the same; only what two clusters cannot
// share is normalised away: cluster_id, member_id and raft_term in response headers.

import assert from "node:assert/strict";
import { after, test } from "node:test";
import { killAll, type RunningServer } from "./harness.js";
import { onBoth, PARITY_SKIP } from "./parity.js";

after(killAll);

interface Answer {
  request: string;
  status: number;
  body: unknown;
}

/** Drops the per-cluster header fields at any depth; keeps the revision. */
function normalise(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalise);
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (k === "cluster_id" || k === "member_id" || k === "raft_term") continue;
    out[k] = normalise(v);
  }
  return out;
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

async function post(server: RunningServer, path: string, body: string): Promise<Answer> {
  const response = await fetch(`${server.endpoint}${path}`, {
    method: "POST",
    body,
    signal: AbortSignal.timeout(10_000),
  });
  return {
    request: `${path} ${body}`,
    status: response.status,
    body: normalise(parse(await response.text())),
  };
}

/** A streaming call: the status and the first `count` lines (or all of them if it ends sooner). */
async function stream(server: RunningServer, path: string, body: string, count: number): Promise<Answer> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 10_000);
  try {
    const response = await fetch(`${server.endpoint}${path}`, {
      method: "POST",
      body,
      signal: controller.signal,
    });
    const reader = response.body?.getReader();
    assert.ok(reader);
    const decoder = new TextDecoder();
    let text = "";
    let lines: string[] = [];
    for (;;) {
      lines = text.split("\n").filter((l) => l.trim() !== "");
      if (lines.length >= count && text.endsWith("\n")) break;
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    controller.abort();
    return {
      request: `${path} ${body}`,
      status: response.status,
      body: lines.slice(0, count).map(parse).map(normalise),
    };
  } finally {
    clearTimeout(timer);
  }
}

const BIG_ID = "1586297816967798058";
const INT64_MAX = "9223372036854775807";

test(
  "64-bit integers in gateway requests: same answers as etcd, as numbers and as strings",
  { skip: PARITY_SKIP, timeout: 120_000 },
  async () => {
    const { etcd, kvorum } = await onBoth(async (server) => {
      const answers: Answer[] = [];
      const add = async (path: string, body: string): Promise<void> => {
        answers.push(await post(server, path, body));
      };
      // A lease with an ID above 2^53, given as a number, read back with it as a string.
      await add("/v3/lease/grant", `{"TTL":123,"ID":${BIG_ID}}`);
      await add("/v3/lease/grant", `{"TTL":60,"ID":"${INT64_MAX}"}`);
      const ttl = await post(server, "/v3/lease/timetolive", `{"ID":"${BIG_ID}"}`);
      const ttlBody = ttl.body as { TTL?: string; grantedTTL?: string };
      // The remaining TTL may have ticked; it must still be the lease's.
      assert.ok(Number(ttlBody.TTL) > 100 && Number(ttlBody.TTL) <= 123, JSON.stringify(ttl));
      answers.push({ ...ttl, body: { ...ttlBody, TTL: "<remaining>" } });
      const leases = await post(server, "/v3/lease/leases", "{}");
      const ids = ((leases.body as { leases?: { ID: string }[] }).leases ?? []).map((l) => l.ID).sort();
      answers.push({ ...leases, body: ids });
      await add("/v3/lease/revoke", `{"ID":${BIG_ID}}`);
      await add("/v3/lease/timetolive", `{"ID":${BIG_ID}}`);
      await add("/v3/lease/revoke", `{"ID":"${INT64_MAX}"}`);
      await add("/v3/lease/revoke", `{"ID":"${INT64_MAX}"}`);

      // Revisions as numbers, strings and padded strings.
      await add("/v3/kv/put", '{"key":"YQ==","value":"MQ=="}');
      await add("/v3/kv/put", '{"key":"YQ==","value":"Mg==","lease":"0"}');
      await add("/v3/kv/range", '{"key":"YQ==","revision":2}');
      await add("/v3/kv/range", '{"key":"YQ==","revision":"2"}');
      await add("/v3/kv/range", '{"key":"YQ==","revision":" 3 ","limit":"1"}');
      await add("/v3/kv/range", '{"key":"YQ==","revision":"null"}');
      await add("/v3/kv/range", `{"key":"YQ==","revision":${INT64_MAX}}`);
      await add("/v3/kv/range", '{"key":"YQ==","sort_order":"DESCEND","sort_target":3}');
      // Nested: a txn compare at the int64 limit, and a put inside a nested txn.
      await add(
        "/v3/kv/txn",
        `{"compare":[{"key":"YQ==","target":"MOD","result":"LESS","mod_revision":"${INT64_MAX}"}],` +
          '"success":[{"request_txn":{"success":[{"request_range":{"key":"YQ==","revision":2}}]}}]}',
      );
      // An election leader key at the limits: not the leader, so nothing to resign.
      await add(
        "/v3/election/resign",
        `{"leader":{"name":"ZQ==","key":"ZS8x","rev":"${INT64_MAX}","lease":${INT64_MAX}}}`,
      );
      await add(
        "/v3/election/resign",
        '{"leader":{"name":"ZQ==","key":"ZS8x","rev":"-9223372036854775808"}}',
      );
      // uint64: member IDs up to 2^64-1.
      await add("/v3/cluster/member/remove", '{"ID":18446744073709551615}');
      await add("/v3/cluster/member/remove", '{"ID":"18446744073709551615"}');
      // etcd 3.4's AlarmResponse carries no header at all (Kvorum's does): only the rest is compared.
      const alarm = await post(
        server,
        "/v3/maintenance/alarm",
        '{"action":"GET","memberID":"18446744073709551615"}',
      );
      answers.push({ ...alarm, body: { ...(alarm.body as object), header: undefined } });
      // A lease TTL beyond etcd's maximum and a negative one.
      await add("/v3/lease/grant", `{"ID":5,"TTL":${INT64_MAX}}`);
      await add("/v3/lease/grant", '{"ID":6,"TTL":"-9223372036854775808"}');

      // Values that do not fit: the error status and body must be etcd's.
      for (const body of [
        '{"ID":9223372036854775808,"TTL":5}',
        '{"ID":"9223372036854775808","TTL":5}',
        '{"ID":-9223372036854775809,"TTL":5}',
        '{"ID":1.5,"TTL":5}',
        '{"ID":"1.5","TTL":5}',
        '{"ID":1.0,"TTL":5}',
        '{"ID":1e3,"TTL":5}',
        '{"ID":"1e3","TTL":5}',
        '{"TTL":1E2}',
        '{"ID":"","TTL":5}',
        '{"ID":"+5","TTL":5}',
        '{"ID":"0x10","TTL":5}',
        '{"ID":"007","TTL":5}',
        '{"ID":"1.","TTL":5}',
        '{"ID":"\\u0031","TTL":5}',
        '{"ID":true,"TTL":5}',
        '{"ID":"true","TTL":5}',
        '{"ID":[1],"TTL":5}',
      ]) {
        await add("/v3/lease/grant", body);
      }
      for (const body of [
        '{"ID":-1}',
        '{"ID":"-1"}',
        '{"ID":-0}',
        '{"ID":18446744073709551616}',
        '{"ID":1e2}',
      ]) {
        await add("/v3/cluster/member/remove", body);
      }
      for (const body of [
        '{"key":"YQ==","sort_order":2147483648}',
        '{"key":"YQ==","sort_order":"1"}',
        '{"key":"YQ==","sort_order":1.5}',
        '{"key":"YQ==","limit":"x","sort_order":"X"}',
        '{"key":"YQ","revision":1}',
        '{"key":5}',
        '{"key":"YQ==","serializable":"true"}',
        "[1]",
      ]) {
        await add("/v3/kv/range", body);
      }
      await add("/v3/kv/compaction", '{"revision":9223372036854775808}');
      await add("/v3/kv/txn", '{"compare":[{"key":"YQ==","target":"VERSION","version":"1.5"}]}');
      await add("/v3/kv/txn", '{"success":[{"requestPut":{"key":"Yg==","lease":"18446744073709551615"}}]}');
      await add(
        "/v3/election/proclaim",
        '{"leader":{"name":"ZQ==","lease":"-9223372036854775809"},"value":"dg=="}',
      );
      await add("/v3/lock/lock", '{"name":"bA==","lease":9223372036854775808}');

      // Streams: a start revision as a string; an unreadable first request fails the call.
      answers.push(
        await stream(server, "/v3/watch", '{"create_request":{"key":"YQ==","start_revision":"2"}}', 2),
      );
      answers.push(
        await stream(
          server,
          "/v3/watch",
          '{"create_request":{"key":"YQ==","start_revision":9223372036854775808}}',
          1,
        ),
      );
      answers.push(
        await stream(server, "/v3/watch", '{"create_request":{"key":"YQ==","filters":"NODELETE"}}', 1),
      );
      // Watch IDs a client picks beyond 2^53: created, refused as duplicates, cancelled, exactly.
      answers.push(
        await stream(
          server,
          "/v3/watch",
          '{"create_request":{"key":"YQ==","watch_id":9007199254740993}}' +
            '{"create_request":{"key":"Yg==","watch_id":"9007199254740993"}}' +
            '{"create_request":{"key":"Yg==","watch_id":9007199254740992}}' +
            '{"cancel_request":{"watch_id":"9007199254740993"}}' +
            '{"cancel_request":{"watch_id":"9007199254740995"}}' +
            '{"create_request":{"key":"Yg==","watch_id":-9223372036854775808}}' +
            '{"create_request":{"key":"Yg=="}}' +
            '{"cancel_request":{"watch_id":-9223372036854775808}}',
          7,
        ),
      );
      answers.push(await stream(server, "/v3/lease/keepalive", '{"ID":1.5}', 1));
      answers.push(await stream(server, "/v3/lease/keepalive", `{"ID":"${INT64_MAX}"}`, 1));
      return answers;
    });
    assert.equal(kvorum.length, etcd.length);
    for (let i = 0; i < etcd.length; i++) {
      assert.deepEqual(kvorum[i], etcd[i], `request ${i}: ${etcd[i]?.request}`);
    }
  },
);
