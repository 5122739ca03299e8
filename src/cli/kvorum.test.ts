// The kvorum binary end to end: start it on a free port with a temp data dir, use the JSON gateway
// and the HTTP endpoints with plain HTTP, then SIGTERM it.
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { findPackageRoot } from "../proto/load.js";

// From the sources (tsx) run kvorum.ts; from dist/ run the compiled kvorum.js next to this file.
const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = findPackageRoot(HERE);
const NODE_ARGS = import.meta.url.endsWith(".ts")
  ? ["--import", "tsx", join(HERE, "kvorum.ts")]
  : ["--enable-source-maps", join(HERE, "kvorum.js")];

const b64 = (s: string): string => Buffer.from(s).toString("base64");
const unb64 = (s: string): string => Buffer.from(s, "base64").toString();

/** A clean environment: no ETCD_* variables from the caller leak into the server. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("ETCD_")) env[k] = v;
  return env;
}

function runOnce(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...NODE_ARGS, ...args], {
    cwd: ROOT,
    env: cleanEnv(),
    encoding: "utf8",
    timeout: 20_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("unknown flag: exit 1 naming the flag", { timeout: 30_000 }, () => {
  const r = runOnce(["--no-such-flag=1"]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /--no-such-flag/);
  assert.match(r.stderr, /kvorum --help/);
});

test("--version and --help", { timeout: 30_000 }, () => {
  const v = runOnce(["--version"]);
  assert.equal(v.status, 0);
  assert.match(v.stdout, /^kvorum Version: \d+\.\d+\.\d+\netcd API Version: 3\.4\.\d+\n/);
  const h = runOnce(["--help"]);
  assert.equal(h.status, 0);
  assert.match(h.stdout, /--listen-client-urls/);
});

interface Started {
  child: ChildProcess;
  base: string;
  metricsBase: string | undefined;
  logs: string[];
  exited: Promise<number | null>;
}

/** Starts kvorum and resolves with its client URL once it logs the ready line. */
async function startKvorum(dataDir: string, extra: string[] = [], scheme = "http"): Promise<Started> {
  const child = spawn(
    process.execPath,
    [
      ...NODE_ARGS,
      "--data-dir",
      dataDir,
      "--listen-client-urls",
      `${scheme}://127.0.0.1:0`,
      "--advertise-client-urls",
      `${scheme}://127.0.0.1:0`,
      "--listen-peer-urls",
      "http://127.0.0.1:0",
      "--logger=zap",
      ...extra,
    ],
    { cwd: ROOT, env: cleanEnv(), stdio: ["ignore", "ignore", "pipe"] },
  );
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const logs: string[] = [];
  type ReadyLine = { msg?: string; "listen-client-urls"?: string[]; "listen-metrics-urls"?: string[] };
  const ready = await new Promise<ReadyLine>((resolve, reject) => {
    const lines = createInterface({ input: child.stderr as NodeJS.ReadableStream });
    lines.on("line", (line) => {
      logs.push(line);
      try {
        const entry = JSON.parse(line) as ReadyLine;
        if (entry.msg === "ready to serve client requests") resolve(entry);
      } catch {
        // not a log line
      }
    });
    void exited.then((code) => reject(new Error(`kvorum exited with ${code}:\n${logs.join("\n")}`)));
  });
  const base = ready["listen-client-urls"]?.[0] ?? "";
  return { child, base, metricsBase: ready["listen-metrics-urls"]?.[0], logs, exited };
}

/** Walks into parsed JSON: at(x, "kvs", 0, "value"). */
function at(value: unknown, ...path: (string | number)[]): unknown {
  let v = value;
  for (const step of path) v = (v as Record<string | number, unknown> | undefined)?.[step];
  return v;
}
const str = (value: unknown, ...path: (string | number)[]): string => String(at(value, ...path));

async function post(base: string, path: string, body: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(base + path, {
    method: "POST",
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  return { status: res.status, json: await res.json() };
}

/** Opens a streaming gateway call; `next()` resolves with each response line. */
function openStream(base: string, path: string) {
  const req = http.request(base + path, { method: "POST" });
  const queue: unknown[] = [];
  const waiting: ((v: unknown) => void)[] = [];
  let status = 0;
  req.on("response", (res) => {
    status = res.statusCode ?? 0;
    // close() destroys the request; the half-read response (and readline over it) then report
    // "aborted", which is expected.
    res.on("error", () => {});
    const lines = createInterface({ input: res });
    lines.on("error", () => {});
    lines.on("line", (line) => {
      if (line.trim() === "") return;
      const value: unknown = JSON.parse(line);
      const w = waiting.shift();
      if (w) w(value);
      else queue.push(value);
    });
  });
  req.on("error", () => {});
  return {
    send: (msg: unknown) => req.write(JSON.stringify(msg)),
    next: (): Promise<unknown> =>
      queue.length > 0
        ? Promise.resolve(queue.shift())
        : new Promise((resolve, reject) => {
            waiting.push(resolve);
            setTimeout(() => reject(new Error("no stream response within 5 s")), 5000).unref();
          }),
    status: () => status,
    close: () => req.destroy(),
  };
}

test("kvorum serves the gateway and HTTP endpoints, and stops on SIGTERM", { timeout: 60_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "kvorum-cli-"));
  let server: Started | undefined;
  try {
    server = await startKvorum(join(dataDir, "data"), ["--listen-metrics-urls", "http://127.0.0.1:0"]);
    const { base } = server;
    const ready = server.logs.filter((l) => l.includes('"ready to serve client requests"'));
    assert.equal(ready.length, 1);
    assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/);

    // Health and version.
    const health = await fetch(base + "/health", { signal: AbortSignal.timeout(5000) });
    assert.equal(health.status, 200);
    assert.equal(await health.text(), '{"health":"true"}');
    const version = await fetch(base + "/version", { signal: AbortSignal.timeout(5000) });
    assert.deepEqual(await version.json(), { etcdserver: "3.4.31", etcdcluster: "3.4.0" });

    // Put, range, txn.
    const put = await post(base, "/v3/kv/put", { key: b64("foo"), value: b64("bar") });
    assert.equal(put.status, 200);
    const rev = Number(str(put.json, "header", "revision"));
    assert.ok(rev >= 2);
    assert.ok(/^\d+$/.test(str(put.json, "header", "cluster_id")));
    const range = await post(base, "/v3/kv/range", { key: b64("foo") });
    assert.equal(at(range.json, "count"), "1");
    assert.equal(unb64(str(range.json, "kvs", 0, "value")), "bar");
    const txn = await post(base, "/v3/kv/txn", {
      compare: [{ key: b64("foo"), target: "VALUE", result: "EQUAL", value: b64("bar") }],
      success: [{ request_put: { key: b64("foo"), value: b64("baz") } }],
      failure: [{ request_range: { key: b64("foo") } }],
    });
    assert.equal(txn.status, 200);
    assert.equal(at(txn.json, "succeeded"), true);
    const empty = await post(base, "/v3/kv/range", {});
    assert.equal(empty.status, 400);
    assert.equal(at(empty.json, "message"), "etcdserver: key is not provided");
    assert.equal(at(empty.json, "code"), 3);

    // A watch stream sees a later put.
    const watch = openStream(base, "/v3/watch");
    watch.send({ create_request: { key: b64("w") } });
    const created = await watch.next();
    assert.equal(watch.status(), 200);
    assert.equal(at(created, "result", "created"), true);
    await post(base, "/v3/kv/put", { key: b64("w"), value: b64("1") });
    const event = await watch.next();
    assert.equal(unb64(str(event, "result", "events", 0, "kv", "key")), "w");
    assert.equal(unb64(str(event, "result", "events", 0, "kv", "value")), "1");
    watch.close();

    // Lease grant and keep-alive.
    const grant = await post(base, "/v3/lease/grant", { TTL: "30" });
    assert.equal(grant.status, 200);
    const id = str(grant.json, "ID");
    assert.ok(/^\d+$/.test(id));
    const keepalive = openStream(base, "/v3/lease/keepalive");
    keepalive.send({ ID: id });
    const renewed = await keepalive.next();
    assert.equal(at(renewed, "result", "ID"), id);
    assert.equal(at(renewed, "result", "TTL"), "30");
    keepalive.close();

    // Metrics count the gateway calls under gRPC names.
    const metrics = await (await fetch(base + "/metrics", { signal: AbortSignal.timeout(5000) })).text();
    assert.match(metrics, /^etcd_server_has_leader 1$/m);
    // etcd's disk histograms: the puts above were fdatasync'd, and a backend batch has committed
    // (every 100 ms) since.
    assert.match(metrics, /^etcd_disk_wal_fsync_duration_seconds_count [1-9]/m);
    assert.match(metrics, /^etcd_disk_wal_fsync_duration_seconds_bucket\{le="0.001"\} \d+$/m);
    assert.match(metrics, /^etcd_disk_backend_commit_duration_seconds_count [1-9]/m);
    assert.match(
      metrics,
      /^grpc_server_handled_total\{grpc_type="unary",grpc_service="etcdserverpb.KV",grpc_method="Put",grpc_code="OK"\} [1-9]/m,
    );

    // The metrics port serves /metrics and /health only.
    const metricsBase = server.metricsBase ?? "";
    assert.match(metricsBase, /^http:\/\/127\.0\.0\.1:\d+$/);
    const onMetricsPort = await fetch(metricsBase + "/metrics", { signal: AbortSignal.timeout(5000) });
    assert.match(await onMetricsPort.text(), /^etcd_server_is_leader 1$/m);
    const healthOnMetricsPort = await fetch(metricsBase + "/health", { signal: AbortSignal.timeout(5000) });
    assert.equal(healthOnMetricsPort.status, 200);
    await healthOnMetricsPort.text();
    const noGateway = await fetch(metricsBase + "/v3/kv/range", {
      method: "POST",
      body: "{}",
      signal: AbortSignal.timeout(5000),
    });
    assert.equal(noGateway.status, 404);
    await noGateway.text();

    server.child.kill("SIGTERM");
    assert.equal(await server.exited, 0);
    assert.ok(server.logs.some((l) => l.includes('"member stopped"')));
    server = undefined;
  } finally {
    if (server !== undefined) {
      server.child.kill("SIGKILL");
      await server.exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
});

function hasOpenssl(): boolean {
  return spawnSync("openssl", ["version"], { stdio: "ignore" }).status === 0;
}

test("https client URL with --auto-tls", { timeout: 60_000 }, async (t) => {
  if (!hasOpenssl()) {
    t.skip("openssl not installed: --auto-tls cannot make a certificate");
    return;
  }
  const dataDir = mkdtempSync(join(tmpdir(), "kvorum-cli-tls-"));
  let server: Started | undefined;
  try {
    server = await startKvorum(join(dataDir, "data"), ["--auto-tls"], "https");
    assert.match(server.base, /^https:\/\/127\.0\.0\.1:\d+$/);
    const body = await new Promise<string>((resolve, reject) => {
      const req = https.get(`${server?.base}/health`, { rejectUnauthorized: false, timeout: 5000 }, (res) => {
        let text = "";
        res.on("data", (c: Buffer) => (text += c.toString()));
        res.on("end", () => resolve(text));
      });
      req.on("error", reject);
    });
    assert.equal(body, '{"health":"true"}');
    server.child.kill("SIGTERM");
    assert.equal(await server.exited, 0);
    server = undefined;
  } finally {
    if (server !== undefined) {
      server.child.kill("SIGKILL");
      await server.exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
});
