// The table of every etcd 3.4 server flag Kvorum knows: its value kind, its etcd default (as
// printed by `etcd --help` on etcd 3.4), its help group, and whether Kvorum honours it.
// Unsupported flags are still accepted (and warned about) so etcd command lines keep working.

/** How a flag's value is parsed. */
export type FlagKind =
  | "string"
  | "bool"
  | "uint"
  | "urls"
  | "duration"
  | "cluster"
  | "cluster-state"
  | "compaction-mode"
  | "logger"
  | "log-level";

/** The --help groups, in etcd's order. */
export type FlagGroup =
  | "member"
  | "clustering"
  | "security"
  | "auth"
  | "profiling"
  | "logging"
  | "proxy"
  | "experimental"
  | "unsafe"
  | "general";

export interface FlagSpec {
  readonly name: string;
  readonly kind: FlagKind;
  /** The default as etcd shows it (also Kvorum's, except where `note` says). */
  readonly defaultText: string;
  readonly group: FlagGroup;
  /** False: accepted for compatibility, warned about, and otherwise ignored. */
  readonly supported: boolean;
  readonly description: string;
}

function flag(
  name: string,
  kind: FlagKind,
  defaultText: string,
  group: FlagGroup,
  supported: boolean,
  description: string,
): FlagSpec {
  return { name, kind, defaultText, group, supported, description };
}

const S = true;
const X = false;

export const FLAGS: readonly FlagSpec[] = [
  flag(
    "config-file",
    "string",
    "",
    "general",
    S,
    "YAML file with the whole configuration; flags and env vars are then ignored",
  ),
  flag("version", "bool", "false", "general", S, "print the version and exit"),
  flag("help", "bool", "false", "general", S, "print this help and exit"),

  flag("name", "string", "default", "member", S, "human-readable name of this member"),
  flag("data-dir", "string", "${name}.kvorum", "member", S, "directory holding the member's data"),
  flag(
    "wal-dir",
    "string",
    "",
    "member",
    S,
    "separate directory for the write-ahead log (empty: inside data-dir)",
  ),
  flag("snapshot-count", "uint", "100000", "member", S, "committed entries between two snapshots"),
  flag("heartbeat-interval", "uint", "100", "member", S, "leader heartbeat period in milliseconds"),
  flag(
    "election-timeout",
    "uint",
    "1000",
    "member",
    S,
    "election timeout in milliseconds (at least 5 heartbeats)",
  ),
  flag(
    "initial-election-tick-advance",
    "bool",
    "true",
    "member",
    S,
    "campaign at start when alone in the configuration (false: wait out the election timeout)",
  ),
  flag("listen-peer-urls", "urls", "http://localhost:2380", "member", S, "URLs to accept peer traffic on"),
  flag(
    "listen-client-urls",
    "urls",
    "http://localhost:2379",
    "member",
    S,
    "URLs to accept client traffic on",
  ),
  flag("max-snapshots", "uint", "5", "member", X, "snapshot files to keep (0 = unlimited)"),
  flag("max-wals", "uint", "5", "member", X, "WAL files to keep (0 = unlimited)"),
  flag("quota-backend-bytes", "uint", "0", "member", S, "backend size that raises an alarm (0 = 2 GiB)"),
  flag(
    "backend-batch-interval",
    "string",
    "",
    "member",
    S,
    "longest time before a backend commit (a Go duration; empty or 0: 100ms)",
  ),
  flag("backend-batch-limit", "uint", "0", "member", S, "most writes before a backend commit (0: 10000)"),
  flag("max-txn-ops", "uint", "128", "member", S, "most operations in one transaction"),
  flag("max-request-bytes", "uint", "1572864", "member", S, "largest client request in bytes"),
  flag(
    "max-concurrent-streams",
    "uint",
    "math.MaxUint32",
    "member",
    S,
    "most concurrent streams per gRPC client connection",
  ),
  flag(
    "grpc-keepalive-min-time",
    "duration",
    "5s",
    "member",
    X,
    "shortest keepalive ping interval a client may use",
  ),
  flag("grpc-keepalive-interval", "duration", "2h", "member", X, "server-to-client ping interval"),
  flag("grpc-keepalive-timeout", "duration", "20s", "member", X, "ping acknowledgement timeout"),

  flag(
    "initial-advertise-peer-urls",
    "urls",
    "http://localhost:2380",
    "clustering",
    S,
    "this member's peer URLs as told to the cluster",
  ),
  flag(
    "initial-cluster",
    "cluster",
    "default=http://localhost:2380",
    "clustering",
    S,
    "bootstrap members as name=url,name=url",
  ),
  flag(
    "initial-cluster-state",
    "cluster-state",
    "new",
    "clustering",
    S,
    "'new' to bootstrap, 'existing' to join",
  ),
  flag(
    "initial-cluster-token",
    "string",
    "etcd-cluster",
    "clustering",
    S,
    "token that keeps bootstrapping clusters apart",
  ),
  flag(
    "advertise-client-urls",
    "urls",
    "http://localhost:2379",
    "clustering",
    S,
    "this member's client URLs as told to the cluster",
  ),
  flag("discovery", "string", "", "clustering", X, "discovery service URL"),
  flag("discovery-fallback", "string", "proxy", "clustering", X, "what to do when discovery fails"),
  flag("discovery-proxy", "string", "", "clustering", X, "HTTP proxy for the discovery service"),
  flag("discovery-srv", "string", "", "clustering", X, "DNS domain for SRV bootstrapping"),
  flag("discovery-srv-name", "string", "", "clustering", X, "suffix of the DNS SRV name"),
  flag(
    "strict-reconfig-check",
    "bool",
    "true",
    "clustering",
    X,
    "refuse reconfigurations that could lose quorum",
  ),
  flag("pre-vote", "bool", "false", "clustering", X, "enable Raft pre-vote"),
  flag(
    "auto-compaction-retention",
    "string",
    "0",
    "clustering",
    S,
    "history to keep: hours or a duration (periodic) or revisions (revision); 0 = off",
  ),
  flag("auto-compaction-mode", "compaction-mode", "periodic", "clustering", S, "'periodic' or 'revision'"),
  flag("enable-v2", "bool", "false", "clustering", X, "serve the v2 API"),

  flag("cert-file", "string", "", "security", S, "client server TLS certificate"),
  flag("key-file", "string", "", "security", S, "client server TLS key"),
  flag("client-cert-auth", "bool", "false", "security", S, "require client certificates"),
  flag("client-crl-file", "string", "", "security", S, "client certificate revocation list"),
  flag(
    "client-cert-allowed-hostname",
    "string",
    "",
    "security",
    S,
    "required hostname in client certificates",
  ),
  flag("trusted-ca-file", "string", "", "security", S, "CA bundle for client certificates"),
  flag("auto-tls", "bool", "false", "security", S, "serve clients with a generated self-signed certificate"),
  flag("peer-cert-file", "string", "", "security", S, "peer TLS certificate"),
  flag("peer-key-file", "string", "", "security", S, "peer TLS key"),
  flag("peer-client-cert-auth", "bool", "false", "security", S, "require peer certificates"),
  flag("peer-trusted-ca-file", "string", "", "security", S, "CA bundle for peer certificates"),
  flag("peer-cert-allowed-cn", "string", "", "security", S, "required CN in peer certificates"),
  flag("peer-cert-allowed-hostname", "string", "", "security", S, "required hostname in peer certificates"),
  flag(
    "peer-auto-tls",
    "bool",
    "false",
    "security",
    S,
    "talk to peers with a generated self-signed certificate",
  ),
  flag("peer-crl-file", "string", "", "security", S, "peer certificate revocation list"),
  flag("cipher-suites", "string", "", "security", X, "allowed TLS cipher suites"),
  flag("cors", "string", "*", "security", X, "allowed CORS origins"),
  flag("host-whitelist", "string", "*", "security", X, "allowed Host headers"),

  flag("auth-token", "string", "simple", "auth", X, "auth token type"),
  flag("bcrypt-cost", "uint", "10", "auth", X, "bcrypt cost for passwords"),
  flag("auth-token-ttl", "uint", "300", "auth", X, "simple token lifetime in seconds"),

  flag("enable-pprof", "bool", "false", "profiling", X, "serve runtime profiling data"),
  flag("metrics", "string", "basic", "profiling", X, "metrics detail: basic or extensive"),
  flag("listen-metrics-urls", "urls", "", "profiling", S, "extra URLs serving /metrics and /health"),

  flag("logger", "logger", "capnslog", "logging", S, "'capnslog' or 'zap'"),
  flag("log-outputs", "string", "default", "logging", X, "where logs go"),
  flag("log-level", "log-level", "info", "logging", S, "debug, info, warn, error, panic or fatal"),
  flag("debug", "bool", "false", "logging", X, "deprecated: debug logging"),
  flag("log-package-levels", "string", "", "logging", X, "deprecated: per-package log levels"),

  flag("proxy", "string", "off", "proxy", X, "v2 proxy mode"),
  flag("proxy-failure-wait", "uint", "5000", "proxy", X, "v2 proxy: ms an endpoint stays failed"),
  flag("proxy-refresh-interval", "uint", "30000", "proxy", X, "v2 proxy: endpoint refresh interval in ms"),
  flag("proxy-dial-timeout", "uint", "1000", "proxy", X, "v2 proxy: dial timeout in ms"),
  flag("proxy-write-timeout", "uint", "5000", "proxy", X, "v2 proxy: write timeout in ms"),
  flag("proxy-read-timeout", "uint", "0", "proxy", X, "v2 proxy: read timeout in ms"),

  flag(
    "experimental-initial-corrupt-check",
    "bool",
    "false",
    "experimental",
    S,
    "compare data with the peers' before starting",
  ),
  flag(
    "experimental-corrupt-check-time",
    "duration",
    "0s",
    "experimental",
    S,
    "period of cluster corruption checks",
  ),
  flag("experimental-enable-v2v3", "string", "", "experimental", X, "v2 API on the v3 backend"),
  flag(
    "experimental-backend-bbolt-freelist-type",
    "string",
    "array",
    "experimental",
    X,
    "bbolt freelist type",
  ),
  flag(
    "experimental-enable-lease-checkpoint",
    "bool",
    "false",
    "experimental",
    S,
    "checkpoint lease remaining TTLs through raft",
  ),
  flag(
    "experimental-enable-lease-checkpoint-persist",
    "bool",
    "false",
    "experimental",
    S,
    "also persist checkpointed remaining TTLs (not in etcd's --help)",
  ),
  flag(
    "experimental-compaction-batch-limit",
    "uint",
    "1000",
    "experimental",
    X,
    "revisions deleted per compaction batch",
  ),
  flag(
    "experimental-peer-skip-client-san-verification",
    "bool",
    "false",
    "experimental",
    X,
    "skip SAN checks on peer client certificates",
  ),
  flag(
    "experimental-snapshot-catchup-entries",
    "uint",
    "5000",
    "experimental",
    S,
    "entries kept behind a snapshot for slow followers (from etcd 3.5)",
  ),
  flag(
    "experimental-watch-progress-notify-interval",
    "duration",
    "10m",
    "experimental",
    S,
    "period of watch progress notifications",
  ),
  flag(
    "experimental-warning-apply-duration",
    "duration",
    "100ms",
    "experimental",
    X,
    "apply time that triggers a warning",
  ),

  flag("force-new-cluster", "bool", "false", "unsafe", S, "restart as a one-member cluster"),
];

const BY_NAME = new Map(FLAGS.map((f) => [f.name, f]));

/** The spec of a flag by its name without dashes, or undefined for a flag etcd does not have. */
export function findFlag(name: string): FlagSpec | undefined {
  return BY_NAME.get(name);
}

/** etcd's env var for a flag: ETCD_ + upper case with dashes turned into underscores. */
export function flagToEnv(name: string): string {
  return "ETCD_" + name.toUpperCase().replace(/-/g, "_");
}
