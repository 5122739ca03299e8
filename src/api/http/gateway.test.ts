import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { createMetrics } from "../../common/metrics.js";
import { Errors } from "../../mvcc/errors.js";
import type { MemberApi, StatusInfo } from "../../server/member-api.js";
import { AlarmType } from "../../server/member-api.js";
import type { CallContext, HandlerTable, PlainMessage } from "../handler-types.js";
import { jsonValueToJs } from "./go-json.js";
import { JsonStreamSplitter } from "./json-stream.js";
import { createHttpHandler, instrumentHandlers, type JsonCodec } from "./index.js";

// The codec is PROTO's job; an identity codec keeps these tests about the HTTP mechanics.
const identityCodec: JsonCodec = {
  plainFromJson: (_type, tree) => {
    const json = tree === undefined ? {} : jsonValueToJs(tree);
    if (typeof json !== "object" || json === null || Array.isArray(json))
      throw new Error("expected an object");
    return json as PlainMessage;
  },
  plainToJson: (_type, msg) => msg,
};

interface FakeState {
  leader: bigint;
  alarms: { memberId: bigint; alarm: AlarmType }[];
  lastMetadata?: ReadonlyMap<string, string>;
}

function fakeMember(state: FakeState): MemberApi {
  const status: StatusInfo = {
    version: "3.4.0",
    dbSize: 4096,
    dbSizeInUse: 2048,
    leader: 1n,
    raftIndex: 7,
    raftTerm: 2,
    raftAppliedIndex: 7,
    errors: [],
    isLearner: false,
    revision: 3,
  };
  const partial: Partial<MemberApi> = {
    header: () => ({ clusterId: 9n, memberId: 1n, raftTerm: 2 }),
    status: async () => ({ ...status, leader: state.leader }),
    alarm: async () => ({ alarms: state.alarms, revision: 3 }),
    range: async () => ({ header: { revision: 3 } as never, kvs: [], more: false, count: 5 }),
  };
  return partial as MemberApi;
}

function fakeTable(state: FakeState): HandlerTable {
  const kv = new Map<string, string>();
  const table: HandlerTable = new Map();
  table.set("/etcdserverpb.KV/Put", {
    kind: "unary",
    requestType: "etcdserverpb.PutRequest",
    responseType: "etcdserverpb.PutResponse",
    async handle(req: PlainMessage, ctx: CallContext) {
      state.lastMetadata = ctx.metadata;
      if (req["key"] === undefined || req["key"] === "") throw Errors.emptyKey();
      kv.set(String(req["key"]), String(req["value"]));
      return { header: { revision: String(kv.size + 1) } };
    },
  });
  table.set("/etcdserverpb.KV/Range", {
    kind: "unary",
    requestType: "etcdserverpb.RangeRequest",
    responseType: "etcdserverpb.RangeResponse",
    async handle(req: PlainMessage) {
      const v = kv.get(String(req["key"]));
      return v === undefined ? { count: "0" } : { kvs: [{ key: req["key"], value: v }], count: "1" };
    },
  });
  // Echoes each request; ends OK when the client half-closes; {"fail":true} ends with an error.
  table.set("/etcdserverpb.Watch/Watch", {
    kind: "bidi",
    requestType: "etcdserverpb.WatchRequest",
    responseType: "etcdserverpb.WatchResponse",
    open(out) {
      return {
        message(req) {
          if (req["fail"] === true) out.end(Errors.compacted());
          else out.send({ echo: req });
        },
        end: () => out.end(),
      };
    },
  });
  table.set("/etcdserverpb.Maintenance/Snapshot", {
    kind: "server-stream",
    requestType: "etcdserverpb.SnapshotRequest",
    responseType: "etcdserverpb.SnapshotResponse",
    async *handle() {
      yield { blob: "a", remaining_bytes: "1" };
      yield { blob: "b", remaining_bytes: "0" };
    },
  });
  return table;
}

async function startServer(state: FakeState) {
  const metrics = createMetrics({ processMetrics: false });
  const member = fakeMember(state);
  metrics.attachMember(member);
  const table = instrumentHandlers(fakeTable(state), metrics);
  const server = http.createServer(
    createHttpHandler(table, member, { codec: identityCodec, maxRequestBytes: 1024, metrics }),
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { base, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

async function post(url: string, body: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { method: "POST", body, headers, signal: AbortSignal.timeout(5000) });
  return { status: res.status, type: res.headers.get("content-type"), text: await res.text() };
}

test("json stream splitter finds values across chunks", () => {
  const s = new JsonStreamSplitter(1000);
  const push = (text: string): unknown[] => s.push(Buffer.from(text)).map(jsonValueToJs);
  assert.deepEqual(push('{"a":1}{"b":"}'), [{ a: 1 }]);
  assert.deepEqual(push('x\\"{"}\n {"c":[1,{}]}  '), [{ b: '}x"{' }, { c: [1, {}] }]);
  // Numbers stay exact text in the tree.
  const [big] = s.push(Buffer.from('{"r":9223372036854775807}'));
  const r = big?.kind === "object" ? big.fields.get("r") : undefined;
  assert.equal(r?.kind === "number" ? r.text : undefined, "9223372036854775807");
  assert.equal(s.hasPartialValue(), false);
  const bad = new JsonStreamSplitter(1000);
  assert.deepEqual(bad.push(Buffer.from("nope")), []);
  assert.equal(bad.error?.message, "invalid character 'o' in literal null (expecting 'u')");
  const long = new JsonStreamSplitter(5);
  long.push(Buffer.from('{"long value"'));
  assert.ok(long.error instanceof RangeError);
  // Values before a bad one in the same chunk are still delivered; nothing after it is.
  const mixed = new JsonStreamSplitter(1000);
  assert.deepEqual(mixed.push(Buffer.from('{"a":1} {"b":2} xx {"c":3}')).map(jsonValueToJs), [
    { a: 1 },
    { b: 2 },
  ]);
  assert.equal(mixed.error?.message, "invalid character 'x' looking for beginning of value");
  // A number at the end of a chunk may go on in the next one; the body's end completes it.
  const nums = new JsonStreamSplitter(1000);
  assert.deepEqual(nums.push(Buffer.from("12")), []);
  assert.deepEqual(nums.push(Buffer.from("3")), []);
  assert.deepEqual(nums.end().map(jsonValueToJs), [123]);
  const cut = new JsonStreamSplitter(1000);
  assert.deepEqual(cut.push(Buffer.from('{"a":')), []);
  assert.equal(cut.error, undefined);
  assert.deepEqual(cut.end(), []);
  assert.equal((cut.error as Error | undefined)?.message, "unexpected EOF");
});

test("unary gateway calls, errors and routing", { timeout: 15_000 }, async () => {
  const state: FakeState = { leader: 1n, alarms: [] };
  const { base, close } = await startServer(state);
  try {
    const put = await post(`${base}/v3/kv/put`, '{"key":"Zm9v","value":"YmFy"}', { authorization: "tok" });
    assert.equal(put.status, 200);
    assert.equal(put.type, "application/json");
    assert.deepEqual(JSON.parse(put.text), { header: { revision: "2" } });
    assert.equal(state.lastMetadata?.get("token"), "tok");

    const range = await post(`${base}/v3beta/kv/range`, '{"key":"Zm9v"}');
    assert.deepEqual(JSON.parse(range.text), { kvs: [{ key: "Zm9v", value: "YmFy" }], count: "1" });

    const empty = await post(`${base}/v3/kv/put`, "");
    assert.equal(empty.status, 400);
    assert.deepEqual(JSON.parse(empty.text), {
      error: "etcdserver: key is not provided",
      message: "etcdserver: key is not provided",
      code: 3,
    });

    const garbage = await post(`${base}/v3/kv/put`, "garbage");
    assert.equal(garbage.status, 400);
    assert.equal(JSON.parse(garbage.text).code, 3);

    const big = await post(
      `${base}/v3/kv/put`,
      JSON.stringify({ key: "k", value: "x".repeat(3 * 1024 * 1024) }),
    );
    assert.equal(big.status, 429);
    assert.equal(JSON.parse(big.text).code, 8);

    const missing = await post(`${base}/v3/kv/nothing`, "{}");
    assert.equal(missing.status, 404);
    const unimpl = await post(`${base}/v3/auth/status`, "{}");
    assert.equal(unimpl.status, 501);
    assert.equal(JSON.parse(unimpl.text).code, 12);

    const get = await fetch(`${base}/v3/kv/range`, { signal: AbortSignal.timeout(5000) });
    assert.equal(get.status, 405);
    assert.equal(get.headers.get("access-control-allow-origin"), "*");
    await get.text();
  } finally {
    await close();
  }
});

test(
  "bidi stream: responses flow before the body ends, errors end the stream",
  { timeout: 15_000 },
  async () => {
    const state: FakeState = { leader: 1n, alarms: [] };
    const { base, close } = await startServer(state);
    try {
      const lines: string[] = [];
      let firstLine: () => void = () => {};
      const gotFirst = new Promise<void>((resolve) => (firstLine = resolve));
      const req = http.request(`${base}/v3/watch`, { method: "POST" });
      const done = new Promise<number>((resolve, reject) => {
        req.on("response", (res) => {
          let buf = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => {
            buf += c;
            let nl: number;
            while ((nl = buf.indexOf("\n")) >= 0) {
              lines.push(buf.slice(0, nl));
              buf = buf.slice(nl + 1);
              firstLine();
            }
          });
          res.on("end", () => resolve(res.statusCode ?? 0));
        });
        req.on("error", reject);
      });
      req.write('{"create_request":{"key":"YQ=="}}');
      await gotFirst; // the body is still open
      assert.deepEqual(JSON.parse(lines[0] as string), {
        result: { echo: { create_request: { key: "YQ==" } } },
      });
      req.write('\n{"progress_request":{}}');
      req.end();
      assert.equal(await done, 200);
      assert.equal(lines.length, 2);

      const failed = await post(`${base}/v3/watch`, '{"fail":true}');
      assert.equal(failed.status, 400);
      assert.deepEqual(JSON.parse(failed.text), {
        error: {
          grpc_code: 11,
          http_code: 400,
          message: "etcdserver: mvcc: required revision has been compacted",
          http_status: "Bad Request",
        },
      });

      // An unreadable first request fails the call as grpc-gateway does: HTTP 500, code Unknown,
      // the unary error shape. One that follows a good request only half-closes the stream.
      for (const [body, message] of [
        ["garbage", "invalid character 'g' looking for beginning of value"],
        ['{"create_request":', "unexpected EOF"],
      ]) {
        const bad = await post(`${base}/v3/watch`, body as string);
        assert.equal(bad.status, 500, body);
        assert.deepEqual(JSON.parse(bad.text), { error: message, message, code: 2 });
      }
      const later = await post(`${base}/v3/watch`, '{"create_request":{}} {"create_request":{}} xx');
      assert.equal(later.status, 200);
      assert.equal(later.text.trim().split("\n").length, 2);

      const snap = await post(`${base}/v3/maintenance/snapshot`, "{}");
      assert.equal(snap.status, 200);
      assert.deepEqual(
        snap.text
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l)),
        [{ result: { blob: "a", remaining_bytes: "1" } }, { result: { blob: "b", remaining_bytes: "0" } }],
      );
    } finally {
      await close();
    }
  },
);

test("/health, /version and /metrics", { timeout: 15_000 }, async () => {
  const state: FakeState = { leader: 1n, alarms: [] };
  const { base, close } = await startServer(state);
  try {
    const get = (p: string) => fetch(base + p, { signal: AbortSignal.timeout(5000) });
    let res = await get("/health");
    assert.equal(res.status, 200);
    assert.equal(await res.text(), '{"health":"true"}');

    state.alarms = [{ memberId: 1n, alarm: AlarmType.NOSPACE }];
    res = await get("/health");
    assert.equal(res.status, 503);
    assert.equal(await res.text(), '{"health":"false"}\n');
    res = await get("/health?exclude=NOSPACE");
    assert.equal(res.status, 200);
    await res.text();

    state.alarms = [];
    state.leader = 0n;
    res = await get("/health");
    assert.equal(res.status, 503);
    await res.text();
    state.leader = 1n;

    res = await fetch(base + "/health", { method: "POST", signal: AbortSignal.timeout(5000) });
    assert.equal(res.status, 405);
    await res.text();

    res = await get("/version");
    assert.deepEqual(await res.json(), { etcdserver: "3.4.31", etcdcluster: "3.4.0" });

    await post(`${base}/v3/kv/put`, '{"key":"a","value":"b"}');
    res = await get("/metrics");
    const text = await res.text();
    for (const line of [
      "etcd_server_has_leader 1",
      "etcd_server_is_leader 1",
      "etcd_server_proposals_committed_total 7",
      "etcd_mvcc_db_total_size_in_bytes 4096",
      "etcd_mvcc_db_total_size_in_use_in_bytes 2048",
      "etcd_debugging_mvcc_keys_total 5",
      'etcd_server_version{server_version="3.4.31"} 1',
      'grpc_server_started_total{grpc_type="unary",grpc_service="etcdserverpb.KV",grpc_method="Put"} 1',
      'grpc_server_handled_total{grpc_type="unary",grpc_service="etcdserverpb.KV",grpc_method="Put",grpc_code="OK"} 1',
      'grpc_server_started_total{grpc_type="unary",grpc_service="etcdserverpb.KV",grpc_method="Range"} 0',
    ]) {
      assert.ok(text.includes(line + "\n"), `metrics should contain ${line}`);
    }
  } finally {
    await close();
  }
});
