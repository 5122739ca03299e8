// Metrics parity with etcd 3.4: after the same etcdctl workload, a 3-member Kvorum cluster's
// /metrics must have every family etcd exposes (test/fixtures/etcd-metrics-3.4.txt, recorded from
// a real etcd by scripts/record-etcd-metrics.ts) with etcd's type and label names, unless
// test/fixtures/metrics-absent.json gives a reason it is absent. The metrics that count what the
// workload did must count it: an always-0 counter under the right name is not parity.
// With etcd installed, a single etcd and a single Kvorum also run the workload side by side: the
// fixture must still describe etcd, and the counts the workload fixes must be equal.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { startTarget } from "../../bench/targets.js";
import { killAll } from "./harness.js";
import {
  mergeFamilies,
  parseFamilies,
  parseSamples,
  readAbsentReasons,
  readFixture,
  runWorkload,
  scrape,
  type Family,
  type Sample,
} from "./metrics-families.js";
import { onBoth, PARITY_SKIP } from "./parity.js";

after(() => killAll());

const fixture = readFixture();
const absent = readAbsentReasons();

/** Differences between etcd's families and Kvorum's, as readable lines. */
function compareFamilies(kvorum: Map<string, Family>): string[] {
  const problems: string[] = [];
  for (const want of fixture.values()) {
    const got = kvorum.get(want.name);
    const reason = absent[want.name];
    if (got === undefined) {
      if (reason === undefined || reason.trim() === "") problems.push(`missing: ${want.name}`);
      continue;
    }
    if (reason !== undefined) problems.push(`present but listed as absent: ${want.name}`);
    if (got.type !== want.type) problems.push(`${want.name}: type ${got.type}, etcd has ${want.type}`);
    if (got.labels.join(",") !== want.labels.join(",")) {
      problems.push(`${want.name}: labels {${got.labels.join(",")}}, etcd has {${want.labels.join(",")}}`);
    }
  }
  return problems;
}

/** Sum of the samples named `name` whose labels include `labels`. */
function total(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  let found = false;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(labels).some(([k, v]) => s.labels[k] !== v)) continue;
    sum += s.value;
    found = true;
  }
  assert.ok(found, `no sample ${name}${JSON.stringify(labels)}`);
  return sum;
}

test("every absence reason names a family etcd has", () => {
  for (const [name, reason] of Object.entries(absent)) {
    assert.ok(fixture.has(name), `metrics-absent.json lists ${name}, which etcd 3.4 does not expose`);
    assert.ok(reason.trim().length > 10, `${name}: the reason is empty`);
  }
});

test(
  "a 3-member Kvorum cluster has etcd 3.4's metric families, counting the workload",
  { timeout: 180_000 },
  async () => {
    const cluster = await startTarget("kvorum", 3, { processes: true });
    try {
      const [first] = cluster.endpoints as [string];
      await runWorkload(first, cluster.endpoints);
      // Peers' round trips are first reported 5 s after start (as etcd's prober does).
      const deadline = Date.now() + 20_000;
      let pages: string[] = [];
      for (;;) {
        pages = await Promise.all(cluster.endpoints.map(scrape));
        const probed = pages.every(
          (p) =>
            parseSamples(p).filter((s) => s.name === "etcd_network_peer_round_trip_time_seconds_count")
              .length === 2,
        );
        if (probed || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 500));
      }

      const families = mergeFamilies(pages.map(parseFamilies));
      assert.deepEqual(compareFamilies(families), []);

      const all = pages.map(parseSamples);
      const mine = all[0] as Sample[];
      // Applied on every member: 5 puts, the txn's 2, the leased key's, and the watched key's.
      // Deletes: mk2, mw, and the leased key when its lease is revoked.
      for (const [i, samples] of all.entries()) {
        const at = `member ${i + 1}`;
        assert.ok(total(samples, "etcd_mvcc_put_total") >= 9, `${at}: put_total`);
        assert.equal(total(samples, "etcd_mvcc_delete_total"), 3, `${at}: delete_total`);
        assert.equal(total(samples, "etcd_debugging_mvcc_put_total"), total(samples, "etcd_mvcc_put_total"));
        assert.ok(total(samples, "etcd_mvcc_txn_total") >= 1, `${at}: txn_total`);
        assert.equal(total(samples, "etcd_debugging_mvcc_keys_total"), 5, `${at}: keys_total`);
        assert.equal(total(samples, "etcd_server_has_leader"), 1, `${at}: has_leader`);
        assert.ok(total(samples, "etcd_server_leader_changes_seen_total") >= 1, `${at}: leader changes`);
        assert.ok(total(samples, "etcd_server_proposals_committed_total") > 0, `${at}: committed`);
        assert.ok(total(samples, "etcd_server_proposals_applied_total") > 0, `${at}: applied`);
        assert.equal(total(samples, "etcd_server_proposals_pending"), 0, `${at}: pending`);
        assert.ok(total(samples, "etcd_debugging_lease_granted_total") >= 1, `${at}: leases granted`);
        assert.ok(total(samples, "etcd_debugging_lease_revoked_total") >= 1, `${at}: leases revoked`);
        assert.ok(total(samples, "etcd_debugging_mvcc_compact_revision") > 0, `${at}: compact revision`);
        assert.ok(total(samples, "etcd_debugging_mvcc_db_compaction_keys_total") > 0, `${at}: compacted`);
        assert.ok(total(samples, "etcd_disk_wal_write_bytes_total") > 0, `${at}: WAL bytes`);
        assert.ok(total(samples, "etcd_network_peer_sent_bytes_total") > 0, `${at}: peer bytes sent`);
        assert.ok(total(samples, "etcd_network_peer_received_bytes_total") > 0, `${at}: peer bytes received`);
        // Followers connect to each other only once they exchange messages; the leader to both.
        assert.ok(total(samples, "etcd_network_active_peers") >= 1, `${at}: active peers`);
        assert.ok(
          total(samples, "etcd_network_peer_round_trip_time_seconds_count") > 0,
          `${at}: peer round trips`,
        );
      }
      assert.equal(
        all.reduce((n, s) => n + total(s, "etcd_server_is_leader"), 0),
        1,
        "one leader",
      );
      const leader = all.find((s) => total(s, "etcd_server_is_leader") === 1) as Sample[];
      assert.equal(total(leader, "etcd_network_active_peers"), 2, "the leader's active peers");
      // Keep-alives are answered by the leader, wherever the client sent them.
      assert.ok(all.reduce((n, s) => n + total(s, "etcd_debugging_lease_renewed_total"), 0) >= 1);

      // Served by the member etcdctl talked to.
      assert.ok(total(mine, "etcd_mvcc_range_total") >= 3, "range_total");
      assert.ok(total(mine, "etcd_debugging_mvcc_events_total") >= 2, "watch events sent");
      assert.ok(total(mine, "etcd_disk_backend_defrag_duration_seconds_count") >= 1, "defrag timed");
      assert.ok(total(mine, "etcd_network_client_grpc_received_bytes_total") > 0, "gRPC bytes in");
      assert.ok(total(mine, "etcd_network_client_grpc_sent_bytes_total") > 0, "gRPC bytes out");
      assert.ok(total(mine, "etcd_server_client_requests_total", { type: "unary" }) >= 10, "unary requests");
      assert.ok(total(mine, "etcd_server_client_requests_total", { type: "stream" }) >= 2, "streams");
      const kv = { grpc_service: "etcdserverpb.KV", grpc_type: "unary" };
      for (const [method, atLeast] of [
        ["Put", 5],
        ["Range", 3],
        ["Txn", 1],
        ["DeleteRange", 1],
        ["Compact", 1],
      ] as const) {
        const labels = { ...kv, grpc_method: method };
        assert.ok(total(mine, "grpc_server_started_total", labels) >= atLeast, `${method} started`);
        assert.ok(
          total(mine, "grpc_server_handled_total", { ...labels, grpc_code: "OK" }) >= atLeast,
          `${method} handled OK`,
        );
        assert.ok(total(mine, "grpc_server_msg_received_total", labels) >= atLeast, `${method} received`);
        assert.ok(total(mine, "grpc_server_msg_sent_total", labels) >= atLeast, `${method} sent`);
      }
      // As go-grpc-prometheus in etcd: an RPC never called shows every status code at 0.
      const unused = mine.filter(
        (s) => s.name === "grpc_server_handled_total" && s.labels.grpc_method === "AuthDisable",
      );
      assert.equal(unused.length, 17, "AuthDisable handled_total series");
      assert.ok(unused.every((s) => s.value === 0));
      assert.ok(
        total(mine, "grpc_server_handled_total", {
          grpc_service: "etcdserverpb.Lease",
          grpc_method: "LeaseGrant",
          grpc_code: "OK",
        }) >= 1,
      );
      assert.ok(
        total(mine, "grpc_server_msg_received_total", {
          grpc_service: "etcdserverpb.Watch",
          grpc_method: "Watch",
          grpc_type: "bidi_stream",
        }) >= 1,
      );
    } finally {
      await cluster.stop();
    }
  },
);

/** Counts that the workload fixes exactly, so a single etcd and a single Kvorum must agree. */
const SAME_COUNT = [
  "etcd_mvcc_put_total",
  "etcd_mvcc_range_total",
  "etcd_mvcc_txn_total",
  "etcd_mvcc_delete_total",
  "etcd_debugging_mvcc_put_total",
  "etcd_debugging_mvcc_range_total",
  "etcd_debugging_mvcc_txn_total",
  "etcd_debugging_mvcc_delete_total",
  "etcd_debugging_mvcc_keys_total",
  "etcd_debugging_mvcc_events_total",
  "etcd_debugging_mvcc_total_put_size_in_bytes",
  "etcd_debugging_mvcc_db_compaction_keys_total",
  "etcd_debugging_mvcc_compact_revision",
  "etcd_debugging_mvcc_watch_stream_total",
  "etcd_debugging_mvcc_watcher_total",
  "etcd_debugging_lease_granted_total",
  "etcd_debugging_lease_renewed_total",
  "etcd_debugging_lease_revoked_total",
  "etcd_server_leader_changes_seen_total",
  "etcd_server_has_leader",
  "etcd_server_is_leader",
  "etcd_server_proposals_pending",
  "etcd_disk_backend_defrag_duration_seconds_count",
  "etcd_disk_defrag_inflight",
  "promhttp_metric_handler_requests_total",
];

test(
  "side by side with etcd 3.4: the fixture describes etcd, and single members count the workload alike",
  { skip: PARITY_SKIP, timeout: 90_000 },
  async () => {
    const { etcd, kvorum } = await onBoth(async (server) => {
      await runWorkload(server.endpoint);
      return scrape(server.endpoint);
    });
    const problems: string[] = [];
    for (const f of parseFamilies(etcd).values()) {
      const want = fixture.get(f.name);
      if (want === undefined) problems.push(`etcd has ${f.name}, the fixture does not`);
      else if (want.type !== f.type || want.labels.join(",") !== f.labels.join(",")) {
        problems.push(`${f.name}: etcd has ${f.type} {${f.labels.join(",")}}`);
      }
    }
    assert.deepEqual(problems, []);
    const [e, k] = [parseSamples(etcd), parseSamples(kvorum)];
    const counted = (samples: Sample[]) => Object.fromEntries(SAME_COUNT.map((n) => [n, total(samples, n)]));
    assert.deepEqual(counted(k), counted(e));
    assert.equal(
      total(k, "etcd_server_client_requests_total", { type: "unary" }),
      total(e, "etcd_server_client_requests_total", { type: "unary" }),
    );
  },
);
