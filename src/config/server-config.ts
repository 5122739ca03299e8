// The kvorum server's configuration, read the way etcd 3.4 reads its own: command-line flags
// (--flag value, --flag=value, bare booleans), ETCD_* environment variables for flags not given
// on the command line, or a YAML --config-file that replaces both. Defaults and validation
// rules follow etcd 3.4 (see docs/server-flags.md); the data dir suffix is ".kvorum".

import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { FLAGS, findFlag, flagToEnv, type FlagSpec } from "./flag-table.js";
import {
  parseBool,
  parseCompactionRetention,
  parseGoDurationMs,
  parseInitialCluster,
  parseUint,
  parseUint32,
  parseUrlList,
  type AutoCompactionMode,
} from "./value-parsers.js";

/** Thrown for any configuration etcd would refuse; the message names the offending flag. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

export type LogLevel = "debug" | "info" | "warn" | "error" | "panic" | "fatal";

export interface ServerConfig {
  name: string;
  dataDir: string;
  walDir: string;
  listenClientUrls: string[];
  advertiseClientUrls: string[];
  listenPeerUrls: string[];
  initialAdvertisePeerUrls: string[];
  /** Member name → its peer URLs. */
  initialCluster: Record<string, string[]>;
  initialClusterState: "new" | "existing";
  initialClusterToken: string;
  /** Restart on an existing WAL as a one-member cluster (see src/server/force-new-cluster.ts). */
  forceNewCluster: boolean;
  heartbeatIntervalMs: number;
  /** A member alone in its configuration campaigns at start (false: it waits out the election timeout). */
  initialElectionTickAdvance: boolean;
  electionTimeoutMs: number;
  snapshotCount: number;
  /** Longest time an applied write waits for its backend commit (etcd's 0 → 100 ms). */
  backendBatchIntervalMs: number;
  /** Most writes in one backend commit (etcd's 0 → 10000). */
  backendBatchLimit: number;
  /** Effective quota: etcd's 0 is already replaced by the 2 GiB default. */
  quotaBackendBytes: number;
  maxRequestBytes: number;
  /** Streams one client connection may have open at once (etcd's default math.MaxUint32). */
  maxConcurrentStreams: number;
  maxTxnOps: number;
  autoCompactionMode: AutoCompactionMode;
  /** The text as given ("1", "30m", "1000"). */
  autoCompactionRetention: string;
  /** Periodic: retention in ms. Revision: revisions to keep. 0: auto compaction off. */
  autoCompactionRetentionValue: number;
  listenMetricsUrls: string[];
  logger: "capnslog" | "zap";
  /** --logger was given (flag, ETCD_LOGGER or config file), not left at its default. */
  loggerExplicit?: boolean;
  logLevel: LogLevel;
  certFile: string;
  keyFile: string;
  trustedCaFile: string;
  clientCertAuth: boolean;
  autoTls: boolean;
  peerCertFile: string;
  peerKeyFile: string;
  peerTrustedCaFile: string;
  peerClientCertAuth: boolean;
  peerAutoTls: boolean;
  /** --client-crl-file / --peer-crl-file: certificates whose serials these CRLs list are refused. */
  clientCrlFile: string;
  peerCrlFile: string;
  /** --client-cert-allowed-hostname, --peer-cert-allowed-cn, --peer-cert-allowed-hostname. */
  clientCertAllowedHostname: string;
  peerCertAllowedCn: string;
  peerCertAllowedHostname: string;
  experimentalWatchProgressNotifyIntervalMs: number;
  /** --experimental-initial-corrupt-check: compare HashKV with the peers before starting. */
  experimentalInitialCorruptCheck: boolean;
  /** --experimental-corrupt-check-time: the leader's periodic HashKV comparison; 0 = off. */
  experimentalCorruptCheckTimeMs: number;
  /** The leader checkpoints lease remaining TTLs through raft (see src/lease/checkpoint.ts). */
  experimentalEnableLeaseCheckpoint: boolean;
  /** Checkpoints are also written to the lease table, so they survive a restart. */
  experimentalEnableLeaseCheckpointPersist: boolean;
  /** Raft log entries kept behind a snapshot for followers that are a little behind. */
  experimentalSnapshotCatchupEntries: number;
  /** The --config-file used, or "" when flags and env vars were read. */
  configFile: string;
  version: boolean;
  help: boolean;
}

export interface ParsedServerConfig {
  config: ServerConfig;
  warnings: string[];
}

/** etcd's default --max-concurrent-streams, math.MaxUint32 (grpc-go's "no limit"). */
export const DEFAULT_MAX_CONCURRENT_STREAMS = 0xffff_ffff;
export const DEFAULT_QUOTA_BACKEND_BYTES = 2 * 1024 * 1024 * 1024;
/** etcd's backend commit interval and size when the flags are 0 (mvcc/backend defaults). */
export const DEFAULT_BACKEND_BATCH_INTERVAL_MS = 100;
export const DEFAULT_BACKEND_BATCH_LIMIT = 10_000;
/** etcd's maxElectionMs. */
export const MAX_ELECTION_TIMEOUT_MS = 50_000;
const DEFAULT_NAME = "default";
const DEFAULT_INITIAL_CLUSTER = "default=http://localhost:2380";

/** Where a value came from, for error messages in etcd's style. */
type Source = { kind: "flag"; flag: string } | { kind: "env"; key: string } | { kind: "file"; key: string };

interface RawValue {
  text: string;
  source: Source;
}

/** The flag values that were set, by flag name, before typing and defaults. */
type RawValues = Map<string, RawValue>;

function invalidValue(text: string, source: Source, reason: string): ConfigError {
  switch (source.kind) {
    case "flag":
      return new ConfigError(`invalid value ${JSON.stringify(text)} for flag ${source.flag}: ${reason}`);
    case "env":
      return new ConfigError(`invalid value ${JSON.stringify(text)} for ${source.key}: ${reason}`);
    case "file":
      return new ConfigError(
        `invalid value ${JSON.stringify(text)} for config file key ${source.key}: ${reason}`,
      );
  }
}

function unsupportedWarning(name: string): string {
  return `flag --${name} is not supported by Kvorum and is ignored`;
}

/** Go flag package syntax: -f, --f, -f=v, --f=v; non-booleans may take the next argument. */
function readCommandLine(argv: readonly string[]): RawValues {
  const out: RawValues = new Map();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--") {
      if (i + 1 < argv.length) throw new ConfigError(`${JSON.stringify(argv[i + 1])} is not a valid flag`);
      break;
    }
    if (!arg.startsWith("-") || arg === "-")
      throw new ConfigError(`${JSON.stringify(arg)} is not a valid flag`);
    const dashes = arg.startsWith("--") ? "--" : "-";
    const body = arg.slice(dashes.length);
    const eq = body.indexOf("=");
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const spec = findFlag(name);
    if (name === "" || name.startsWith("-") || spec === undefined) {
      throw new ConfigError(`flag provided but not defined: ${dashes}${name}`);
    }
    const shown = `${dashes}${name}`;
    let text: string;
    if (eq >= 0) {
      text = body.slice(eq + 1);
    } else if (spec.kind === "bool") {
      text = "true";
    } else {
      if (i + 1 >= argv.length) throw new ConfigError(`flag needs an argument: ${shown}`);
      text = argv[++i] as string;
    }
    out.set(name, { text, source: { kind: "flag", flag: shown } });
  }
  return out;
}

/** ETCD_* variables for flags not on the command line; shadowed or unknown ones warn. */
function readEnvironment(
  env: Record<string, string | undefined>,
  fromFlags: RawValues,
  warnings: string[],
): RawValues {
  const out: RawValues = new Map();
  const known = new Set<string>();
  for (const spec of FLAGS) {
    const key = flagToEnv(spec.name);
    known.add(key);
    const value = env[key];
    if (value === undefined || value === "") continue;
    if (fromFlags.has(spec.name)) {
      warnings.push(
        `conflicting environment variable ${JSON.stringify(key)} is shadowed by corresponding command-line flag (either unset environment variable or disable flag)`,
      );
      continue;
    }
    out.set(spec.name, { text: value, source: { kind: "env", key } });
  }
  for (const [key, value] of Object.entries(env)) {
    if (key.startsWith("ETCD_") && !known.has(key) && value !== undefined) {
      warnings.push(`unrecognized environment variable ${key}=${value}`);
    }
  }
  return out;
}

/** YAML scalars to flag text; numeric durations are nanoseconds, as in etcd's YAML. */
function yamlScalarText(spec: FlagSpec, value: unknown, key: string): string {
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number") return spec.kind === "duration" ? `${value}ns` : String(value);
  if (value === null) return "";
  throw new ConfigError(`invalid value for config file key ${key}: expected a scalar`);
}

const TLS_SECTIONS: Record<string, string> = {
  "client-transport-security": "",
  "peer-transport-security": "peer-",
};
const TLS_KEYS = new Set(["cert-file", "key-file", "client-cert-auth", "trusted-ca-file", "auto-tls"]);

/** etcd's configYAML: flag names as keys, TLS settings nested in two sections. */
function readConfigFile(path: string, readFile: (path: string) => string, warnings: string[]): RawValues {
  let doc: unknown;
  try {
    doc = parseYaml(readFile(path));
  } catch (err) {
    throw new ConfigError(`--config-file ${JSON.stringify(path)}: ${(err as Error).message}`);
  }
  const out: RawValues = new Map();
  if (doc === null || doc === undefined) return out;
  if (typeof doc !== "object" || Array.isArray(doc)) {
    throw new ConfigError(`--config-file ${JSON.stringify(path)}: expected a YAML mapping`);
  }
  const put = (name: string, value: unknown, key: string): void => {
    const spec = findFlag(name);
    if (spec === undefined || name === "config-file" || name === "help" || name === "version") {
      warnings.push(`unknown config file key ${JSON.stringify(key)} is ignored`);
      return;
    }
    out.set(name, { text: yamlScalarText(spec, value, key), source: { kind: "file", key } });
  };
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    const prefix = TLS_SECTIONS[key];
    if (prefix === undefined) {
      put(key, value, key);
      continue;
    }
    if (value === null || value === undefined) continue;
    if (typeof value !== "object" || Array.isArray(value)) {
      throw new ConfigError(`invalid value for config file key ${key}: expected a mapping`);
    }
    for (const [sub, subValue] of Object.entries(value as Record<string, unknown>)) {
      if (!TLS_KEYS.has(sub)) {
        warnings.push(`unknown config file key ${JSON.stringify(`${key}.${sub}`)} is ignored`);
        continue;
      }
      put(prefix + sub, subValue, `${key}.${sub}`);
    }
  }
  return out;
}

/** Typed access to the raw values with etcd's defaults. */
class ValueReader {
  constructor(private readonly raw: RawValues) {}

  isSet(name: string): boolean {
    return this.raw.has(name);
  }

  private entry(name: string): RawValue {
    const found = this.raw.get(name);
    if (found !== undefined) return found;
    const spec = findFlag(name);
    if (spec === undefined) throw new Error(`no such flag ${name}`);
    return { text: spec.defaultText, source: { kind: "flag", flag: `--${name}` } };
  }

  typed<T>(name: string, parse: (text: string) => T): T {
    const { text, source } = this.entry(name);
    try {
      return parse(text);
    } catch (err) {
      throw invalidValue(text, source, (err as Error).message);
    }
  }

  string(name: string): string {
    return this.entry(name).text;
  }
  bool(name: string): boolean {
    return this.typed(name, parseBool);
  }
  uint(name: string): number {
    return this.typed(name, parseUint);
  }
  urls(name: string): string[] {
    return this.typed(name, parseUrlList);
  }
  durationMs(name: string): number {
    return this.typed(name, parseGoDurationMs);
  }
  cluster(name: string): Record<string, string[]> {
    return this.typed(name, parseInitialCluster);
  }
  oneOf<T extends string>(name: string, allowed: readonly T[]): T {
    return this.typed(name, (text) => {
      if ((allowed as readonly string[]).includes(text)) return text as T;
      throw new Error(`valid values are ${allowed.join(", ")}`);
    });
  }
  retention(mode: AutoCompactionMode): number {
    const { text, source } = this.entry("auto-compaction-retention");
    try {
      return parseCompactionRetention(mode, text);
    } catch (err) {
      throw invalidValue(text, source, (err as Error).message);
    }
  }
}

function buildConfig(values: ValueReader, configFile: string): ServerConfig {
  const name = values.string("name");
  const autoCompactionMode = values.oneOf("auto-compaction-mode", ["periodic", "revision"] as const);
  const listenPeerUrls = values.urls("listen-peer-urls");
  const initialAdvertisePeerUrls = values.urls("initial-advertise-peer-urls");
  // etcd: a renamed member without --initial-cluster bootstraps as name=its advertised peer URLs.
  const initialCluster =
    name !== DEFAULT_NAME && values.string("initial-cluster") === DEFAULT_INITIAL_CLUSTER
      ? { [name]: initialAdvertisePeerUrls }
      : values.cluster("initial-cluster");
  const quota = values.uint("quota-backend-bytes");
  const dataDir = values.isSet("data-dir") ? values.string("data-dir") : `${name}.kvorum`;
  return {
    name,
    dataDir,
    walDir: values.string("wal-dir"),
    listenClientUrls: values.urls("listen-client-urls"),
    advertiseClientUrls: values.urls("advertise-client-urls"),
    listenPeerUrls,
    initialAdvertisePeerUrls,
    initialCluster,
    initialClusterState: values.oneOf("initial-cluster-state", ["new", "existing"] as const),
    initialClusterToken: values.string("initial-cluster-token"),
    forceNewCluster: values.bool("force-new-cluster"),
    heartbeatIntervalMs: values.uint("heartbeat-interval"),
    initialElectionTickAdvance: values.bool("initial-election-tick-advance"),
    electionTimeoutMs: values.uint("election-timeout"),
    snapshotCount: values.uint("snapshot-count"),
    backendBatchIntervalMs: values.typed("backend-batch-interval", (text) =>
      text === ""
        ? DEFAULT_BACKEND_BATCH_INTERVAL_MS
        : parseGoDurationMs(text) || DEFAULT_BACKEND_BATCH_INTERVAL_MS,
    ),
    backendBatchLimit: values.uint("backend-batch-limit") || DEFAULT_BACKEND_BATCH_LIMIT,
    quotaBackendBytes: quota === 0 ? DEFAULT_QUOTA_BACKEND_BYTES : quota,
    maxRequestBytes: values.uint("max-request-bytes"),
    maxConcurrentStreams: values.isSet("max-concurrent-streams")
      ? values.typed("max-concurrent-streams", parseUint32)
      : DEFAULT_MAX_CONCURRENT_STREAMS,
    maxTxnOps: values.uint("max-txn-ops"),
    autoCompactionMode,
    autoCompactionRetention: values.string("auto-compaction-retention"),
    autoCompactionRetentionValue: values.retention(autoCompactionMode),
    listenMetricsUrls: values.urls("listen-metrics-urls"),
    logger: values.oneOf("logger", ["capnslog", "zap"] as const),
    loggerExplicit: values.isSet("logger"),
    logLevel: values.oneOf("log-level", ["debug", "info", "warn", "error", "panic", "fatal"] as const),
    certFile: values.string("cert-file"),
    keyFile: values.string("key-file"),
    trustedCaFile: values.string("trusted-ca-file"),
    clientCertAuth: values.bool("client-cert-auth"),
    autoTls: values.bool("auto-tls"),
    peerCertFile: values.string("peer-cert-file"),
    peerKeyFile: values.string("peer-key-file"),
    peerTrustedCaFile: values.string("peer-trusted-ca-file"),
    peerClientCertAuth: values.bool("peer-client-cert-auth"),
    peerAutoTls: values.bool("peer-auto-tls"),
    clientCrlFile: values.string("client-crl-file"),
    peerCrlFile: values.string("peer-crl-file"),
    clientCertAllowedHostname: values.string("client-cert-allowed-hostname"),
    peerCertAllowedCn: values.string("peer-cert-allowed-cn"),
    peerCertAllowedHostname: values.string("peer-cert-allowed-hostname"),
    experimentalSnapshotCatchupEntries: values.uint("experimental-snapshot-catchup-entries"),
    experimentalEnableLeaseCheckpoint: values.bool("experimental-enable-lease-checkpoint"),
    experimentalEnableLeaseCheckpointPersist: values.bool("experimental-enable-lease-checkpoint-persist"),
    experimentalWatchProgressNotifyIntervalMs: values.durationMs(
      "experimental-watch-progress-notify-interval",
    ),
    experimentalInitialCorruptCheck: values.bool("experimental-initial-corrupt-check"),
    experimentalCorruptCheckTimeMs: values.durationMs("experimental-corrupt-check-time"),
    configFile,
    version: values.bool("version"),
    help: values.bool("help"),
  };
}

/** The cross-flag checks of etcd's embed.Config.Validate that apply to Kvorum. */
function validate(config: ServerConfig, values: ValueReader): void {
  if (config.heartbeatIntervalMs <= 0) {
    throw new ConfigError(`--heartbeat-interval must be >0 (set to ${config.heartbeatIntervalMs}ms)`);
  }
  if (config.electionTimeoutMs <= 0) {
    throw new ConfigError(`--election-timeout must be >0 (set to ${config.electionTimeoutMs}ms)`);
  }
  if (5 * config.heartbeatIntervalMs > config.electionTimeoutMs) {
    throw new ConfigError(
      `--election-timeout[${config.electionTimeoutMs}ms] should be at least as 5 times as --heartbeat-interval[${config.heartbeatIntervalMs}ms]`,
    );
  }
  if (config.electionTimeoutMs > MAX_ELECTION_TIMEOUT_MS) {
    throw new ConfigError(
      `--election-timeout[${config.electionTimeoutMs}ms] is too long, and should be set less than ${MAX_ELECTION_TIMEOUT_MS}ms`,
    );
  }
  if (values.isSet("listen-client-urls") && !values.isSet("advertise-client-urls")) {
    throw new ConfigError("--advertise-client-urls is required when --listen-client-urls is set explicitly");
  }
  if (config.listenPeerUrls.length === 0) throw new ConfigError("--listen-peer-urls must not be empty");
  if (config.listenClientUrls.length === 0) throw new ConfigError("--listen-client-urls must not be empty");
  requireTlsForHttps(config.listenClientUrls, config.certFile, config.keyFile, config.autoTls, "client");
  requireTlsForHttps(
    config.listenPeerUrls,
    config.peerCertFile,
    config.peerKeyFile,
    config.peerAutoTls,
    "peer",
  );
  if (config.initialClusterState === "new" && config.initialCluster[config.name] === undefined) {
    throw new ConfigError(
      `couldn't find local name ${JSON.stringify(config.name)} in the initial cluster configuration (--initial-cluster)`,
    );
  }
  if (config.autoCompactionRetentionValue < 0) {
    throw new ConfigError(`--auto-compaction-retention must not be negative`);
  }
  if (config.experimentalWatchProgressNotifyIntervalMs <= 0) {
    throw new ConfigError("--experimental-watch-progress-notify-interval must be >0");
  }
  if (config.experimentalEnableLeaseCheckpointPersist && !config.experimentalEnableLeaseCheckpoint) {
    throw new ConfigError(
      "setting experimental-enable-lease-checkpoint-persist requires experimental-enable-lease-checkpoint",
    );
  }
}

/** etcd refuses to listen on https/unixs without a certificate and key (or auto TLS). */
function requireTlsForHttps(
  urls: readonly string[],
  certFile: string,
  keyFile: string,
  autoTls: boolean,
  kind: "client" | "peer",
): void {
  if (autoTls || (certFile !== "" && keyFile !== "")) return;
  const secure = urls.find((u) => u.startsWith("https:") || u.startsWith("unixs:"));
  if (secure === undefined) return;
  const flags = kind === "client" ? "--cert-file, --key-file" : "--peer-cert-file, --peer-key-file";
  throw new ConfigError(
    `TLS key/cert (${flags}) must be provided for ${kind} url ${secure} with HTTPS scheme`,
  );
}

/**
 * Reads the configuration from argv (without the node and script names), the environment and,
 * when --config-file or ETCD_CONFIG_FILE names one, a YAML file, which then replaces all other
 * flags and env vars as in etcd. Throws ConfigError for anything etcd would refuse.
 */
export function parseServerConfig(
  argv: readonly string[],
  env: Record<string, string | undefined>,
  readFile: (path: string) => string = defaultReadFile,
): ParsedServerConfig {
  const warnings: string[] = [];
  const fromFlags = readCommandLine(argv);
  const help = isTrue(fromFlags.get("help")?.text);
  const configFile = fromFlags.get("config-file")?.text || env[flagToEnv("config-file")] || "";
  let raw: RawValues;
  if (configFile !== "" && !help) {
    raw = readConfigFile(configFile, readFile, warnings);
    const ignored = [...fromFlags.keys()].filter((n) => n !== "config-file" && n !== "version");
    if (ignored.length > 0) {
      warnings.push(
        `loaded server configuration from ${JSON.stringify(configFile)}; other command line flags and environment variables are ignored: ${ignored.map((n) => `--${n}`).join(" ")}`,
      );
    }
    const version = fromFlags.get("version");
    if (version !== undefined) raw.set("version", version);
  } else {
    const fromEnv = readEnvironment(env, fromFlags, warnings);
    raw = new Map([...fromEnv, ...fromFlags]);
    raw.delete("config-file");
  }
  for (const name of raw.keys()) {
    const spec = findFlag(name);
    if (spec !== undefined && !spec.supported) warnings.push(unsupportedWarning(name));
  }
  const values = new ValueReader(raw);
  const config = buildConfig(values, configFile !== "" && !help ? configFile : "");
  if (!config.help && !config.version) validate(config, values);
  return { config, warnings };
}

/** A --help value that is true; a bad value is reported later by the typed reader. */
function isTrue(text: string | undefined): boolean {
  try {
    return text !== undefined && parseBool(text);
  } catch {
    return false;
  }
}

/** Startup-only read of the config file; sync I/O is fine before the server runs. */
function defaultReadFile(path: string): string {
  return readFileSync(path, "utf8");
}
