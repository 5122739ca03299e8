// One client port per --listen-client-urls entry, serving gRPC and HTTP/1.1 on the same socket as
// etcd does. Each connection's first bytes decide: the HTTP/2 connection preface goes to the gRPC
// server, anything else to the HTTP handler (gateway, /health, /version, /metrics). https:// and
// unixs:// terminate TLS first and then decide the same way on the decrypted bytes.
import http from "node:http";
import net from "node:net";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import { readTlsFile, selfSignedCert } from "../common/tls-files.js";
import {
  admitThen,
  checkIdentityRule,
  createTlsGate,
  type GateLogger,
  type TlsGate,
} from "../common/tls-gate.js";
import { prepareUnixSocket, unixSocketPath } from "../common/unix-socket.js";

/** What the listener needs of the gRPC server (GrpcEndpoint from src/api/grpc/server.ts). */
export interface GrpcConnectionSink {
  /** Serve gRPC on `socket`; `head` holds the bytes already read from it (the HTTP/2 preface first). */
  injectConnection(socket: Duplex, head: Buffer): void;
}

export interface ListenerTlsOptions {
  cert: string | Buffer;
  key: string | Buffer;
  /** Trusted CA bundle for client certificates (--trusted-ca-file). */
  ca?: string | Buffer;
  /** --client-cert-auth: require a client certificate signed by `ca`. */
  clientCertAuth?: boolean;
  /** Checks after the handshake (--client-crl-file, --client-cert-allowed-hostname) and logging. */
  gate?: TlsGate;
}

export interface ClientListenerOptions {
  grpc: GrpcConnectionSink;
  http: http.RequestListener;
  /** Required for https:// and unixs:// URLs. */
  tls?: ListenerTlsOptions;
  /** A connection that sends nothing for this long is dropped (default 60 s). */
  firstBytesTimeoutMs?: number;
  /**
   * Connections are accepted at once but served only after this settles (etcd binds its client
   * ports early and serves them once the member is ready); until then they wait unread.
   */
  serveAfter?: Promise<unknown>;
}

export interface ClientListener {
  readonly url: string;
  /** The bound port for tcp URLs (useful with port 0), undefined for unix sockets. */
  readonly port: number | undefined;
  /** Stops accepting and drops every open connection. */
  close(): Promise<void>;
}

/** "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n": what every HTTP/2 (and so gRPC) client sends first. */
export const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

type Route = "grpc" | "http" | "undecided";

/** Classifies the first bytes of a connection; undecided until they could still become the preface. */
export function routeForFirstBytes(bytes: Buffer): Route {
  const n = Math.min(bytes.length, HTTP2_PREFACE.length);
  if (bytes.subarray(0, n).equals(HTTP2_PREFACE.subarray(0, n))) {
    return n === HTTP2_PREFACE.length ? "grpc" : "undecided";
  }
  return "http";
}

interface ParsedListenUrl {
  secure: boolean;
  /** TCP host and port, or a unix socket path. */
  address: { host: string; port: number } | { path: string };
}

function parseListenUrl(url: string): ParsedListenUrl {
  const u = new URL(url);
  switch (u.protocol) {
    case "http:":
    case "https:": {
      const named = u.hostname.replace(/^\[(.*)\]$/, "$1");
      // Go's net.Listen binds "localhost" to its IPv4 address; Node would pick whichever the
      // resolver lists first (often ::1), where etcdctl's default 127.0.0.1:2379 would not reach.
      const host = named === "localhost" ? "127.0.0.1" : named;
      return { secure: u.protocol === "https:", address: { host, port: Number(u.port) } };
    }
    case "unix:":
    case "unixs:": {
      // etcd takes the URL's host:port as the socket path ("unix://localhost:2379").
      return { secure: u.protocol === "unixs:", address: { path: unixSocketPath(url) } };
    }
    default:
      throw new Error(`unsupported listen URL scheme ${u.protocol} in ${url}`);
  }
}

/** Picks the protocol: HTTP/1.1 whenever offered (curl, browsers: the gateway), else h2 (gRPC). */
function chooseAlpn({ protocols }: { protocols: string[] }): string | undefined {
  if (protocols.includes("http/1.1")) return "http/1.1";
  if (protocols.includes("h2")) return "h2";
  return undefined;
}

export async function listenClientUrl(url: string, opts: ClientListenerOptions): Promise<ClientListener> {
  const parsed = parseListenUrl(url);
  const firstBytesTimeoutMs = opts.firstBytesTimeoutMs ?? 60_000;
  const httpServer = http.createServer({ requestTimeout: 0 }, opts.http);
  // Malformed requests get a 400 and a closed socket; nothing escapes as an exception.
  httpServer.on("clientError", (_err, socket) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
    else socket.destroy();
  });

  const open = new Set<Duplex>();
  const track = (socket: Duplex): void => {
    open.add(socket);
    socket.once("close", () => open.delete(socket));
  };

  /** Reads until the route is known, puts the bytes back and hands the socket over. */
  const route = (socket: Duplex): void => {
    let seen: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), firstBytesTimeoutMs);
    const onError = (): void => {
      clearTimeout(timer);
      socket.destroy();
    };
    const onClose = (): void => clearTimeout(timer);
    const handOverGrpc = (): void => {
      clearTimeout(timer);
      socket.removeListener("data", onData);
      socket.removeListener("error", onError);
      socket.removeListener("close", onClose);
      socket.on("error", () => {});
      // The gRPC server reads the socket from here on; it takes the bytes already read with it.
      // (It does not check :authority: etcdctl's per-endpoint calls send "http://host:port".)
      opts.grpc.injectConnection(socket, seen);
    };
    const onData = (chunk: Buffer): void => {
      seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
      const decided = routeForFirstBytes(seen);
      if (decided === "undecided") return;
      if (decided === "grpc") {
        handOverGrpc();
        return;
      }
      clearTimeout(timer);
      socket.removeListener("data", onData);
      socket.removeListener("error", onError);
      socket.removeListener("close", onClose);
      // Errors after the hand-over are the new owner's; keep one listener so none is uncaught.
      socket.on("error", () => {});
      // Node's HTTP/1 parser reads the socket's handle directly once attached, past anything
      // unshifted into the stream buffer; so the peeked bytes are replayed as a 'data' event,
      // which the parser's own data listener feeds in before any later read.
      httpServer.emit("connection", socket);
      socket.emit("data", seen);
    };
    socket.on("data", onData);
    socket.on("error", onError);
    socket.on("close", onClose);
  };

  const gate = opts.serveAfter;
  let serving = gate === undefined;
  void gate?.then(
    () => (serving = true),
    () => {},
  );
  /** Routes a connection now, or once serving starts (unless it was closed meanwhile). */
  const accept = (socket: Duplex): void => {
    if (serving || gate === undefined) {
      route(socket);
      return;
    }
    socket.on("error", () => {});
    void gate.then(
      () => {
        if (!socket.destroyed) route(socket);
      },
      () => socket.destroy(),
    );
  };

  let server: net.Server;
  if (parsed.secure) {
    if (opts.tls === undefined) throw new Error(`${url}: TLS certificate and key are required`);
    const t = opts.tls;
    const tlsServer = tls.createServer({
      cert: t.cert,
      key: t.key,
      ca: t.ca,
      requestCert: t.clientCertAuth === true,
      rejectUnauthorized: t.clientCertAuth === true,
      ALPNCallback: chooseAlpn,
      noDelay: true,
    });
    tlsServer.on("secureConnection", (socket: tls.TLSSocket) => {
      track(socket);
      admitThen(t.gate, socket, accept);
    });
    // Failed handshakes (plain HTTP on a TLS port, bad client certs) only cost that connection.
    tlsServer.on("tlsClientError", (err, socket) => {
      t.gate?.logRejected(socket, err.message);
      socket.destroy();
    });
    tlsServer.on("connection", (raw: net.Socket) => {
      track(raw);
      raw.on("error", () => {});
    });
    server = tlsServer;
  } else {
    // No Nagle: a gRPC answer is several small writes (headers, message, trailers); delaying
    // them behind the client's delayed ACK costs ~40 ms per request (Go servers disable it too).
    server = net.createServer({ noDelay: true }, (socket) => {
      track(socket);
      accept(socket);
    });
  }

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once("error", onError);
    const ready = (): void => {
      server.removeListener("error", onError);
      resolve();
    };
    if ("path" in parsed.address) {
      const path = parsed.address.path;
      // A socket file left by a process that is gone is removed; one that is in use is not.
      prepareUnixSocket(path).then(() => server.listen(path, ready), onError);
    } else {
      server.listen(parsed.address.port, parsed.address.host, ready);
    }
  });
  server.on("error", () => {});

  const bound = server.address();
  let closed: Promise<void> | undefined;
  return {
    url,
    port: typeof bound === "object" && bound !== null ? bound.port : undefined,
    close(): Promise<void> {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        httpServer.closeAllConnections();
        for (const socket of open) socket.destroy();
      });
      return closed;
    },
  };
}

/** The TLS settings of ServerConfig that concern client URLs. */
export interface ClientTlsConfig {
  certFile: string;
  keyFile: string;
  trustedCaFile: string;
  clientCertAuth: boolean;
  autoTls: boolean;
  dataDir: string;
  clientCrlFile?: string;
  clientCertAllowedHostname?: string;
}

/**
 * Reads --cert-file/--key-file/--trusted-ca-file, or with --auto-tls (and no cert given) makes a
 * self-signed certificate for `hosts` under <data-dir>/fixtures/client as etcd does, reusing one
 * made before. Node cannot write X.509 certificates itself, so auto TLS runs the openssl command.
 */
export function loadClientTls(
  config: ClientTlsConfig,
  hosts: readonly string[],
  logger?: GateLogger,
): ListenerTlsOptions {
  let certFile = config.certFile;
  let keyFile = config.keyFile;
  if ((certFile === "" || keyFile === "") && config.autoTls) {
    ({ certFile, keyFile } = selfSignedCert(join(config.dataDir, "fixtures", "client"), hosts));
  }
  if (certFile === "" || keyFile === "") {
    throw new Error(
      "TLS key/cert (--cert-file, --key-file) must be provided for client url with HTTPS scheme",
    );
  }
  const read = readTlsFile;
  const tlsOpts: ListenerTlsOptions = {
    cert: read("--cert-file", certFile),
    key: read("--key-file", keyFile),
    clientCertAuth: config.clientCertAuth,
  };
  if (config.trustedCaFile !== "") tlsOpts.ca = read("--trusted-ca-file", config.trustedCaFile);
  if (config.clientCertAuth && tlsOpts.ca === undefined) {
    throw new Error("--client-cert-auth needs --trusted-ca-file to verify client certificates");
  }
  // As etcd 3.4 does, a trusted CA alone already makes client certificates required.
  if (tlsOpts.ca !== undefined) tlsOpts.clientCertAuth = true;
  const identity = { allowedCn: "", allowedHostname: config.clientCertAllowedHostname ?? "" };
  checkIdentityRule(identity);
  tlsOpts.gate = createTlsGate({
    identity,
    crlFile: config.clientCrlFile,
    requireCert: tlsOpts.clientCertAuth === true,
    logger,
  });
  return tlsOpts;
}
