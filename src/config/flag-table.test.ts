// Checks the flag table against etcd 3.4's own flag list. The pairs below are what
// `etcd --help 2>&1 | grep -E '^\s+--'` printed on etcd 3.4 (2026-11-23), hard-coded so the test
// runs (and can fail) on machines without etcd.

import { test } from "node:test";
import assert from "node:assert/strict";
import { FLAGS, findFlag, flagToEnv } from "./flag-table.js";

const ETCD_34_FLAGS: ReadonlyArray<readonly [string, string]> = [
  ["name", "default"],
  ["data-dir", "${name}.etcd"],
  ["wal-dir", ""],
  ["snapshot-count", "100000"],
  ["heartbeat-interval", "100"],
  ["election-timeout", "1000"],
  ["initial-election-tick-advance", "true"],
  ["listen-peer-urls", "http://localhost:2380"],
  ["listen-client-urls", "http://localhost:2379"],
  ["max-snapshots", "5"],
  ["max-wals", "5"],
  ["quota-backend-bytes", "0"],
  ["backend-batch-interval", ""],
  ["backend-batch-limit", "0"],
  ["max-txn-ops", "128"],
  ["max-request-bytes", "1572864"],
  ["max-concurrent-streams", "math.MaxUint32"],
  ["grpc-keepalive-min-time", "5s"],
  ["grpc-keepalive-interval", "2h"],
  ["grpc-keepalive-timeout", "20s"],
  ["initial-advertise-peer-urls", "http://localhost:2380"],
  ["initial-cluster", "default=http://localhost:2380"],
  ["initial-cluster-state", "new"],
  ["initial-cluster-token", "etcd-cluster"],
  ["advertise-client-urls", "http://localhost:2379"],
  ["discovery", ""],
  ["discovery-fallback", "proxy"],
  ["discovery-proxy", ""],
  ["discovery-srv", ""],
  ["discovery-srv-name", ""],
  ["strict-reconfig-check", "true"],
  ["pre-vote", "false"],
  ["auto-compaction-retention", "0"],
  ["auto-compaction-mode", "periodic"],
  ["enable-v2", "false"],
  ["cert-file", ""],
  ["key-file", ""],
  ["client-cert-auth", "false"],
  ["client-crl-file", ""],
  ["client-cert-allowed-hostname", ""],
  ["trusted-ca-file", ""],
  ["auto-tls", "false"],
  ["peer-cert-file", ""],
  ["peer-key-file", ""],
  ["peer-client-cert-auth", "false"],
  ["peer-trusted-ca-file", ""],
  ["peer-cert-allowed-cn", ""],
  ["peer-cert-allowed-hostname", ""],
  ["peer-auto-tls", "false"],
  ["peer-crl-file", ""],
  ["cipher-suites", ""],
  ["cors", "*"],
  ["host-whitelist", "*"],
  ["auth-token", "simple"],
  ["bcrypt-cost", "10"],
  ["auth-token-ttl", "300"],
  ["enable-pprof", "false"],
  ["metrics", "basic"],
  ["listen-metrics-urls", ""],
  ["logger", "capnslog"],
  ["log-outputs", "default"],
  ["log-level", "info"],
  ["proxy", "off"],
  ["proxy-failure-wait", "5000"],
  ["proxy-refresh-interval", "30000"],
  ["proxy-dial-timeout", "1000"],
  ["proxy-write-timeout", "5000"],
  ["proxy-read-timeout", "0"],
  ["experimental-initial-corrupt-check", "false"],
  ["experimental-corrupt-check-time", "0s"],
  ["experimental-enable-v2v3", ""],
  ["experimental-backend-bbolt-freelist-type", "array"],
  ["experimental-enable-lease-checkpoint", "false"],
  ["experimental-compaction-batch-limit", "1000"],
  ["experimental-peer-skip-client-san-verification", "false"],
  ["experimental-watch-progress-notify-interval", "10m"],
  ["experimental-warning-apply-duration", "100ms"],
  ["force-new-cluster", "false"],
  ["debug", "false"],
  ["log-package-levels", ""],
];

/** Flags etcd prints outside the indented list, plus Kvorum's data-dir suffix. */
const KVORUM_ONLY = new Set([
  "config-file",
  "version",
  "help",
  // etcd 3.5's, taken early: tests need a short catch-up tail to exercise snapshot sending.
  "experimental-snapshot-catchup-entries",
  // etcd 3.4.23 accepts it but leaves it out of --help.
  "experimental-enable-lease-checkpoint-persist",
]);

test("every etcd 3.4 flag is in the table with etcd's default", () => {
  for (const [name, etcdDefault] of ETCD_34_FLAGS) {
    const spec = findFlag(name);
    assert.ok(spec !== undefined, `missing flag --${name}`);
    const expected = name === "data-dir" ? "${name}.kvorum" : etcdDefault;
    assert.equal(spec.defaultText, expected, `default of --${name}`);
  }
});

test("the table has no flag etcd 3.4 lacks", () => {
  const etcdNames = new Set(ETCD_34_FLAGS.map(([n]) => n));
  for (const spec of FLAGS) {
    assert.ok(etcdNames.has(spec.name) || KVORUM_ONLY.has(spec.name), `unexpected flag --${spec.name}`);
  }
  assert.equal(FLAGS.length, ETCD_34_FLAGS.length + KVORUM_ONLY.size);
});

test("env var names follow etcd's FlagToEnv rule", () => {
  assert.equal(flagToEnv("initial-cluster-token"), "ETCD_INITIAL_CLUSTER_TOKEN");
  assert.equal(
    flagToEnv("experimental-watch-progress-notify-interval"),
    "ETCD_EXPERIMENTAL_WATCH_PROGRESS_NOTIFY_INTERVAL",
  );
});
