// Multi-process clusters on loopback: 3 and 5 separate `kvorum` processes. Kill -9 the leader
// under write load: a new leader within about two election timeouts, every acknowledged write on
// every member once the killed member is back and caught up. Partition a follower (both
// directions, through the test-only fault route) and heal: the rest keep serving, the follower's
// linearizable reads fail meanwhile, pre-vote keeps the leader in place, and the follower catches
// up. Every process is killed and every data dir removed, whatever the outcome.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  freeLoopbackPort,
  startLocalCluster,
  type LocalCluster,
  type LocalMember,
} from "../../src/cli/local-cluster.js";
import { eventually, hashKv, put, rangePrefix, setFaults, sleep, status } from "./cluster-client.js";
import { ETCDCTL_MISSING, etcdctl, REPO_ROOT, spawnEtcdctl } from "./harness.js";

const HEARTBEAT_MS = 50;
const ELECTION_MS = 500;

async function withCluster(
  size: number,
  fn: (c: LocalCluster) => Promise<void>,
  extraArgs: string[] = [],
): Promise<void> {
  const base = mkdtempSync(join(tmpdir(), "kvorum-cluster-e2e-"));
  const cluster = await startLocalCluster({
    size,
    baseDir: base,
    extraArgs: [
      "--heartbeat-interval",
      String(HEARTBEAT_MS),
      "--election-timeout",
      String(ELECTION_MS),
      "--logger",
      "zap",
      ...extraArgs,
    ],
    env: { KVORUM_FAULT_INJECTION: "1" },
  });
  try {
    await Promise.all(cluster.members.map((m) => m.waitHealthy()));
    await fn(cluster);
  } catch (err) {
    for (const m of cluster.members) {
      console.log(`--- ${m.name} (last lines) ---\n${m.output().split("\n").slice(-25).join("\n")}`);
    }
    throw err;
  } finally {
    await cluster.stop();
    rmSync(base, { recursive: true, force: true });
  }
}

/** Member ID (hex) of every member, and the leader's member. */
async function roles(
  members: LocalMember[],
): Promise<{ ids: Map<LocalMember, string>; leader: LocalMember }> {
  const ids = new Map<LocalMember, string>();
  let leaderId = "0";
  for (const m of members) {
    const s = await status(m.clientUrl);
    ids.set(m, s.memberId);
    if (s.leader !== "0") leaderId = s.leader;
  }
  const leader = members.find((m) => ids.get(m) === leaderId);
  if (leader === undefined) throw new Error("no leader");
  return { ids, leader };
}

async function waitCaughtUp(members: LocalMember[], index: number): Promise<void> {
  await eventually(`every member applied index ${index}`, async () => {
    for (const m of members) if ((await status(m.clientUrl)).appliedIndex < index) return undefined;
    return true;
  });
}

for (const size of [3, 5]) {
  test(
    `${size} members: kill -9 the leader under writes; a new leader soon, no acknowledged write lost`,
    { timeout: 180_000 },
    async () => {
      await withCluster(size, async (cluster) => {
        const { members } = cluster;
        const { ids, leader } = await eventually("a leader", () => roles(members));
        const down = new Set<LocalMember>();
        const acked: string[] = [];
        let failed = 0;
        let stop = false;
        const writer = async (w: number) => {
          for (let n = 0; !stop; n++) {
            const up = members.filter((m) => !down.has(m));
            const m = up[(w + n) % up.length] as LocalMember;
            const key = `w/${w}/${n}`;
            try {
              await put(m.clientUrl, key, `v${n}`, 3000);
              acked.push(key);
            } catch {
              failed++; // outcome unknown: it may or may not have been applied
            }
          }
        };
        const writers = [0, 1, 2, 3].map(writer);
        // Counts, not durations: the test must not depend on how fast this machine is.
        await eventually(
          "writes acknowledged before the kill",
          async () => (acked.length >= 30 ? true : undefined),
          60_000,
        );
        const killedAt = Date.now();
        down.add(leader);
        await leader.kill("SIGKILL");
        const oldLeaderId = ids.get(leader) as string;
        const others = members.filter((m) => m !== leader);
        const newLeaderId = await eventually(
          "a new leader",
          async () => {
            const seen = await Promise.all(
              others.map((m) => status(m.clientUrl, 500).catch(() => undefined)),
            );
            const l = seen.find((s) => s !== undefined && s.leader !== "0" && s.leader !== oldLeaderId);
            return l?.leader;
          },
          10_000,
        );
        const electionMs = Date.now() - killedAt;
        console.log(
          `${size} members: new leader ${newLeaderId} ${electionMs} ms after the leader was killed (election timeout ${ELECTION_MS} ms)`,
        );
        assert.ok(electionMs <= 6 * ELECTION_MS, `new leader after ${electionMs} ms`);
        const atElection = acked.length;
        await eventually(
          "writes acknowledged under the new leader",
          async () => (acked.length >= atElection + 30 ? true : undefined),
          60_000,
        );
        stop = true;
        await Promise.all(writers);
        console.log(`${size} members: ${acked.length} writes acknowledged, ${failed} failed or unknown`);

        leader.start();
        down.delete(leader);
        await leader.waitHealthy();
        const newLeader = others.find((m) => ids.get(m) === newLeaderId) as LocalMember;
        const target = (await status(newLeader.clientUrl)).raftIndex;
        await waitCaughtUp(members, target);
        for (const m of members) {
          const kvs = await rangePrefix(m.clientUrl, "w/", { serializable: true });
          const missing = acked.filter((k) => !kvs.has(k));
          assert.deepEqual(missing, [], `${m.name} is missing acknowledged writes`);
        }
      });
    },
  );
}

test(
  "3 members: a partitioned follower falls behind and catches up after the heal; the leader stays",
  { timeout: 120_000 },
  async () => {
    await withCluster(3, async (cluster) => {
      const { members } = cluster;
      const { ids, leader } = await eventually("a leader", () => roles(members));
      const follower = members.find((m) => m !== leader) as LocalMember;
      const others = members.filter((m) => m !== follower).map((m) => ids.get(m) as string);
      const termBefore = (await status(leader.clientUrl)).raftTerm;

      await setFaults(follower.peerUrl, { dropTo: others, dropFrom: others });
      for (let i = 0; i < 20; i++) await put(leader.clientUrl, `p/${i}`, `v${i}`);
      // Cut off, the follower cannot confirm a linearizable read...
      await assert.rejects(rangePrefix(follower.clientUrl, "p/", { timeoutMs: 15_000 }));
      // ...and its own state does not have the writes.
      assert.equal((await rangePrefix(follower.clientUrl, "p/", { serializable: true })).size, 0);
      // Let its election timer fire a few times while cut off.
      await sleep(4 * ELECTION_MS);

      await setFaults(follower.peerUrl, {});
      const kvs = await eventually("the follower caught up", async () => {
        const got = await rangePrefix(follower.clientUrl, "p/", { serializable: true });
        return got.size === 20 ? got : undefined;
      });
      assert.equal(kvs.get("p/19"), "v19");
      // Pre-vote: the follower's failed campaigns did not raise the term or unseat the leader.
      const after = await status(leader.clientUrl);
      assert.equal(after.leader, ids.get(leader));
      assert.equal(after.raftTerm, termBefore);
      const linear = await rangePrefix(follower.clientUrl, "p/");
      assert.equal(linear.size, 20);
    });
  },
);

test(
  "3 members with etcdctl: member list anywhere, lease keep-alive and time-to-live on a follower, move-leader, SIGTERM hands leadership over",
  { timeout: 120_000, skip: ETCDCTL_MISSING },
  async () => {
    await withCluster(3, async (cluster) => {
      const { members } = cluster;
      const { ids, leader } = await eventually("a leader", () => roles(members));
      const follower = members.find((m) => m !== leader) as LocalMember;
      const ctl = async (m: LocalMember, ...args: string[]) => {
        const r = await etcdctl({ endpoint: m.clientUrl }, args);
        assert.equal(r.code, 0, `etcdctl ${args.join(" ")}: ${r.stderr}`);
        return r.stdout.trim();
      };

      await eventually("every member published its client URL", async () => {
        const list = await ctl(follower, "member", "list");
        return members.every((m) => list.includes(`, ${m.name}, ${m.peerUrl}, ${m.clientUrl}, false`))
          ? list
          : undefined;
      });
      for (const m of members) assert.equal((await ctl(m, "member", "list")).split("\n").length, 3);

      const granted = await ctl(follower, "lease", "grant", "60");
      const leaseId = /lease ([0-9a-f]+) granted with TTL\(60s\)/.exec(granted)?.[1] as string;
      assert.ok(leaseId, granted);
      await ctl(follower, "put", "--lease", leaseId, "leased", "v");
      assert.equal(
        await ctl(follower, "lease", "keep-alive", "--once", leaseId),
        `lease ${leaseId} keepalived with TTL(60)`,
      );
      assert.match(
        await ctl(follower, "lease", "timetolive", "--keys", leaseId),
        new RegExp(
          `^lease ${leaseId} granted with TTL\\(60s\\), remaining\\((59|60)s\\), attached keys\\(\\[leased\\]\\)$`,
        ),
      );

      const target = ids.get(follower) as string;
      assert.equal(
        await ctl(leader, "move-leader", target),
        `Leadership transferred from ${ids.get(leader)} to ${target}`,
      );
      assert.equal((await status(leader.clientUrl)).leader, target);

      // SIGTERM on the (new) leader: it hands leadership over before it stops.
      const stoppedAt = Date.now();
      await follower.kill("SIGTERM");
      const others = members.filter((m) => m !== follower);
      const next = await eventually(
        "a leader after the SIGTERM",
        async () => {
          const s = await status(others[0]!.clientUrl, 500);
          return s.leader !== "0" && s.leader !== target ? s.leader : undefined;
        },
        10_000,
      );
      const tookMs = Date.now() - stoppedAt;
      console.log(`SIGTERM on the leader: ${next} leads ${tookMs} ms later`);
      assert.ok(follower.output().includes("leadership handed over"), "the stopping leader handed over");
    });
  },
);

test(
  "etcdctl member add --learner, join with --initial-cluster-state existing, promote, update, remove; a removed member cannot come back",
  { timeout: 120_000, skip: ETCDCTL_MISSING },
  async () => {
    await withCluster(3, async (cluster) => {
      const { members } = cluster;
      const endpoints = members.map((m) => m.clientUrl).join(",");
      const ctl = async (...args: string[]) => {
        const r = await etcdctl({ endpoint: endpoints }, args);
        return { out: r.stdout.trim(), err: r.stderr.trim(), code: r.code };
      };
      await put(members[0]!.clientUrl, "before-join", "1");
      const ports = { client: await freeLoopbackPort(), peer: await freeLoopbackPort() };
      const peer = `http://127.0.0.1:${ports.peer}`;
      const added = await ctl("member", "add", "joiner", "--learner", `--peer-urls=${peer}`);
      assert.equal(added.code, 0, added.err);
      // etcdctl prints IDs with %16x: a shorter one is padded with spaces.
      const addedLine = /Member\s+([0-9a-f]+) added to cluster(\s+[0-9a-f]+)/.exec(added.out);
      const id = addedLine?.[1] as string;
      const clusterPadded = addedLine?.[2] as string;
      assert.ok(id, added.out);
      assert.match(added.out, /ETCD_INITIAL_CLUSTER_STATE="existing"/);
      // A second learner is refused while the first is one.
      const second = await ctl("member", "add", "other", "--learner", "--peer-urls=http://127.0.0.1:1");
      assert.match(second.err, /etcdserver: too many learner members in cluster/);

      const joiner = cluster.join("joiner", ports);
      await joiner.waitHealthy();
      const learnerRead = await rangePrefix(joiner.clientUrl, "before-join", { serializable: true });
      assert.equal(learnerRead.get("before-join"), "1", "the learner caught up");
      await assert.rejects(
        rangePrefix(joiner.clientUrl, "before-join", { timeoutMs: 3000 }),
        /not supported for learner/,
      );
      const listed = await ctl("member", "list");
      assert.match(
        listed.out,
        new RegExp(`^${id}, started, joiner, ${peer}, ${joiner.clientUrl}, true$`, "m"),
      );

      const promoted = await ctl("member", "promote", id);
      assert.equal(
        promoted.out,
        `Member ${" ".repeat(16 - id.length)}${id} promoted in cluster${clusterPadded}`,
      );
      assert.match((await ctl("member", "promote", id)).err, /can only promote a learner member/);
      await put(joiner.clientUrl, "via-joiner", "2");
      assert.equal((await rangePrefix(joiner.clientUrl, "via-joiner")).get("via-joiner"), "2");

      const updated = await ctl("member", "update", id, `--peer-urls=${peer},http://localhost:${ports.peer}`);
      assert.equal(updated.code, 0, updated.err);
      assert.match(
        (await ctl("member", "update", id, `--peer-urls=${members[0]!.peerUrl}`)).err,
        /Peer URLs already exists/,
      );
      assert.match((await ctl("member", "remove", "abcdef")).err, /etcdserver: member not found/);

      const removed = await ctl("member", "remove", id);
      assert.equal(removed.code, 0, removed.err);
      await eventually("the removed member exits", async () => (joiner.running() ? undefined : true));
      assert.match(joiner.output(), /permanently removed from the cluster/);
      assert.equal((await ctl("member", "list")).out.split("\n").length, 3);
      joiner.start();
      await joiner.waitExit();
      assert.match(joiner.output(), /the member has been permanently removed from the cluster/);
    });
  },
);

test(
  "3 members: a follower too far behind for the log catches up through a snapshot of the backend",
  { timeout: 120_000 },
  async () => {
    await withCluster(
      3,
      async (cluster) => {
        const { members } = cluster;
        const { leader } = await eventually("a leader", () => roles(members));
        const follower = members.find((m) => m !== leader) as LocalMember;
        await follower.kill("SIGKILL");
        // 8 writers, 240 puts: far more than 50 (snapshot count) + 10 (entries kept behind it).
        await Promise.all(
          Array.from({ length: 8 }, async (_, w) => {
            for (let i = 0; i < 30; i++) await put(leader.clientUrl, `s/${w}/${i}`, `v${i}`);
          }),
        );
        follower.start();
        await follower.waitHealthy();
        const target = (await status(leader.clientUrl)).raftIndex;
        await waitCaughtUp(members, target);
        assert.match(follower.output(), /installed the leader's snapshot/);
        assert.match(leader.output(), /sent a snapshot to a peer/);
        const kvs = await rangePrefix(follower.clientUrl, "s/", { serializable: true });
        assert.equal(kvs.size, 240);
        // Writes keep flowing to the follower after the install, and the members agree byte for byte.
        await put(follower.clientUrl, "after-install", "1");
        await waitCaughtUp(members, (await status(leader.clientUrl)).raftIndex);
        const hashes = await Promise.all(members.map((m) => hashKv(m.clientUrl)));
        assert.ok(
          hashes.every((h) => h === hashes[0]),
          `hashkv differs: ${hashes.join(", ")}`,
        );
        // And it restarts cleanly from the installed state.
        await follower.kill("SIGKILL");
        follower.start();
        await follower.waitHealthy();
        assert.equal(
          (await rangePrefix(follower.clientUrl, "after-install", { serializable: true })).size,
          1,
        );
      },
      ["--snapshot-count", "50", "--experimental-snapshot-catchup-entries", "10"],
    );
  },
);

test(
  "3 members: a watch on a follower sees every committed change in order; a lease outlives a leader kill and then expires through the new leader",
  { timeout: 120_000, skip: ETCDCTL_MISSING },
  async () => {
    await withCluster(3, async (cluster) => {
      const { members } = cluster;
      const { leader } = await eventually("a leader", () => roles(members));
      const follower = members.find((m) => m !== leader) as LocalMember;
      const other = members.find((m) => m !== leader && m !== follower) as LocalMember;
      // The watch starts at an explicit revision, so it sees the same events however late it registers.
      const start = (await put(leader.clientUrl, "before-watch", "x")) + 1;
      const watch = spawnEtcdctl(
        { endpoint: follower.clientUrl },
        ["watch", "--prefix", "wl/", "--rev", String(start)],
        { timeoutMs: 60_000 },
      );
      try {
        for (let i = 0; i < 5; i++) await put(leader.clientUrl, `wl/${i}`, `v${i}`);
        await watch.waitFor("wl/4\nv4");
        const lines = watch.stdout().trim().split("\n");
        assert.deepEqual(
          lines.slice(0, 15),
          [0, 1, 2, 3, 4].flatMap((i) => ["PUT", `wl/${i}`, `v${i}`]),
        );

        // Measured from before the grant: the lease cannot end earlier than 4 s after this. (Timing
        // from after the put, as before, undercounted by two etcdctl start-ups on a busy machine.)
        const grantedAt = Date.now();
        const granted = await etcdctl({ endpoint: follower.clientUrl }, ["lease", "grant", "4"]);
        const leaseId = /lease ([0-9a-f]+) granted/.exec(granted.stdout)?.[1] as string;
        assert.ok(leaseId, granted.stderr);
        const attached = await etcdctl({ endpoint: follower.clientUrl }, [
          "put",
          "--lease",
          leaseId,
          "wl/leased",
          "x",
        ]);
        assert.equal(attached.code, 0, attached.stderr);
        await leader.kill("SIGKILL");
        // Only a leader expires leases; the new one gives every lease at least an election
        // timeout more, so the key is still there right after the change...
        await eventually("a new leader", async () =>
          (await status(other.clientUrl, 500)).leader !== "0" ? true : undefined,
        );
        // ...and is deleted through raft once the lease runs out; the follower's watch sees it.
        await watch.waitFor(/DELETE\nwl\/leased/, 20_000);
        const expiredAfter = Date.now() - grantedAt;
        console.log(`lease with TTL 4 s expired ${expiredAfter} ms after the grant, across a leader kill`);
        assert.ok(expiredAfter >= 3500, `expired too early: ${expiredAfter} ms`);
        assert.equal((await rangePrefix(other.clientUrl, "wl/leased")).size, 0);
      } finally {
        await watch.stop();
      }
    });
  },
);

test(
  "kvorumctl cluster up 3 starts a usable cluster and Ctrl-C stops every member",
  { timeout: 90_000 },
  async () => {
    const base = mkdtempSync(join(tmpdir(), "kvorum-cluster-up-"));
    const basePort = 40000 + Math.floor(Math.random() * 10000) * 2;
    const child = spawn(
      process.execPath,
      [
        join(REPO_ROOT, "dist", "src", "cli", "kvorumctl.js"),
        "cluster",
        "up",
        "3",
        "--data-dir",
        base,
        "--base-port",
        String(basePort),
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    try {
      await eventually(
        "the cluster is up",
        async () => (out.includes("cluster of 3 is up") ? true : undefined),
        60_000,
      );
      assert.match(
        out,
        /etcdctl --endpoints 127\.0\.0\.1:\d+,127\.0\.0\.1:\d+,127\.0\.0\.1:\d+ endpoint status -w table/,
      );
      const endpoint = `http://127.0.0.1:${basePort}`;
      await put(endpoint, "up/k", "v");
      assert.equal((await rangePrefix(`http://127.0.0.1:${basePort + 4}`, "up/")).get("up/k"), "v");
      child.kill("SIGINT");
      assert.equal(await exited, 0);
      assert.match(out, /stopping the cluster/);
      // Every member is gone: nothing answers on the client ports.
      for (const port of [basePort, basePort + 2, basePort + 4]) {
        await assert.rejects(status(`http://127.0.0.1:${port}`, 1000));
      }
    } finally {
      child.kill("SIGKILL");
      rmSync(base, { recursive: true, force: true });
    }
  },
);
