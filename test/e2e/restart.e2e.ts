// Crash-restart: write keys, a lease with attached keys and a compaction, kill -9 the server,
// start it again on the same data dir and ports: every acknowledged write, the revisions, the
// compaction point and the lease (with its keys and TTL) must survive.

import { after, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { Etcd3 } from "etcd3";
import { ETCD_MISSING, e2eTarget, freePort, killAll, startServer } from "./harness.js";

const target = e2eTarget();
const skip = target === "etcd" ? ETCD_MISSING : false;
const KEY_COUNT = 200;

after(killAll);

interface Snapshot {
  revision: string;
  kvs: Array<[string, string, string, string, string, string]>;
}

async function snapshotAll(client: Etcd3): Promise<Snapshot> {
  const response = await client.getAll().prefix("").exec();
  return {
    revision: response.header.revision,
    kvs: response.kvs.map((kv) => [
      kv.key.toString(),
      kv.value.toString(),
      kv.create_revision,
      kv.mod_revision,
      kv.version,
      kv.lease,
    ]),
  };
}

test(
  `kill -9 and restart keeps data, revisions, compaction and leases (${target})`,
  { skip, timeout: 120_000 },
  async () => {
    const server = await startServer(target);
    let client = new Etcd3({ hosts: server.endpoint, dialTimeout: 5000 });
    try {
      for (let i = 0; i < KEY_COUNT; i++) {
        await client.put(`restart/key-${String(i).padStart(4, "0")}`).value(`value-${i}`);
      }
      // Overwrite some keys so versions and mod revisions differ from create revisions.
      for (let i = 0; i < KEY_COUNT; i += 10) {
        await client.put(`restart/key-${String(i).padStart(4, "0")}`).value(`value-${i}-v2`);
      }
      await client.delete().key("restart/key-0001");
      const lease = client.lease(600, { autoKeepAlive: false });
      const leaseId = await lease.grant();
      await lease.put("restart/leased-a").value("la");
      await lease.put("restart/leased-b").value("lb");
      const beforeCompact = await client.put("restart/compact-marker").value("m").exec();
      await client.put("restart/compact-marker").value("m2");
      await client.kv.compact({ revision: beforeCompact.header.revision, physical: true });

      const before = await snapshotAll(client);
      const ttlBefore = await client.leaseClient.leaseTimeToLive({ ID: leaseId, keys: true });
      lease.release();
      client.close();

      await server.kill("SIGKILL");
      await server.restart();
      client = new Etcd3({ hosts: server.endpoint, dialTimeout: 5000 });

      const afterRestart = await snapshotAll(client);
      assert.equal(afterRestart.revision, before.revision, "header revision survives");
      assert.deepEqual(
        afterRestart.kvs,
        before.kvs,
        "every key with its revisions, version and lease survives",
      );
      assert.equal(afterRestart.kvs.length, KEY_COUNT - 1 + 3);

      // The compaction point survives: older revisions stay compacted, the compacted one is readable.
      const previous = (BigInt(beforeCompact.header.revision) - 1n).toString();
      await assert.rejects(
        client.get("restart/compact-marker").revision(previous).exec(),
        /required revision has been compacted/,
      );
      const atCompacted = await client
        .get("restart/compact-marker")
        .revision(beforeCompact.header.revision)
        .string();
      assert.equal(atCompacted, "m");

      // The lease survives with its keys; etcd may refresh the remaining TTL on restart.
      const ttlAfter = await client.leaseClient.leaseTimeToLive({ ID: leaseId, keys: true });
      assert.equal(ttlAfter.grantedTTL, ttlBefore.grantedTTL);
      assert.ok(Number(ttlAfter.TTL) > 0 && Number(ttlAfter.TTL) <= 600, `remaining TTL ${ttlAfter.TTL}`);
      assert.deepEqual(ttlAfter.keys.map((k) => k.toString()).sort(), [
        "restart/leased-a",
        "restart/leased-b",
      ]);
      const leases = await client.leaseClient.leaseLeases({});
      assert.ok(
        leases.leases.some((l) => l.ID === leaseId),
        "lease is listed after restart",
      );

      // Writes continue from the recovered revision, and revoking the recovered lease deletes its keys.
      const next = await client.put("restart/after").value("a").exec();
      assert.equal(BigInt(next.header.revision), BigInt(before.revision) + 1n);
      await client.leaseClient.leaseRevoke({ ID: leaseId });
      assert.equal(await client.get("restart/leased-a").string(), null);
      assert.equal(await client.get("restart/leased-b").string(), null);

      // A second crash right after writes: still durable.
      const last = await client.put("restart/last").value("z").exec();
      client.close();
      await server.kill("SIGKILL");
      await server.restart();
      client = new Etcd3({ hosts: server.endpoint, dialTimeout: 5000 });
      const lastKv = (await client.get("restart/last").exec()).kvs[0];
      assert.equal(lastKv?.value.toString(), "z");
      assert.equal(lastKv?.mod_revision, last.header.revision);
      assert.equal(await client.get("restart/leased-a").string(), null);
    } catch (err) {
      process.stderr.write(`--- ${target} log tail ---\n${server.log().slice(-3000)}\n`);
      throw err;
    } finally {
      client.close();
      await server.stop();
    }
  },
);

test(
  "the harness starts a server on new ports when its first client port is already taken",
  { skip, timeout: 60_000 },
  async () => {
    // Found in CI: a port found free was taken (EADDRINUSE) before the server bound it.
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen(0, "127.0.0.1", resolve));
    const taken = (squatter.address() as net.AddressInfo).port;
    try {
      const server = await startServer(target, { firstPorts: { client: taken, peer: await freePort() } });
      try {
        assert.notEqual(server.endpoint, `http://127.0.0.1:${taken}`);
        const health = await fetch(`${server.endpoint}/health`, { signal: AbortSignal.timeout(5000) });
        assert.equal(health.status, 200);
      } finally {
        await server.stop();
      }
    } finally {
      squatter.close();
    }
  },
);
