// unix:// and unixs:// URLs, side by side with etcd 3.4: a member listening for clients and peers
// on unix sockets (etcd's form: "unix://localhost:2379" is a socket file named "localhost:2379" in
// the working directory), reached by etcdctl (--endpoints unix://..., unixs://...) and by plain
// HTTP over the socket; and three members whose peers talk only over unix sockets. Socket files
// are gone once the servers stop.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TestPki } from "../pki.test-util.js";
import { freePort, healthy, killAll, sleep, type ServerKind } from "./harness.js";
import { onBoth, PARITY_SKIP } from "./parity.js";
import { spawnMember, type SpawnedMember } from "./spawn-member.js";

after(killAll);

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

/** etcdctl run in `cwd` (where relative unix socket paths resolve), bounded in time. */
function etcdctlIn(
  cwd: string,
  endpoint: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      "etcdctl",
      ["--endpoints", endpoint, "--dial-timeout", "3s", "--command-timeout", "5s", ...args],
      { cwd, timeout: 15_000, env: { ...process.env, ETCDCTL_API: "3" } },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === "number" ? err.code : -1;
        resolve({ code, stdout: stdout.trim(), stderr: stderr.trim() });
      },
    );
  });
}

/** One HTTP/1.1 request over a unix socket. */
function httpOverSocket(
  socketPath: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method, path, timeout: 5000 }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => {
        try {
          resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as unknown });
        } catch {
          resolve({ status: res.statusCode ?? 0, json: text });
        }
      });
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

test(
  "a member on unix sockets: etcdctl over unix:// and unixs://, HTTP over the socket, files removed on stop",
  { skip: PARITY_SKIP, timeout: 120_000 },
  async () => {
    const base = mkdtempSync(join(tmpdir(), "kvorum-parity-unix-"));
    try {
      const pki = new TestPki(base);
      const server = pki.issue("server", "server", "DNS:localhost,IP:127.0.0.1");
      const dirs = { etcd: join(base, "etcd"), kvorum: join(base, "kvorum") };
      const plan = async (kind: ServerKind) => ({
        cwd: dirs[kind],
        client: await freePort(),
        peer: await freePort(),
        unix: `localhost:${await freePort()}`,
        unixs: `localhost:${await freePort()}`,
        unixPeer: `localhost:${await freePort()}`,
      });
      const plans = { etcd: await plan("etcd"), kvorum: await plan("kvorum") };
      for (const d of Object.values(dirs)) rmSync(d, { recursive: true, force: true });
      for (const d of Object.values(dirs)) mkdirSync(d);
      const results = await onBoth(
        async (s) => {
          const p = plans[s.kind];
          const filesWhileUp = readdirSync(p.cwd).sort();
          const put = await etcdctlIn(p.cwd, `unix://${p.unix}`, ["put", "unix/k", "v1"]);
          const get = await etcdctlIn(p.cwd, `unix://${p.unix}`, ["get", "unix/k", "--print-value-only"]);
          const tlsGet = await etcdctlIn(p.cwd, `unixs://${p.unixs}`, [
            "--cacert",
            pki.ca,
            "get",
            "unix/k",
            "--print-value-only",
          ]);
          const members = await etcdctlIn(p.cwd, `unix://${p.unix}`, ["member", "list", "-w", "json"]);
          const peerURLs = (
            JSON.parse(members.stdout || "{}") as { members?: Array<{ peerURLs?: string[] }> }
          ).members?.[0]?.peerURLs;
          const range = await httpOverSocket(join(p.cwd, p.unix), "POST", "/v3/kv/range", {
            key: b64("unix/k"),
          });
          const kvs = (range.json as { kvs?: Array<{ value?: string }> }).kvs ?? [];
          const version = await httpOverSocket(join(p.cwd, p.unix), "GET", "/version");
          await s.stop();
          const filesAfterStop = readdirSync(p.cwd).sort();
          return {
            filesWhileUp: filesWhileUp.map((f) => f.replace(/\d+$/, "N")),
            put: [put.code, put.stdout],
            get: [get.code, get.stdout],
            tlsGet: [tlsGet.code, tlsGet.stdout],
            peerURLs: peerURLs?.map((u) => u.replace(/\d+$/, "N")),
            rangeStatus: range.status,
            rangeValue: kvs.map((kv) => Buffer.from(kv.value ?? "", "base64").toString()),
            versionKeys: Object.keys(version.json as object).sort(),
            filesAfterStop,
          };
        },
        (kind) => {
          const p = plans[kind];
          return {
            cwd: p.cwd,
            firstPorts: { client: p.client, peer: p.peer },
            extraArgs: [
              "--listen-client-urls",
              `http://127.0.0.1:${p.client},unix://${p.unix},unixs://${p.unixs}`,
              "--advertise-client-urls",
              `http://127.0.0.1:${p.client}`,
              "--cert-file",
              server.cert,
              "--key-file",
              server.key,
              "--listen-peer-urls",
              `unix://${p.unixPeer}`,
              "--initial-advertise-peer-urls",
              `unix://${p.unixPeer}`,
              "--initial-cluster",
              `e2e=unix://${p.unixPeer}`,
            ],
          };
        },
      );
      console.log(JSON.stringify(results));
      assert.deepEqual(results.etcd.put, [0, "OK"], "etcd");
      assert.deepEqual(results.etcd.get, [0, "v1"], "etcd");
      assert.deepEqual(results.kvorum, results.etcd);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  },
);

/** Three members whose peer URLs (and client URLs, besides http for /health) are unix sockets. */
async function unixCluster(
  kind: ServerKind,
  cwd: string,
): Promise<{ sockets: string[]; value: string; leftover: string[] }> {
  const names = ["m1", "m2", "m3"];
  const peer = (i: number) => `unix://localhost:${23800 + i}`;
  const unixClient = (i: number) => `unix://localhost:${23790 + i}`;
  const clients: number[] = [];
  for (let i = 0; i < 3; i++) clients.push(await freePort());
  const http = (i: number) => `http://127.0.0.1:${clients[i]!}`;
  const cluster = names.map((n, i) => `${n}=${peer(i)}`).join(",");
  const members: SpawnedMember[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      members.push(
        spawnMember(
          kind,
          names[i]!,
          [
            ...["--name", names[i]!, "--data-dir", join(cwd, `${names[i]!}.data`)],
            ...["--listen-client-urls", `${http(i)},${unixClient(i)}`, "--advertise-client-urls", http(i)],
            ...["--listen-peer-urls", peer(i), "--initial-advertise-peer-urls", peer(i)],
            ...["--initial-cluster", cluster, "--initial-cluster-state", "new"],
            ...["--heartbeat-interval", "50", "--election-timeout", "500"],
          ],
          cwd,
        ),
      );
    }
    const deadline = Date.now() + 40_000;
    const up = async () => (await Promise.all([0, 1, 2].map((i) => healthy(http(i))))).every(Boolean);
    while (Date.now() < deadline && !(await up())) await sleep(200);
    assert.ok(await up(), `${kind}: the three members did not all become healthy`);
    const sockets = readdirSync(cwd)
      .filter((f) => f.startsWith("localhost:"))
      .sort();
    const put = await etcdctlIn(cwd, unixClient(0), ["put", "peers/k", "over-unix"]);
    assert.equal(put.code, 0, put.stderr);
    let value = "";
    for (let i = 0; i < 50 && value === ""; i++) {
      const got = await httpOverSocket(join(cwd, unixClient(2).slice(7)), "POST", "/v3/kv/range", {
        key: b64("peers/k"),
        serializable: true,
      });
      const kv = (got.json as { kvs?: Array<{ value?: string }> }).kvs?.[0];
      if (kv !== undefined) value = Buffer.from(kv.value ?? "", "base64").toString();
      else await sleep(100);
    }
    await Promise.all(members.map((m) => m.stop()));
    const leftover = readdirSync(cwd).filter((f) => f.startsWith("localhost:"));
    return { sockets, value, leftover };
  } catch (err) {
    for (const m of members) console.log(`--- ${kind} ${m.name} ---\n${m.output().slice(-3000)}`);
    throw err;
  } finally {
    await Promise.all(members.map((m) => m.stop()));
  }
}

test("three members whose peers talk over unix sockets", { timeout: 150_000 }, async () => {
  const base = mkdtempSync(join(tmpdir(), "kvorum-unix-cluster-"));
  try {
    mkdirSync(join(base, "kvorum"));
    const kvorum = await unixCluster("kvorum", join(base, "kvorum"));
    assert.deepEqual(kvorum, {
      sockets: [0, 1, 2].flatMap((i) => [`localhost:${23790 + i}`, `localhost:${23800 + i}`]).sort(),
      value: "over-unix",
      leftover: [],
    });
    if (PARITY_SKIP === false) {
      mkdirSync(join(base, "etcd"));
      const etcd = await unixCluster("etcd", join(base, "etcd"));
      // etcd's socket files are only removed when it gets to close its listeners (a member
      // stopped at the same time as its peers may be killed first), so only the value is compared.
      console.log(`etcd: ${JSON.stringify(etcd)}`);
      assert.deepEqual([etcd.sockets, etcd.value], [kvorum.sockets, kvorum.value]);
    }
    assert.ok(!existsSync(join(base, "kvorum", "localhost:23800")));
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
