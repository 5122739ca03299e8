// The JSON gateway (what Patroni and curl users speak) against the target server, compared with
// etcd 3.4's answers captured in test/fixtures/etcdctl/gateway.txt: status codes, JSON field
// names, int64 as strings, omitted defaults, error bodies, and the streaming watch.

import { after, test } from "node:test";
import assert from "node:assert/strict";
import {
  ETCD_MISSING,
  assertGolden,
  e2eTarget,
  killAll,
  startServer,
  type RunningServer,
} from "./harness.js";

const target = e2eTarget();
const skip = target === "etcd" ? ETCD_MISSING : false;

after(killAll);

const b64 = (text: string): string => Buffer.from(text, "utf8").toString("base64");

class GatewayTranscript {
  private readonly parts: string[] = [];
  constructor(private readonly server: RunningServer) {}

  async post(path: string, body: string): Promise<unknown> {
    const response = await fetch(`${this.server.endpoint}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    this.parts.push(`POST ${path} ${body}\n-> ${response.status} ${text.trim()}\n`);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return undefined;
    }
  }

  async get(path: string): Promise<void> {
    const response = await fetch(`${this.server.endpoint}${path}`, { signal: AbortSignal.timeout(10_000) });
    const text = await response.text();
    this.parts.push(`GET ${path}\n-> ${response.status} ${text.trim()}\n`);
  }

  /**
   * Open a streaming watch, run `during` while it is open, and record the first `count`
   * newline-separated JSON messages the stream delivered.
   */
  async watch(body: string, count: number, during: () => Promise<void> = async () => {}): Promise<void> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 10_000);
    const response = await fetch(`${this.server.endpoint}/v3/watch`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      signal: controller.signal,
    });
    const messages: string[] = [];
    let buffered = "";
    const reader = response.body?.getReader();
    assert.ok(reader, "watch response has a body");
    const decoder = new TextDecoder();
    let ran = false;
    try {
      while (messages.length < count) {
        const { value, done } = await reader.read();
        if (done) break;
        buffered += decoder.decode(value, { stream: true });
        let newline: number;
        while ((newline = buffered.indexOf("\n")) >= 0) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          if (line !== "") messages.push(line);
        }
        // The first message confirms the watch exists; only then make the changes it should see.
        if (!ran && messages.length > 0) {
          ran = true;
          await during();
        }
      }
    } catch (err) {
      if (!controller.signal.aborted) throw err;
    } finally {
      clearTimeout(timer);
      controller.abort();
    }
    this.parts.push(`WATCH ${body}\n-> ${response.status}\n${messages.map((m) => `   ${m}\n`).join("")}`);
    assert.equal(messages.length, count, `watch delivered ${messages.length} of ${count} messages`);
  }

  /** Lease ids are random per run: show them as a placeholder; remaining TTL depends on timing. */
  text(leaseIds: Record<string, string> = {}): string {
    let out = this.parts.join("");
    for (const [id, placeholder] of Object.entries(leaseIds)) out = out.split(id).join(placeholder);
    return out.replace(/"TTL":"\d+","grantedTTL"/g, '"TTL":"<N>","grantedTTL"');
  }
}

test(`JSON gateway requests and streaming watch (${target})`, { skip, timeout: 60_000 }, async () => {
  const server = await startServer(target);
  const t = new GatewayTranscript(server);
  try {
    await t.get("/health");
    await t.post("/v3/kv/put", JSON.stringify({ key: b64("foo"), value: b64("bar") }));
    await t.post("/v3/kv/put", JSON.stringify({ key: b64("foo2"), value: b64("x"), prev_kv: true }));
    await t.post("/v3/kv/put", JSON.stringify({ key: b64("foo2"), value: b64("y"), prev_kv: true }));
    await t.post("/v3/kv/range", JSON.stringify({ key: b64("foo") }));
    await t.post("/v3/kv/range", JSON.stringify({ key: b64("foo"), range_end: b64("fop"), limit: 1 }));
    await t.post(
      "/v3/kv/range",
      JSON.stringify({ key: b64("foo"), range_end: b64("fop"), count_only: true }),
    );
    await t.post("/v3/kv/range", JSON.stringify({ key: b64("foo"), range_end: b64("fop"), keys_only: true }));
    await t.post("/v3/kv/range", JSON.stringify({ key: b64("missing") }));
    await t.post("/v3/kv/range", JSON.stringify({ key: b64("foo"), revision: "100" }));
    await t.post("/v3/kv/range", JSON.stringify({ key: b64("foo"), serializable: true }));
    await t.post("/v3/kv/range", "{}");
    await t.post("/v3/kv/range", "garbage");
    await t.post("/v3beta/kv/range", JSON.stringify({ key: b64("foo") }));
    await t.post(
      "/v3/kv/txn",
      JSON.stringify({
        compare: [{ key: b64("foo"), result: "EQUAL", target: "VALUE", value: b64("bar") }],
        success: [
          { request_put: { key: b64("foo"), value: b64("baz") } },
          { request_range: { key: b64("foo") } },
        ],
        failure: [{ request_range: { key: b64("foo2") } }],
      }),
    );
    await t.post(
      "/v3/kv/txn",
      JSON.stringify({
        compare: [{ key: b64("foo"), result: "EQUAL", target: "MOD", mod_revision: "1" }],
        success: [{ request_delete_range: { key: b64("foo") } }],
        failure: [
          {
            request_txn: {
              compare: [{ key: b64("foo2"), target: "VERSION", result: "GREATER", version: "0" }],
              success: [{ request_range: { key: b64("foo2") } }],
            },
          },
        ],
      }),
    );
    const grant = (await t.post("/v3/lease/grant", JSON.stringify({ TTL: 60 }))) as
      { ID?: string } | undefined;
    const leaseId = grant?.ID ?? "0";
    await t.post("/v3/kv/put", JSON.stringify({ key: b64("leased"), value: b64("l"), lease: leaseId }));
    const ttl = (await t.post("/v3/lease/timetolive", JSON.stringify({ ID: leaseId, keys: true }))) as
      { TTL?: string } | undefined;
    const remaining = Number(ttl?.TTL);
    assert.ok(remaining >= 55 && remaining <= 60, `remaining TTL ${ttl?.TTL}`);
    await t.post("/v3/lease/timetolive", JSON.stringify({ ID: "12345" }));
    await t.post("/v3/lease/revoke", JSON.stringify({ ID: leaseId }));
    await t.post("/v3/lease/revoke", JSON.stringify({ ID: leaseId }));
    await t.post("/v3/cluster/member/list", "{}");
    await t.post("/v3/kv/deleterange", JSON.stringify({ key: b64("foo2"), prev_kv: true }));
    await t.watch(JSON.stringify({ create_request: { key: b64("w"), prev_kv: true } }), 3, async () => {
      await fetch(`${server.endpoint}/v3/kv/put`, {
        method: "POST",
        body: JSON.stringify({ key: b64("w"), value: b64("1") }),
      });
      await fetch(`${server.endpoint}/v3/kv/deleterange`, {
        method: "POST",
        body: JSON.stringify({ key: b64("w") }),
      });
    });
    await t.watch(JSON.stringify({ create_request: { key: b64("foo"), start_revision: "1" } }), 2);
    await t.post("/v3/kv/compaction", JSON.stringify({ revision: "5" }));
    await t.watch(JSON.stringify({ create_request: { key: b64("foo"), start_revision: "2" } }), 2);
    assertGolden("gateway.txt", t.text({ [leaseId]: "<LEASE1>" }));

    // Status carries sizes and raft indexes that differ between servers: check the shape.
    const status = await fetch(`${server.endpoint}/v3/maintenance/status`, { method: "POST", body: "{}" });
    assert.equal(status.status, 200);
    const statusJson = (await status.json()) as Record<string, unknown>;
    for (const field of ["version", "dbSize", "leader", "raftIndex", "raftTerm", "raftAppliedIndex"]) {
      assert.equal(typeof statusJson[field], "string", `status.${field} is a string`);
    }
    const version = (await (await fetch(`${server.endpoint}/version`)).json()) as Record<string, unknown>;
    assert.match(String(version.etcdserver), /^3\.\d+\.\d+/);
    assert.match(String(version.etcdcluster), /^3\.\d+\.0$/);
  } catch (err) {
    process.stderr.write(`--- ${target} log tail ---\n${server.log().slice(-3000)}\n`);
    throw err;
  } finally {
    await server.stop();
  }
});
