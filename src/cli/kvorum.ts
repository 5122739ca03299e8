#!/usr/bin/env node
// kvorum: the server. Reads etcd 3.4's flags, ETCD_* variables or a YAML config file, starts one
// member, and serves gRPC, the JSON gateway, /health, /version and /metrics on every client URL.
import { unixUrlHost } from "../common/unix-socket.js";
import { realpathSync } from "node:fs";
import { arch, platform } from "node:os";
import { fileURLToPath } from "node:url";
import {
  createHttpHandler,
  createMetricsHttpHandler,
  instrumentHandlers,
  type JsonCodec,
} from "../api/http/index.js";
import {
  listenClientUrl,
  loadClientTls,
  type ClientListener,
  type GrpcConnectionSink,
  type ListenerTlsOptions,
} from "../api/listener.js";
import { createServerLogger, type ServerLogger } from "../common/logger.js";
import { createMetrics } from "../common/metrics.js";
import { observe } from "../common/etcd-counts.js";
import { PeerProber, PROBING_PATH, probingAnswer } from "../transport/peer-prober.js";
import { ConfigError, parseServerConfig, type ServerConfig } from "../config/server-config.js";
import { renderHelp } from "../config/help-text.js";
import { createHandlerTable } from "../api/services/index.js";
import { createGrpcServer } from "../api/grpc/server.js";
import { plainFromJson, plainToJson } from "../proto/codec.js";
import { startMember, type Member } from "../server/index.js";
import { testLeaseCheckpointIntervalMs } from "../lease/checkpoint.js";
import { nodeIdOf } from "../server/identity.js";
import { peerUrlsOf } from "../server/member.js";
import { runInitialCorruptCheck } from "../server/corruption-host.js";
import { membersDocument, PEER_MEMBERS_PATH, planBootstrap, writeIdentityFile } from "../server/bootstrap.js";
import {
  createPeerHandler,
  FAULT_INJECTION_ENV,
  faultsFromEnv,
  fetchPeerJson,
  listenPeerUrl,
  loadPeerTls,
  PeerRpcClient,
  PeerTransport,
  type PeerListener,
  type PeerSink,
} from "../transport/index.js";
import { ETCD_API_VERSION, ETCD_CLUSTER_VERSION, VERSION } from "../version.js";

export const UNSAFE_STALE_READS_ENV = "KVORUM_UNSAFE_STALE_READS";

/** The stale-reads switch is on only when set to exactly "1"; any other value is refused. */
export function unsafeStaleReadsFromEnv(env: Record<string, string | undefined>): boolean {
  const v = env[UNSAFE_STALE_READS_ENV];
  if (v === undefined || v === "") return false;
  if (v === "1") return true;
  throw new Error(
    `${UNSAFE_STALE_READS_ENV}=${JSON.stringify(v)} is refused: it turns off linearizable reads and is on only when set to exactly 1 (for testing the chaos checker); unset it`,
  );
}

/** etcd lets a gRPC message be this much larger than --max-request-bytes. */
const GRPC_OVERHEAD_BYTES = 512 * 1024;

export interface RunningServer {
  /** The client URLs as bound (a port 0 replaced by the real port). */
  clientUrls: string[];
  metricsUrls: string[];
  /** Resolves true once the member has a leader, false if stopped first. */
  ready(): Promise<boolean>;
  /** Stops accepting, closes every connection, stops the member. */
  stop(): Promise<void>;
}

/** The text `kvorum --version` prints, shaped like etcd's. */
export function versionText(): string {
  return [
    `kvorum Version: ${VERSION}`,
    `etcd API Version: ${ETCD_API_VERSION}`,
    `Node Version: ${process.version}`,
    `Node OS/Arch: ${platform()}/${arch()}`,
  ].join("\n");
}

function boundUrl(url: string, listener: ClientListener): string {
  if (listener.port === undefined) return url;
  const u = new URL(url);
  if (u.port === String(listener.port)) return url;
  u.port = String(listener.port);
  return u.toString().replace(/\/$/, "");
}

function hostsOf(urls: readonly string[]): string[] {
  return urls.flatMap((url) => {
    const u = new URL(url);
    if (u.protocol === "unix:" || u.protocol === "unixs:") return [unixUrlHost(url)];
    return u.protocol === "http:" || u.protocol === "https:" ? [u.hostname.replace(/^\[(.*)\]$/, "$1")] : [];
  });
}

function needsTls(urls: readonly string[]): boolean {
  return urls.some((u) => u.startsWith("https:") || u.startsWith("unixs:"));
}

/** A metrics-only port has no gRPC: an HTTP/2 client there is simply disconnected. */
const noGrpc: GrpcConnectionSink = {
  injectConnection: (socket) => socket.destroy(),
};

/** Starts the member and its listeners; the caller owns signals and process exit. */
export async function runServer(
  config: ServerConfig,
  logger: ServerLogger,
  onRemoved?: () => void,
): Promise<RunningServer> {
  const tlsWanted = needsTls([...config.listenClientUrls, ...config.listenMetricsUrls]);
  const tls: ListenerTlsOptions | undefined = tlsWanted
    ? loadClientTls(config, hostsOf([...config.listenClientUrls, ...config.listenMetricsUrls]), logger)
    : undefined;

  const codec: JsonCodec = { plainFromJson, plainToJson };
  const peerTls = loadPeerTls(
    config,
    hostsOf([...config.listenPeerUrls, ...config.initialAdvertisePeerUrls]),
    logger,
  );
  const plan = await planBootstrap(
    config,
    (url, timeoutMs) => fetchPeerJson(url, PEER_MEMBERS_PATH, peerTls?.client, timeoutMs),
    logger,
  );
  const identity = plan.identity;
  const self = nodeIdOf(identity.memberId);

  // Peer messages can arrive before the member has opened its storage: they are dropped until
  // then (raft retransmits).
  const unsafeStaleReads = unsafeStaleReadsFromEnv(process.env);
  if (unsafeStaleReads) {
    logger.warn(
      { env: UNSAFE_STALE_READS_ENV },
      "UNSAFE: linearizable reads are answered from local state without ReadIndex; a partitioned member will serve stale data. For testing the chaos checker only, never in production",
    );
  }
  if (config.experimentalEnableLeaseCheckpoint && !config.experimentalEnableLeaseCheckpointPersist)
    logger.warn(
      {},
      "Detected that checkpointing is enabled without persistence. Consider enabling experimental-enable-lease-checkpoint-persist",
    );
  const faults = faultsFromEnv(process.env);
  if (faults !== undefined) {
    logger.warn(
      { env: FAULT_INJECTION_ENV },
      "FAULT INJECTION IS ENABLED: peers may drop raft traffic on request (PUT /test/faults on the peer port); for tests only, never in production",
    );
  }
  const box: { member?: Member } = {};
  let removedReported = false;
  const sink: PeerSink = {
    receive: (m) => box.member?.receive(m),
    unreachable: (node) => box.member?.unreachable(node),
    snapshotStatus: (node, ok) => box.member?.snapshotStatus(node, ok),
    receiveSnapshot: (m, data) =>
      box.member !== undefined
        ? box.member.receiveSnapshot(m, data)
        : Promise.reject(new Error("not started yet")),
  };
  const transport = new PeerTransport({
    self,
    clusterId: identity.clusterId,
    peers: peerUrlsOf(config, identity),
    sink,
    logger,
    tls: peerTls?.client,
    faults,
    onRemoved: () => {
      if (removedReported) return;
      removedReported = true;
      logger.warn({}, "a peer says this member was removed from the cluster");
      onRemoved?.();
    },
  });
  const peerCaller = new PeerRpcClient({
    self,
    clusterId: () => identity.clusterId,
    urlsOf: (peer) => box.member?.peerUrls().get(peer),
    tls: peerTls?.client,
    faults,
  });
  // Before the member: the WAL and backend report their flush times from the start.
  const metrics = createMetrics({
    quotaBackendBytes: config.quotaBackendBytes,
  });
  const member = await startMember({
    config,
    logger,
    transport,
    peerCaller,
    diskTimings: metrics.disk,
    identity,
    initialMembers: plan.initialMembers,
    unsafeStaleReads,
    // As etcd: only a member restarting on its data checks it against its peers before starting.
    beforeBegin:
      plan.restarted && config.experimentalInitialCorruptCheck
        ? async (m) => {
            const caller = new PeerRpcClient({
              self,
              clusterId: () => identity.clusterId,
              urlsOf: (peer) => m.peerUrls().get(peer),
              tls: peerTls?.client,
            });
            await runInitialCorruptCheck(m, caller, logger).finally(() => caller.close());
          }
        : undefined,
    leaseCheckpointIntervalMs: testLeaseCheckpointIntervalMs(process.env),
    onRemoved: () => {
      if (removedReported) return;
      removedReported = true;
      onRemoved?.();
    },
  });
  box.member = member;
  writeIdentityFile(config.dataDir, config.name, identity);
  // The replicated member table is the authority on peers once the member has opened its state.
  transport.setPeers(member.peerUrls());
  const listeners: ClientListener[] = [];
  const peerListeners: PeerListener[] = [];
  let grpc: ReturnType<typeof createGrpcServer> | undefined;
  let prober: PeerProber | undefined;
  const stopped = new AbortController();
  const stop = async (): Promise<void> => {
    stopped.abort();
    await Promise.all(listeners.map((l) => l.close().catch(() => {})));
    await grpc?.close().catch(() => {});
    prober?.stop();
    await member.stop();
    peerCaller.close();
    await Promise.all(peerListeners.map((l) => l.close().catch(() => {})));
  };
  try {
    metrics.attachMember(member);
    const table = instrumentHandlers(
      createHandlerTable(member, {
        maxTxnOps: config.maxTxnOps,
        maxRequestBytes: config.maxRequestBytes,
        electionTimeoutMs: config.electionTimeoutMs,
        logger,
      }),
      metrics,
    );
    grpc = createGrpcServer(table, {
      maxRecvBytes: config.maxRequestBytes + GRPC_OVERHEAD_BYTES,
      maxConcurrentStreams: config.maxConcurrentStreams,
      logger,
    });
    const http = createHttpHandler(table, member, {
      codec,
      maxRequestBytes: config.maxRequestBytes,
      metrics,
      logger,
    });
    const peerHandler = createPeerHandler({
      self,
      clusterId: () => identity.clusterId,
      sink,
      logger,
      faults,
      isRemoved: (from) => member.isRemovedMember(from),
      rpc: (method, body) => member.answerPeer(method, body),
      routes: {
        [PEER_MEMBERS_PATH]: async () => membersDocument(identity.clusterId, await member.memberList()),
        "/version": () => ({ etcdserver: ETCD_API_VERSION, etcdcluster: ETCD_CLUSTER_VERSION }),
        [PROBING_PATH]: probingAnswer,
      },
    });
    prober = new PeerProber({
      self,
      peers: () => member.peerUrls(),
      tls: peerTls?.client,
      report: (peer, seconds) => observe.peerRoundTrip(peer, seconds),
    });
    for (const url of config.listenPeerUrls) {
      const listener = await listenPeerUrl(url, peerHandler, peerTls?.server);
      peerListeners.push(listener);
      logger.info({ address: listener.url }, "listening for peers");
    }
    const published = member.whenPublished();
    const clientUrls: string[] = [];
    for (const url of config.listenClientUrls) {
      // Served once this start's member attributes are published, as etcd does.
      const listener = await listenClientUrl(url, { grpc, http, tls, serveAfter: published });
      listeners.push(listener);
      const bound = boundUrl(url, listener);
      clientUrls.push(bound);
      if (!url.startsWith("https:") && !url.startsWith("unixs:")) {
        // etcd 3.4 logs this at info (zap) or notice (capnslog) level, not as a warning.
        logger.info({ address: bound }, "serving client traffic insecurely; this is strongly discouraged!");
      }
    }
    const metricsUrls: string[] = [];
    const metricsHttp = createMetricsHttpHandler(member, metrics, logger);
    for (const url of config.listenMetricsUrls) {
      const listener = await listenClientUrl(url, {
        grpc: noGrpc,
        http: metricsHttp,
        tls,
      });
      listeners.push(listener);
      metricsUrls.push(boundUrl(url, listener));
    }
    return {
      clientUrls,
      metricsUrls,
      stop,
      ready: () => whenReady(published, stopped.signal),
    };
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
}

/**
 * Like etcd's ReadyNotify: the member is ready once its attributes are published through raft
 * (which needs a leader and a commit); false when the server stops first.
 */
function whenReady(published: Promise<void>, stopped: AbortSignal): Promise<boolean> {
  if (stopped.aborted) return Promise.resolve(false);
  return Promise.race([
    published.then(() => !stopped.aborted),
    new Promise<boolean>((resolve) =>
      stopped.addEventListener("abort", () => resolve(false), { once: true }),
    ),
  ]);
}

function exitOnSignals(logger: ServerLogger, server: RunningServer): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, "received a second signal; exiting now");
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, "received signal; shutting down");
    server.stop().then(
      () => {
        logger.info({}, "stopped serving client requests");
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}

export async function main(argv: readonly string[], env: Record<string, string | undefined>): Promise<void> {
  let parsed: ReturnType<typeof parseServerConfig>;
  try {
    parsed = parseServerConfig(argv, env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`error verifying flags, ${err.message}. See 'kvorum --help'.\n`);
    process.exit(1);
  }
  const { config, warnings } = parsed;
  if (config.help) {
    process.stdout.write(renderHelp());
    return;
  }
  if (config.version) {
    process.stdout.write(versionText() + "\n");
    return;
  }
  const logger = createServerLogger(config);
  for (const warning of warnings) logger.warn({}, warning);
  logger.info(
    {
      "kvorum-version": VERSION,
      "etcd-api-version": ETCD_API_VERSION,
      "node-version": process.version,
      name: config.name,
      "data-dir": config.dataDir,
    },
    "starting kvorum",
  );
  let server: RunningServer;
  try {
    server = await runServer(config, logger, () => {
      logger.warn({}, "this member was removed from the cluster; exiting");
      void server.stop().finally(() => process.exit(0));
    });
  } catch (err) {
    logger.fatal({ err }, `failed to start: ${(err as Error).message}`);
    process.exit(1);
  }
  exitOnSignals(logger, server);
  if (!(await server.ready())) return;
  logger.info(
    {
      "listen-client-urls": server.clientUrls,
      "advertise-client-urls": config.advertiseClientUrls,
      "listen-metrics-urls": server.metricsUrls,
    },
    "ready to serve client requests",
  );
}

/** True when this file is the program (also through npm's bin symlink), not an import. */
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  await main(process.argv.slice(2), process.env);
}
