// The etcd3 npm client (gRPC) against the target server (KVORUM_E2E_TARGET, default kvorum):
// KV, txn, watch with prev_kv, lease expiry seen by a watch, locks and elections built on them.
// One server for the file; every test uses its own key prefix.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Etcd3, EtcdLockFailedError, type IKeyValue, type Watcher } from "etcd3";
import { ETCD_MISSING, e2eTarget, killAll, sleep, startServer, type RunningServer } from "./harness.js";

const target = e2eTarget();
const skip = target === "etcd" ? ETCD_MISSING : false;
const TEST_TIMEOUT_MS = 30_000;

/** Resolve with the first `count` events a watcher reports, or reject after `ms`. */
function collectEvents(
  watcher: Watcher,
  count: number,
  ms = 10_000,
): Promise<Array<{ type: "put" | "delete"; kv: IKeyValue; prev?: IKeyValue }>> {
  return new Promise((resolve, reject) => {
    const events: Array<{ type: "put" | "delete"; kv: IKeyValue; prev?: IKeyValue }> = [];
    const timer = setTimeout(
      () => reject(new Error(`only ${events.length} of ${count} watch events within ${ms} ms`)),
      ms,
    );
    const push = (type: "put" | "delete") => (kv: IKeyValue, prev?: IKeyValue) => {
      events.push({ type, kv, prev });
      if (events.length === count) {
        clearTimeout(timer);
        resolve(events);
      }
    };
    watcher.on("put", push("put"));
    watcher.on("delete", push("delete"));
  });
}

describe(`etcd3 npm client e2e (${target})`, { skip }, () => {
  let server: RunningServer | undefined;
  let client: Etcd3 | undefined;
  const etcd = (): Etcd3 => {
    assert.ok(client, "client not started");
    return client;
  };

  before(async () => {
    server = await startServer(target);
    client = new Etcd3({ hosts: server.endpoint, dialTimeout: 5000 });
  });

  after(async () => {
    client?.close();
    if (server !== undefined) await server.stop();
    await killAll();
  });

  test("put, get, getAll with prefix, delete", { timeout: TEST_TIMEOUT_MS }, async () => {
    const c = etcd();
    await c.put("kv/a").value("1");
    await c.put("kv/b").value("2");
    await c.put("kv/c").value("3");
    await c.put("kvx").value("outside");
    assert.equal(await c.get("kv/a").string(), "1");
    assert.equal(await c.get("kv/missing").string(), null);
    assert.deepEqual(await c.getAll().prefix("kv/").strings(), { "kv/a": "1", "kv/b": "2", "kv/c": "3" });
    assert.deepEqual(await c.getAll().prefix("kv/").keys(), ["kv/a", "kv/b", "kv/c"]);
    assert.equal(await c.getAll().prefix("kv/").count(), 3);
    const limited = await c.getAll().prefix("kv/").limit(2).sort("Key", "Descend").keys();
    assert.deepEqual(limited, ["kv/c", "kv/b"]);
    const put = await c.put("kv/a").value("1b").getPrevious();
    assert.equal(put?.value.toString(), "1");
    const deleted = await c.delete().key("kv/a").getPrevious();
    assert.equal(deleted.length, 1);
    assert.equal(deleted[0].value.toString(), "1b");
    const byPrefix = await c.delete().prefix("kv/").exec();
    assert.equal(byPrefix.deleted, "2");
    assert.deepEqual(await c.getAll().prefix("kv").strings(), { kvx: "outside" });
    // Revisions are strings in this client; a put increments the header revision by one.
    const first = await c.put("kv/rev").value("x").exec();
    const second = await c.put("kv/rev").value("y").exec();
    assert.equal(BigInt(second.header.revision), BigInt(first.header.revision) + 1n);
    const kv = (await c.get("kv/rev").exec()).kvs[0];
    assert.equal(kv.version, "2");
    assert.equal(kv.mod_revision, second.header.revision);
    assert.equal(kv.create_revision, first.header.revision);
  });

  test("txn: if / then / else", { timeout: TEST_TIMEOUT_MS }, async () => {
    const c = etcd();
    await c.put("txn/k").value("v1");
    const hit = await c
      .if("txn/k", "Value", "==", "v1")
      .then(c.put("txn/k").value("v2"), c.put("txn/other").value("o"))
      .else(c.put("txn/else").value("e"))
      .commit();
    assert.equal(hit.succeeded, true);
    assert.equal(hit.responses.length, 2);
    assert.equal(await c.get("txn/k").string(), "v2");
    const miss = await c
      .if("txn/k", "Value", "==", "v1")
      .then(c.put("txn/k").value("v3"))
      .else(c.get("txn/k"), c.put("txn/else").value("e"))
      .commit();
    assert.equal(miss.succeeded, false);
    assert.equal(miss.responses[0].response_range?.kvs[0].value.toString(), "v2");
    assert.equal(await c.get("txn/else").string(), "e");
    // Create-if-absent, as Kubernetes does it.
    const create = await c.if("txn/new", "Mod", "==", 0).then(c.put("txn/new").value("n")).commit();
    assert.equal(create.succeeded, true);
    const again = await c.if("txn/new", "Mod", "==", 0).then(c.put("txn/new").value("n2")).commit();
    assert.equal(again.succeeded, false);
    const version = await c.if("txn/new", "Version", ">", 0).then(c.delete().key("txn/new")).commit();
    assert.equal(version.succeeded, true);
    assert.equal(await c.get("txn/new").string(), null);
  });

  test("watch with prev_kv sees puts and deletes in order", { timeout: TEST_TIMEOUT_MS }, async () => {
    const c = etcd();
    await c.put("w/k").value("before");
    const watcher = await c.watch().prefix("w/").withPreviousKV().create();
    try {
      const events = collectEvents(watcher, 3);
      await c.put("w/k").value("after");
      await c.put("w/new").value("n");
      await c.delete().key("w/k");
      const seen = await events;
      assert.deepEqual(
        seen.map((e) => [e.type, e.kv.key.toString(), e.kv.value.toString(), e.prev?.value.toString()]),
        [
          ["put", "w/k", "after", "before"],
          ["put", "w/new", "n", undefined],
          ["delete", "w/k", "", "after"],
        ],
      );
    } finally {
      await watcher.cancel();
    }
    // A watch from an old revision replays history.
    const current = await c.get("w/new").exec();
    const historic = await c.watch().key("w/new").startRevision(current.kvs[0].mod_revision).create();
    try {
      const replay = await collectEvents(historic, 1);
      assert.equal(replay[0].kv.value.toString(), "n");
    } finally {
      await historic.cancel();
    }
  });

  test(
    "lease: keys expire with the lease and the watch sees DELETE",
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const c = etcd();
      const lease = c.lease(2, { autoKeepAlive: false });
      const leaseId = await lease.grant();
      await lease.put("lease/a").value("1");
      await lease.put("lease/b").value("2");
      await c.put("lease/plain").value("stays");
      const ttl = await c.leaseClient.leaseTimeToLive({ ID: leaseId, keys: true });
      assert.equal(ttl.grantedTTL, "2");
      assert.deepEqual(ttl.keys.map((k) => k.toString()).sort(), ["lease/a", "lease/b"]);
      const kv = (await c.get("lease/a").exec()).kvs[0];
      assert.equal(kv.lease, leaseId);
      const watcher = await c.watch().prefix("lease/").withPreviousKV().create();
      try {
        const started = Date.now();
        const deletes = await collectEvents(watcher, 2, 15_000);
        const elapsed = Date.now() - started;
        assert.deepEqual(
          deletes.map((e) => e.type),
          ["delete", "delete"],
        );
        assert.deepEqual(deletes.map((e) => e.kv.key.toString()).sort(), ["lease/a", "lease/b"]);
        assert.deepEqual(deletes.map((e) => e.prev?.value.toString()).sort(), ["1", "2"]);
        assert.ok(elapsed < 12_000, `lease expired after ${elapsed} ms`);
      } finally {
        await watcher.cancel();
      }
      assert.deepEqual(await c.getAll().prefix("lease/").strings(), { "lease/plain": "stays" });
      const gone = await c.leaseClient.leaseTimeToLive({ ID: leaseId, keys: false });
      assert.equal(gone.TTL, "-1");
      lease.release();
    },
  );

  test("lease: keepalive keeps keys, revoke deletes them", { timeout: TEST_TIMEOUT_MS }, async () => {
    const c = etcd();
    const lease = c.lease(2);
    await lease.grant();
    await lease.put("kept/a").value("1");
    await sleep(3500); // longer than the TTL: the client's automatic keepalives must hold it
    assert.equal(await c.get("kept/a").string(), "1");
    const once = await lease.keepaliveOnce();
    assert.equal(once.TTL, "2");
    await lease.revoke();
    assert.equal(await c.get("kept/a").string(), null);
  });

  test("lock: second contender fails while the first holds it", { timeout: TEST_TIMEOUT_MS }, async () => {
    const c = etcd();
    const first = c.lock("locks/one").ttl(10);
    await first.acquire();
    const second = c.lock("locks/one").ttl(10);
    await assert.rejects(second.acquire(), EtcdLockFailedError);
    await first.release();
    await second.acquire();
    await second.release();
    const result = await c.lock("locks/one").do(async () => "inside");
    assert.equal(result, "inside");
    assert.deepEqual(await c.getAll().prefix("locks/").keys(), []);
  });

  test(
    "election: campaign, observe, resign hands over leadership",
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const c = etcd();
      const election = c.election("elections/e1", 5);
      const alice = election.campaign("alice");
      await new Promise<void>((resolve, reject) => {
        alice.once("elected", () => resolve());
        alice.once("error", reject);
      });
      assert.equal(await election.leader(), "alice");
      const observer = await election.observe();
      try {
        assert.equal(observer.leader(), "alice");
        const bob = election.campaign("bob");
        let bobElected = false;
        bob.once("elected", () => {
          bobElected = true;
        });
        await sleep(1000);
        assert.equal(bobElected, false, "bob must wait while alice leads");
        const changed = new Promise<string>((resolve) =>
          observer.once("change", (leader: string) => resolve(leader)),
        );
        await alice.proclaim("alice-2");
        assert.equal(await changed, "alice-2");
        const toBob = new Promise<string>((resolve) =>
          observer.once("change", (leader: string) => resolve(leader)),
        );
        await alice.resign();
        assert.equal(await toBob, "bob");
        await new Promise<void>((resolve, reject) => {
          if (bobElected) resolve();
          bob.once("elected", () => resolve());
          bob.once("error", reject);
        });
        assert.equal(await election.leader(), "bob");
        await bob.resign();
        assert.equal(await election.leader(), undefined);
      } finally {
        await observer.cancel();
      }
    },
  );
});
