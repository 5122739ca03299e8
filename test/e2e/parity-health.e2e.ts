// Health endpoints. Side by side with etcd 3.4.23 on one member: /health with ?exclude= and
// ?serializable=true, healthy and then with NOSPACE raised (--quota-backend-bytes 53248 and 4 KiB
// puts until refused). etcd 3.4 ignores ?serializable (it has no such option; etcd 3.5 added it),
// which on a member with a leader gives the same answers as Kvorum's etcd 3.5 rule. etcd 3.4 has
// no /livez or /readyz (404); Kvorum answers them as etcd 3.5 does. Then, Kvorum only (etcd 3.4
// has nothing to compare): a member left without quorum in a 3-process cluster keeps /livez and
// /health?serializable=true healthy while /readyz and /health fail.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startLocalCluster } from "../../src/cli/local-cluster.js";
import { eventually } from "./cluster-client.js";
import { ETCDCTL_MISSING, etcdctl, killAll, sleep, type RunningServer } from "./harness.js";
import { onBoth, PARITY_SKIP } from "./parity.js";

after(killAll);

const PATHS = [
  "/health",
  "/health?exclude=NOSPACE",
  "/health?serializable=true",
  "/health?serializable=true&exclude=NOSPACE",
  "/health?exclude=CORRUPT",
];

async function get(base: string, path: string): Promise<string> {
  const res = await fetch(base + path, { signal: AbortSignal.timeout(10_000) });
  return `${res.status} ${(await res.text()).trim()}`;
}

async function observe(server: RunningServer) {
  const healthy: string[] = [];
  for (const p of PATHS) healthy.push(await get(server.endpoint, p));
  let refused = false;
  for (let i = 0; i < 20 && !refused; i++) {
    const r = await etcdctl(server, ["put", "big", "b".repeat(4096)]);
    refused = r.code !== 0;
    await sleep(150);
  }
  assert.ok(refused, `${server.kind}: the quota never refused a put`);
  const alarmed: string[] = [];
  for (const p of PATHS) alarmed.push(await get(server.endpoint, p));
  const probes = [await get(server.endpoint, "/livez"), await get(server.endpoint, "/readyz")];
  return { healthy, alarmed, probes };
}

test(
  "parity: /health with ?exclude= and ?serializable=true, healthy and under NOSPACE",
  { skip: PARITY_SKIP || ETCDCTL_MISSING, timeout: 180_000 },
  async () => {
    const both = await onBoth(observe, { extraArgs: ["--quota-backend-bytes", "53248"] });
    console.log(`# etcd: ${JSON.stringify(both.etcd)}`);
    console.log(`# kvorum: ${JSON.stringify(both.kvorum)}`);
    const ok = '200 {"health":"true"}';
    const bad = '503 {"health":"false"}';
    assert.deepEqual(both.etcd.healthy, [ok, ok, ok, ok, ok]);
    assert.deepEqual(both.etcd.alarmed, [bad, ok, bad, ok, bad]);
    assert.deepEqual(both.kvorum.healthy, both.etcd.healthy);
    assert.deepEqual(both.kvorum.alarmed, both.etcd.alarmed);
    // etcd 3.4.23 has no probes; Kvorum's /livez stays ok under NOSPACE and so does /readyz (only
    // CORRUPT fails its data_corruption check).
    assert.deepEqual(both.etcd.probes, ["404 404 page not found", "404 404 page not found"]);
    assert.deepEqual(both.kvorum.probes, ["200 ok", "200 ok"]);
  },
);

test("a member without quorum: live, serializable-healthy, not ready", { timeout: 120_000 }, async () => {
  const base = mkdtempSync(join(tmpdir(), "kvorum-health-e2e-"));
  const cluster = await startLocalCluster({
    size: 3,
    baseDir: base,
    extraArgs: ["--heartbeat-interval", "50", "--election-timeout", "500", "--logger", "zap"],
  });
  try {
    await Promise.all(cluster.members.map((m) => m.waitHealthy()));
    const [m1, m2, m3] = cluster.members as [
      (typeof cluster.members)[0],
      (typeof cluster.members)[0],
      (typeof cluster.members)[0],
    ];
    assert.equal(await get(m1.clientUrl, "/readyz"), "200 ok");
    await m2.kill("SIGKILL");
    await m3.kill("SIGKILL");
    // Check-quorum makes a leader step down after an election timeout; a follower loses it too.
    await eventually("no leader", async () =>
      (await get(m1.clientUrl, "/health")).startsWith("503") ? true : undefined,
    );
    assert.equal(await get(m1.clientUrl, "/health?serializable=true"), '200 {"health":"true"}');
    assert.equal(await get(m1.clientUrl, "/livez?verbose"), "200 [+]serializable_read ok\nok");
    const ready = await get(m1.clientUrl, "/readyz?verbose");
    assert.match(
      ready,
      /^503 \[\+\]data_corruption ok\n\[\+\]serializable_read ok\n\[-\]linearizable_read failed: etcdserver: [^\n]+\n\[\+\]non_learner ok$/,
    );
    assert.equal(await get(m1.clientUrl, "/readyz?exclude=linearizable_read"), "200 ok");
  } catch (err) {
    for (const m of cluster.members) {
      console.log(`--- ${m.name} (last lines) ---\n${m.output().split("\n").slice(-20).join("\n")}`);
    }
    throw err;
  } finally {
    await cluster.stop();
    rmSync(base, { recursive: true, force: true });
  }
});
