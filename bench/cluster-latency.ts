// Sequential put latency through each member of a local 3-member Kvorum cluster: the leader
// answers after its own commit; a follower forwards the proposal and learns the commit from the
// leader, so its latency shows the cost of the extra hops.
// Run: npm run build && node dist/bench/cluster-latency.js [puts=300]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Etcd3 } from "etcd3";
import { startLocalCluster } from "../src/cli/local-cluster.js";

const hit = process.argv.slice(2).find((a) => a.startsWith("puts="));
const puts = hit === undefined ? 300 : Number(hit.slice(5));
const base = mkdtempSync(join(tmpdir(), "bench-cluster-latency-"));
const cluster = await startLocalCluster({ size: 3, baseDir: base });
try {
  await Promise.all(cluster.members.map((m) => m.waitHealthy(60_000)));
  console.log("| member | role | seq put p50 ms | p90 ms |");
  console.log("| ------ | ---- | -------------: | -----: |");
  for (const m of cluster.members) {
    const client = new Etcd3({ hosts: m.clientUrl });
    for (let i = 0; i < 50; i++) await client.put(`warm/${i}`).value("x");
    const ms: number[] = [];
    for (let i = 0; i < puts; i++) {
      const t = performance.now();
      await client.put(`k/${i}`).value("x");
      ms.push(performance.now() - t);
    }
    ms.sort((a, b) => a - b);
    const st = await client.maintenance.status();
    const role = st.leader === st.header.member_id ? "leader" : "follower";
    const at = (p: number) => (ms[Math.floor(p * (ms.length - 1))] ?? NaN).toFixed(2);
    console.log(`| ${m.name} | ${role} | ${at(0.5)} | ${at(0.9)} |`);
    client.close();
  }
} finally {
  await cluster.stop();
  rmSync(base, { recursive: true, force: true });
}
