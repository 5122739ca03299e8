// Lease checkpoints across a leader change, on 3 `kvorum` processes driven by etcdctl: with
// --experimental-enable-lease-checkpoint (and a 1 s checkpoint interval through the test-only
// KVORUM_TEST_LEASE_CHECKPOINT_INTERVAL_MS; etcd's is a fixed 5 minutes) a 60 s lease keeps its
// remaining TTL when leadership moves; without the flag the new leader restarts it at the full TTL,
// as etcd does; with the persist flag it also survives restarting every member. Every process is
// killed and every data dir removed, whatever the outcome.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startLocalCluster, type LocalMember } from "../../src/cli/local-cluster.js";
import { eventually, sleep, status } from "./cluster-client.js";
import { ETCDCTL_MISSING, etcdctl } from "./harness.js";

const WAIT_MS = 10_000;

async function ctl(m: LocalMember, ...args: string[]): Promise<string> {
  const r = await etcdctl({ endpoint: m.clientUrl }, args);
  assert.equal(r.code, 0, `etcdctl ${args.join(" ")}: ${r.stderr}`);
  return r.stdout.trim();
}

async function remaining(m: LocalMember, leaseId: string): Promise<number> {
  const out = await ctl(m, "lease", "timetolive", leaseId);
  const match = /granted with TTL\(60s\), remaining\((-?\d+)s\)/.exec(out);
  assert.ok(match, out);
  return Number(match[1]);
}

/** Grants a 60 s lease, waits, moves leadership; the remaining TTL before and after the move. */
async function ttlAcrossLeaderMove(flags: string[]): Promise<{ before: number; after: number }> {
  const base = mkdtempSync(join(tmpdir(), "kvorum-lease-ckpt-e2e-"));
  const cluster = await startLocalCluster({
    size: 3,
    baseDir: base,
    extraArgs: ["--heartbeat-interval", "50", "--election-timeout", "500", "--logger", "zap", ...flags],
    env: { KVORUM_TEST_LEASE_CHECKPOINT_INTERVAL_MS: "1000" },
  });
  try {
    const { members } = cluster;
    await Promise.all(members.map((m) => m.waitHealthy()));
    const ids = new Map<LocalMember, string>();
    const leaderId = await eventually("a leader", async () => {
      let lead = "0";
      for (const m of members) {
        const s = await status(m.clientUrl);
        ids.set(m, s.memberId);
        if (s.leader !== "0") lead = s.leader;
      }
      return lead !== "0" ? lead : undefined;
    });
    const leader = members.find((m) => ids.get(m) === leaderId) as LocalMember;
    const target = members.find((m) => m !== leader) as LocalMember;

    const granted = await ctl(leader, "lease", "grant", "60");
    const leaseId = /lease ([0-9a-f]+) granted with TTL\(60s\)/.exec(granted)?.[1] as string;
    assert.ok(leaseId, granted);
    await sleep(WAIT_MS);
    const before = await remaining(leader, leaseId);
    assert.equal(
      await ctl(leader, "move-leader", ids.get(target) as string),
      `Leadership transferred from ${leaderId} to ${ids.get(target)}`,
    );
    const after = await remaining(target, leaseId);
    assert.equal((await status(target.clientUrl)).leader, ids.get(target));
    console.log(`flags [${flags.join(" ")}]: remaining ${before}s before the move, ${after}s after`);
    return { before, after };
  } catch (err) {
    for (const m of cluster.members)
      console.log(`--- ${m.name} (last lines) ---\n${m.output().split("\n").slice(-20).join("\n")}`);
    throw err;
  } finally {
    await cluster.stop();
    rmSync(base, { recursive: true, force: true });
  }
}

test(
  "with --experimental-enable-lease-checkpoint a lease keeps its remaining TTL across move-leader",
  { timeout: 90_000, skip: ETCDCTL_MISSING },
  async () => {
    const { before, after } = await ttlAcrossLeaderMove(["--experimental-enable-lease-checkpoint"]);
    assert.ok(before <= 51, `about 50 s left after waiting: ${before}`);
    // A reset would show about +10 s. Up to +2.5 s is expected: the last checkpoint can be one
    // interval (1 s) old, etcdctl shows whole seconds, and a new leader adds the election timeout.
    assert.ok(Math.abs(after - before) <= 3, `remaining ${after}s after the move, ${before}s before`);
  },
);

test(
  "without lease checkpoints the new leader restarts the lease at its full TTL (etcd's behaviour)",
  { timeout: 90_000, skip: ETCDCTL_MISSING },
  async () => {
    const { before, after } = await ttlAcrossLeaderMove([]);
    assert.ok(before <= 51, `about 50 s left after waiting: ${before}`);
    assert.ok(after >= 59, `back at the full TTL after the move: ${after}`);
  },
);

test(
  "with --experimental-enable-lease-checkpoint-persist the remaining TTL also survives a full restart",
  { timeout: 120_000, skip: ETCDCTL_MISSING },
  async () => {
    const base = mkdtempSync(join(tmpdir(), "kvorum-lease-ckpt-e2e-"));
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
        "--experimental-enable-lease-checkpoint",
        "--experimental-enable-lease-checkpoint-persist",
      ],
      env: { KVORUM_TEST_LEASE_CHECKPOINT_INTERVAL_MS: "1000" },
    });
    try {
      const { members } = cluster;
      await Promise.all(members.map((m) => m.waitHealthy()));
      const first = members[0] as LocalMember;
      const granted = await ctl(first, "lease", "grant", "60");
      const leaseId = /lease ([0-9a-f]+) granted with TTL\(60s\)/.exec(granted)?.[1] as string;
      assert.ok(leaseId, granted);
      await sleep(WAIT_MS);
      const before = await remaining(first, leaseId);
      await Promise.all(members.map((m) => m.kill("SIGTERM")));
      for (const m of members) m.start();
      await Promise.all(members.map((m) => m.waitHealthy(30_000)));
      const after = await eventually("the lease's time to live after the restart", async () => {
        try {
          return await remaining(first, leaseId);
        } catch {
          return undefined;
        }
      });
      console.log(`persisted checkpoints: remaining ${before}s before the restart, ${after}s after`);
      assert.ok(before <= 51, `about 50 s left after waiting: ${before}`);
      // The countdown goes on while the members stop one after another and restart, so the lease
      // may have lost some seconds; it must not be back at its full TTL.
      assert.ok(
        after <= before + 2,
        `not back at the full TTL after the restart: ${after} (before ${before})`,
      );
      assert.ok(after >= 30, `still alive with most of its time: ${after}`);
    } catch (err) {
      for (const m of cluster.members)
        console.log(`--- ${m.name} (last lines) ---\n${m.output().split("\n").slice(-20).join("\n")}`);
      throw err;
    } finally {
      await cluster.stop();
      rmSync(base, { recursive: true, force: true });
    }
  },
);
