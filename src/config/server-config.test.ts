// Tests for parseServerConfig: syntaxes, env vars and precedence, config files, etcd 3.4
// defaults, validation errors, ignored and unknown flags, URL lists.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, parseServerConfig } from "./server-config.js";
import { FLAGS } from "./flag-table.js";
import { renderHelp } from "./help-text.js";

const noEnv: Record<string, string | undefined> = {};
const parse = (argv: string[], env = noEnv, files: Record<string, string> = {}) =>
  parseServerConfig(argv, env, (p) => {
    const text = files[p];
    if (text === undefined) throw new Error(`ENOENT: ${p}`);
    return text;
  });
const rejects = (argv: string[], message: string | RegExp, env = noEnv) =>
  assert.throws(
    () => parse(argv, env),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
      if (typeof message === "string") assert.equal(err.message, message);
      else assert.match(err.message, message);
      return true;
    },
  );

describe("defaults", () => {
  // Observed with `etcd --help` (etcd 3.4 on this machine, 2026-11-23) and
  // go.etcd.io/etcd/embed/config.go (DefaultQuotaBytes = 2 GiB when the flag is 0).
  test("equal etcd 3.4's, with the .kvorum data dir suffix", () => {
    const { config, warnings } = parse([]);
    assert.deepEqual(warnings, []);
    assert.equal(config.name, "default");
    assert.equal(config.dataDir, "default.kvorum");
    assert.equal(config.walDir, "");
    assert.deepEqual(config.listenClientUrls, ["http://localhost:2379"]);
    assert.deepEqual(config.advertiseClientUrls, ["http://localhost:2379"]);
    assert.deepEqual(config.listenPeerUrls, ["http://localhost:2380"]);
    assert.deepEqual(config.initialAdvertisePeerUrls, ["http://localhost:2380"]);
    assert.deepEqual(config.initialCluster, { default: ["http://localhost:2380"] });
    assert.equal(config.initialClusterState, "new");
    assert.equal(config.initialClusterToken, "etcd-cluster");
    assert.equal(config.heartbeatIntervalMs, 100);
    assert.equal(config.electionTimeoutMs, 1000);
    assert.equal(config.backendBatchIntervalMs, 100);
    assert.equal(config.backendBatchLimit, 10_000);
    assert.equal(config.snapshotCount, 100000);
    assert.equal(config.quotaBackendBytes, 2 * 1024 * 1024 * 1024);
    assert.equal(config.maxRequestBytes, 1572864);
    assert.equal(config.maxTxnOps, 128);
    assert.equal(config.autoCompactionMode, "periodic");
    assert.equal(config.autoCompactionRetention, "0");
    assert.equal(config.autoCompactionRetentionValue, 0);
    assert.deepEqual(config.listenMetricsUrls, []);
    assert.equal(config.logger, "capnslog");
    assert.equal(config.logLevel, "info");
    assert.equal(config.clientCertAuth, false);
    assert.equal(config.autoTls, false);
    assert.equal(config.peerClientCertAuth, false);
    assert.equal(config.peerAutoTls, false);
    assert.equal(config.certFile, "");
    assert.equal(config.peerTrustedCaFile, "");
    assert.equal(config.experimentalWatchProgressNotifyIntervalMs, 600_000);
    assert.equal(config.version, false);
    assert.equal(config.help, false);
  });

  test("data dir follows --name; a renamed member bootstraps alone on its advertised peer URLs", () => {
    const { config } = parse(["--name", "n1", "--initial-advertise-peer-urls", "http://10.0.0.1:2380"]);
    assert.equal(config.dataDir, "n1.kvorum");
    assert.deepEqual(config.initialCluster, { n1: ["http://10.0.0.1:2380"] });
  });

  test("the flag table lists every flag of `etcd --help` (etcd 3.4), 83 with config-file/help/version, plus etcd 3.5's --experimental-snapshot-catchup-entries and the unlisted --experimental-enable-lease-checkpoint-persist", () => {
    assert.equal(FLAGS.length, 85);
    assert.equal(new Set(FLAGS.map((f) => f.name)).size, FLAGS.length);
  });
});

describe("backend batching flags", () => {
  test("--backend-batch-interval takes a Go duration and --backend-batch-limit a count; 0 means etcd's default", () => {
    const set = parse(["--backend-batch-interval", "250ms", "--backend-batch-limit", "500"]).config;
    assert.equal(set.backendBatchIntervalMs, 250);
    assert.equal(set.backendBatchLimit, 500);
    const zero = parse(["--backend-batch-interval", "0s", "--backend-batch-limit", "0"]).config;
    assert.equal(zero.backendBatchIntervalMs, 100);
    assert.equal(zero.backendBatchLimit, 10_000);
    assert.throws(() => parse(["--backend-batch-interval", "soon"]), ConfigError);
  });
});

describe("lease checkpoint flags", () => {
  test("off by default; persistence needs checkpointing, with etcd's message", () => {
    const off = parse([]).config;
    assert.equal(off.experimentalEnableLeaseCheckpoint, false);
    assert.equal(off.experimentalEnableLeaseCheckpointPersist, false);
    const on = parse([
      "--experimental-enable-lease-checkpoint",
      "--experimental-enable-lease-checkpoint-persist",
    ]).config;
    assert.equal(on.experimentalEnableLeaseCheckpoint, true);
    assert.equal(on.experimentalEnableLeaseCheckpointPersist, true);
    assert.throws(() => parse(["--experimental-enable-lease-checkpoint-persist"]), {
      message:
        "setting experimental-enable-lease-checkpoint-persist requires experimental-enable-lease-checkpoint",
    });
  });
});

describe("command-line syntax", () => {
  test("--flag value, --flag=value and single-dash forms", () => {
    const { config } = parse([
      "--name",
      "a",
      "--snapshot-count=5",
      "-max-txn-ops",
      "7",
      "-initial-cluster=a=http://h:1",
    ]);
    assert.equal(config.name, "a");
    assert.equal(config.snapshotCount, 5);
    assert.equal(config.maxTxnOps, 7);
    assert.deepEqual(config.initialCluster, { a: ["http://h:1"] });
  });

  test("booleans: bare, =true, =false, Go spellings", () => {
    assert.equal(parse(["--auto-tls"]).config.autoTls, true);
    assert.equal(parse(["--auto-tls=true"]).config.autoTls, true);
    assert.equal(parse(["--auto-tls=false"]).config.autoTls, false);
    assert.equal(parse(["--client-cert-auth=1"]).config.clientCertAuth, true);
    assert.equal(parse(["--peer-auto-tls=F"]).config.peerAutoTls, false);
  });

  test("a bare boolean does not take the next argument (Go flag rule)", () => {
    rejects(["--auto-tls", "false"], '"false" is not a valid flag');
  });

  test("version and help skip validation", () => {
    assert.equal(parse(["--version", "--election-timeout", "1"]).config.version, true);
    assert.equal(parse(["--help"]).config.help, true);
  });

  test("a value flag at the end needs an argument", () => {
    rejects(["--name"], "flag needs an argument: --name");
  });
});

describe("environment variables", () => {
  test("ETCD_FLAG_NAME sets a flag", () => {
    const { config, warnings } = parse([], {
      ETCD_NAME: "e",
      ETCD_HEARTBEAT_INTERVAL: "50",
      ETCD_ELECTION_TIMEOUT: "500",
      ETCD_AUTO_TLS: "true",
      PATH: "/bin",
    });
    assert.equal(config.name, "e");
    assert.equal(config.heartbeatIntervalMs, 50);
    assert.equal(config.electionTimeoutMs, 500);
    assert.equal(config.autoTls, true);
    assert.deepEqual(warnings, []);
  });

  test("the command line wins and the shadowed variable is warned about", () => {
    const { config, warnings } = parse(["--name", "flag"], { ETCD_NAME: "env" });
    assert.equal(config.name, "flag");
    assert.deepEqual(warnings, [
      'conflicting environment variable "ETCD_NAME" is shadowed by corresponding command-line flag (either unset environment variable or disable flag)',
    ]);
  });

  test("unknown ETCD_ variables warn; bad values name the variable", () => {
    assert.deepEqual(parse([], { ETCD_NOPE: "1" }).warnings, [
      "unrecognized environment variable ETCD_NOPE=1",
    ]);
    rejects([], 'invalid value "x" for ETCD_SNAPSHOT_COUNT: parse error', { ETCD_SNAPSHOT_COUNT: "x" });
  });
});

describe("--config-file", () => {
  const yaml = [
    "name: y1",
    "heartbeat-interval: 200",
    "election-timeout: 2000",
    "listen-client-urls: http://0.0.0.0:2379,http://0.0.0.0:2379",
    "advertise-client-urls: http://10.0.0.9:2379",
    "initial-cluster: y1=http://a:2380,y2=http://b:2380,y2=http://c:2380",
    "initial-cluster-state: existing",
    "experimental-watch-progress-notify-interval: 5000000000",
    "enable-v2: false",
    "client-transport-security:",
    "  cert-file: /c.pem",
    "  client-cert-auth: true",
    "peer-transport-security:",
    "  trusted-ca-file: /ca.pem",
    "  auto-tls: true",
  ].join("\n");

  test("reads etcd's YAML keys, TLS sections and nanosecond durations", () => {
    const { config, warnings } = parse(["--config-file", "/c.yml"], noEnv, { "/c.yml": yaml });
    assert.equal(config.name, "y1");
    assert.equal(config.dataDir, "y1.kvorum");
    assert.equal(config.heartbeatIntervalMs, 200);
    assert.deepEqual(config.listenClientUrls, ["http://0.0.0.0:2379"]);
    assert.deepEqual(config.initialCluster, {
      y1: ["http://a:2380"],
      y2: ["http://b:2380", "http://c:2380"],
    });
    assert.equal(config.initialClusterState, "existing");
    assert.equal(config.experimentalWatchProgressNotifyIntervalMs, 5000);
    assert.equal(config.certFile, "/c.pem");
    assert.equal(config.clientCertAuth, true);
    assert.equal(config.peerTrustedCaFile, "/ca.pem");
    assert.equal(config.peerAutoTls, true);
    assert.equal(config.configFile, "/c.yml");
    assert.deepEqual(warnings, ["flag --enable-v2 is not supported by Kvorum and is ignored"]);
  });

  test("other flags and env vars are ignored, as in etcd; ETCD_CONFIG_FILE works too", () => {
    const { config, warnings } = parse(
      ["--name", "cli", "--max-txn-ops=3"],
      { ETCD_CONFIG_FILE: "/c.yml", ETCD_SNAPSHOT_COUNT: "9" },
      {
        "/c.yml": "name: fromfile\n",
      },
    );
    assert.equal(config.name, "fromfile");
    assert.equal(config.maxTxnOps, 128);
    assert.equal(config.snapshotCount, 100000);
    assert.match(
      warnings.join("\n"),
      /other command line flags and environment variables are ignored: --name --max-txn-ops/,
    );
  });

  test("bad values and unknown keys in the file", () => {
    assert.throws(() => parse(["--config-file=/b.yml"], noEnv, { "/b.yml": "snapshot-count: lots\n" }), {
      message: 'invalid value "lots" for config file key snapshot-count: parse error',
    });
    assert.deepEqual(parse(["--config-file=/u.yml"], noEnv, { "/u.yml": "bogus: 1\n" }).warnings, [
      'unknown config file key "bogus" is ignored',
    ]);
    assert.throws(() => parse(["--config-file=/missing.yml"]), ConfigError);
  });
});

describe("validation errors", () => {
  test("unknown flags fail with etcd's wording", () => {
    rejects(["--foo"], "flag provided but not defined: --foo");
    rejects(["-foo=1"], "flag provided but not defined: -foo");
    rejects(["stray"], '"stray" is not a valid flag');
  });

  test("bad numbers, bad URLs, bad enums", () => {
    rejects(
      ["--heartbeat-interval", "abc"],
      'invalid value "abc" for flag --heartbeat-interval: parse error',
    );
    rejects(["--election-timeout=-5"], 'invalid value "-5" for flag --election-timeout: parse error');
    rejects(["--initial-cluster-state", "bad"], /^invalid value "bad" for flag --initial-cluster-state: /);
    rejects(
      ["--listen-peer-urls", "foo"],
      /^invalid value "foo" for flag --listen-peer-urls: URL scheme must be/,
    );
    rejects(
      ["--listen-peer-urls", "ftp://h:1"],
      /for flag --listen-peer-urls: URL scheme must be http, https, unix, or unixs/,
    );
    rejects(
      ["--listen-peer-urls", "http://h"],
      /for flag --listen-peer-urls: URL address does not have the form "host:port"/,
    );
    rejects(
      ["--listen-peer-urls", "http://h:1/x"],
      /for flag --listen-peer-urls: URL must not contain a path/,
    );
    rejects(["--initial-cluster", "nobody"], /for flag --initial-cluster: missing "="/);
    rejects(["--auto-compaction-mode", "daily"], /for flag --auto-compaction-mode: /);
    rejects(["--logger", "foo"], /for flag --logger: /);
    rejects(["--log-level", "loud"], /for flag --log-level: /);
    rejects(
      ["--experimental-watch-progress-notify-interval", "10x"],
      /for flag --experimental-watch-progress-notify-interval: time: invalid duration/,
    );
  });

  test("etcd's timing rules", () => {
    rejects(
      ["--heartbeat-interval", "300", "--election-timeout", "1000"],
      "--election-timeout[1000ms] should be at least as 5 times as --heartbeat-interval[300ms]",
    );
    assert.equal(
      parse(["--heartbeat-interval", "200", "--election-timeout", "1000"]).config.electionTimeoutMs,
      1000,
    );
    rejects(["--heartbeat-interval", "0"], "--heartbeat-interval must be >0 (set to 0ms)");
    rejects(["--election-timeout", "0"], "--election-timeout must be >0 (set to 0ms)");
    rejects(
      ["--election-timeout", "50001"],
      "--election-timeout[50001ms] is too long, and should be set less than 50000ms",
    );
  });

  test("listen client URLs need advertise client URLs; the member must be in --initial-cluster", () => {
    rejects(
      ["--listen-client-urls", "http://0.0.0.0:2379"],
      "--advertise-client-urls is required when --listen-client-urls is set explicitly",
    );
    rejects(["--name", "x", "--initial-cluster", "y=http://h:2380"], /couldn't find local name "x"/);
    assert.equal(
      parse(["--name", "x", "--initial-cluster", "y=http://h:2380", "--initial-cluster-state", "existing"])
        .config.initialClusterState,
      "existing",
    );
  });
});

describe("TLS for https URLs", () => {
  test("https listen URLs need a certificate and key, or auto TLS", () => {
    const client = ["--listen-client-urls=https://h:2379", "--advertise-client-urls=https://h:2379"];
    rejects(
      client,
      "TLS key/cert (--cert-file, --key-file) must be provided for client url https://h:2379 with HTTPS scheme",
    );
    rejects([...client, "--cert-file=/c"], /--cert-file, --key-file/);
    assert.equal(parse([...client, "--cert-file=/c", "--key-file=/k"]).config.certFile, "/c");
    assert.equal(parse([...client, "--auto-tls"]).config.autoTls, true);
    rejects(
      ["--listen-peer-urls=https://h:2380"],
      "TLS key/cert (--peer-cert-file, --peer-key-file) must be provided for peer url https://h:2380 with HTTPS scheme",
    );
    assert.equal(parse(["--listen-peer-urls=https://h:2380", "--peer-auto-tls"]).config.peerAutoTls, true);
  });
});

describe("auto compaction retention", () => {
  test("etcd's parsing: hours, durations, revisions", () => {
    assert.equal(parse(["--auto-compaction-retention", "1"]).config.autoCompactionRetentionValue, 3_600_000);
    assert.equal(
      parse(["--auto-compaction-retention", "30m"]).config.autoCompactionRetentionValue,
      1_800_000,
    );
    assert.equal(
      parse(["--auto-compaction-retention", "1h30m"]).config.autoCompactionRetentionValue,
      5_400_000,
    );
    const rev = parse(["--auto-compaction-mode", "revision", "--auto-compaction-retention", "1000"]).config;
    assert.equal(rev.autoCompactionMode, "revision");
    assert.equal(rev.autoCompactionRetentionValue, 1000);
    rejects(
      ["--auto-compaction-retention", "soon"],
      /error parsing CompactionRetention: time: invalid duration "soon"/,
    );
  });
});

describe("ignored flags and URL lists", () => {
  test("every unsupported etcd flag is accepted with a warning", () => {
    for (const spec of FLAGS.filter((f) => !f.supported)) {
      const argv = spec.kind === "bool" ? [`--${spec.name}`] : [`--${spec.name}`, "1"];
      const { warnings } = parse(argv);
      assert.deepEqual(
        warnings,
        [`flag --${spec.name} is not supported by Kvorum and is ignored`],
        spec.name,
      );
    }
  });

  test("URL lists are split, trimmed and de-duplicated in order", () => {
    const { config } = parse([
      "--listen-client-urls",
      "http://a:1, https://b:2,http://a:1,unix://sock:1",
      "--advertise-client-urls=http://a:1",
      "--listen-metrics-urls=http://m:9",
      "--auto-tls",
    ]);
    assert.deepEqual(config.listenClientUrls, ["http://a:1", "https://b:2", "unix://sock:1"]);
    assert.deepEqual(config.listenMetricsUrls, ["http://m:9"]);
  });

  test("a unix URL needs host:port like any other (it is the socket's file name)", () => {
    assert.throws(
      () => parse(["--listen-client-urls", "unix://sock", "--advertise-client-urls=http://a:1"]),
      /invalid value "unix:\/\/sock" for flag --listen-client-urls: URL address does not have the form "host:port": unix:\/\/sock/,
    );
    assert.throws(
      () => parse(["--listen-peer-urls", "unix:///tmp/peer.sock"]),
      /URL address does not have the form "host:port"/,
    );
  });

  test("the CRL and allowed CN/hostname flags are read and supported", () => {
    const { config, warnings } = parse([
      "--client-crl-file=c.crl",
      "--peer-crl-file=p.crl",
      "--client-cert-allowed-hostname=client.example",
      "--peer-cert-allowed-cn=member",
      "--peer-cert-allowed-hostname=peer.example",
    ]);
    assert.equal(config.clientCrlFile, "c.crl");
    assert.equal(config.peerCrlFile, "p.crl");
    assert.equal(config.clientCertAllowedHostname, "client.example");
    assert.equal(config.peerCertAllowedCn, "member");
    assert.equal(config.peerCertAllowedHostname, "peer.example");
    assert.deepEqual(warnings, []);
  });
});

describe("renderHelp", () => {
  test("lists every flag with its default under etcd's groups", () => {
    const help = renderHelp();
    for (const title of ["Member:", "Clustering:", "Security:", "Logging:", "Experimental:"]) {
      assert.ok(help.includes(`\n${title}\n`), title);
    }
    for (const spec of FLAGS) assert.ok(help.includes(`--${spec.name} '`), spec.name);
    assert.ok(help.includes("--heartbeat-interval '100'"));
    assert.ok(
      help.includes("--discovery '' [ignored by Kvorum]") ||
        help.includes("--discovery ''  [ignored by Kvorum]"),
    );
  });
});
