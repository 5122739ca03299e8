// A watch on a follower that installs the leader's snapshot: it must still get every event, in
// order, and a progress answer afterwards must not promise past an event it never got (ADR 0014:
// etcd 3.4.31's RequestProgress promise). The follower is cut off from its peers (test-only fault
// route) while the leader writes far more than the snapshot count, then the partition heals.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { PlainMessage } from "../../src/api/handler-types.js";
import { startLocalCluster, type LocalMember } from "../../src/cli/local-cluster.js";
import { eventually, put, setFaults, status } from "./cluster-client.js";
import { connect, WatchClient } from "./grpc-raw.js";

test(
  "3 members: a follower's watch gets every event across its snapshot install, and progress after them",
  { timeout: 150_000 },
  async () => {
    const base = mkdtempSync(join(tmpdir(), "kvorum-watch-snapshot-e2e-"));
    const cluster = await startLocalCluster({
      size: 3,
      baseDir: base,
      extraArgs: [
        "--heartbeat-interval",
        "50",
        "--election-timeout",
        "500",
        "--logger",
        "zap",
        "--snapshot-count",
        "50",
        "--experimental-snapshot-catchup-entries",
        "10",
      ],
      env: { KVORUM_FAULT_INJECTION: "1" },
    });
    try {
      const { members } = cluster;
      await Promise.all(members.map((m) => m.waitHealthy()));
      const { ids, leader } = await eventually("a leader", async () => {
        const found = new Map<LocalMember, string>();
        let leaderId = "0";
        for (const m of members) {
          const s = await status(m.clientUrl);
          found.set(m, s.memberId);
          if (s.leader !== "0") leaderId = s.leader;
        }
        const l = members.find((m) => found.get(m) === leaderId);
        return l === undefined ? undefined : { ids: found, leader: l };
      });
      const follower = members.find((m) => m !== leader) as LocalMember;
      const others = members.filter((m) => m !== follower).map((m) => ids.get(m) as string);

      const session = await connect(follower.clientUrl);
      try {
        const w = WatchClient.open(session);
        w.send({ create_request: { key: Buffer.from("s/"), range_end: Buffer.from("s0") } });
        await w.waitFor((r) => r.created === true, 5000, "watch created");

        await setFaults(follower.peerUrl, { dropTo: others, dropFrom: others });
        await Promise.all(
          Array.from({ length: 8 }, async (_, writer) => {
            for (let i = 0; i < 30; i++) await put(leader.clientUrl, `s/${writer}/${i}`, `v${i}`);
          }),
        );
        await setFaults(follower.peerUrl, {});
        const target = (await status(leader.clientUrl)).appliedIndex;
        await eventually("the follower caught up", async () =>
          (await status(follower.clientUrl)).appliedIndex >= target ? true : undefined,
        );
        assert.match(follower.output(), /installed the leader's snapshot/);

        const revisions = (): number[] =>
          w.responses.flatMap((r) =>
            (r.events as PlainMessage[]).map((e) => Number((e.kv as PlainMessage).mod_revision)),
          );
        await eventually(
          "240 events on the follower's watch",
          async () => (revisions().length >= 240 ? true : undefined),
          10_000,
        ).catch(() => undefined);
        const got = revisions();
        assert.equal(got.length, 240, `the follower's watch got ${got.length} of 240 events`);
        assert.ok(
          got.every((rev, i) => i === 0 || rev > got[i - 1]!),
          "events in revision order",
        );
        const from = w.responses.length;
        w.send({ progress_request: {} });
        const p = await w.waitFor(
          (r) => r.watch_id === "-1" && r.created === false && (r.events as unknown[]).length === 0,
          5000,
          "progress",
          from,
        );
        assert.ok(Number((p.header as PlainMessage).revision) >= got.at(-1)!);
      } finally {
        session.destroy();
      }
    } catch (err) {
      for (const m of cluster.members) {
        console.log(`--- ${m.name} (last lines) ---\n${m.output().split("\n").slice(-15).join("\n")}`);
      }
      throw err;
    } finally {
      await cluster.stop();
      rmSync(base, { recursive: true, force: true });
    }
  },
);
