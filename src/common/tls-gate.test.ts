import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { TestPki, type Issued } from "../../test/pki.test-util.js";
import { listenClientUrl, loadClientTls } from "../api/listener.js";
import { createPeerHandler, listenPeerUrl } from "../transport/peer-server.js";
import { fetchPeerJson } from "../transport/peer-rpc.js";
import { loadPeerTls } from "../transport/tls.js";
import { certMatchesHost, crlRevokedSerials } from "./tls-gate.js";
import { prepareUnixSocket } from "./unix-socket.js";

let dir: string;
let pki: TestPki;
let server: Issued;
let good: Issued;
let revoked: Issued;
let member: Issued;
let intruder: Issued;
let crl: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), "kvorum-tls-gate-"));
  pki = new TestPki(dir);
  server = pki.issue("server", "server", "IP:127.0.0.1,DNS:localhost");
  good = pki.issue("good", "good client", "");
  revoked = pki.issue("revoked", "revoked client", "");
  member = pki.issue("member", "member", "DNS:peer.example,DNS:localhost,IP:127.0.0.1,DNS:*.wild.example");
  intruder = pki.issue("intruder", "intruder", "DNS:other.example,IP:127.0.0.1");
  crl = pki.revoke([revoked.cert]);
});

after(() => rmSync(dir, { recursive: true, force: true }));

const serialOf = (path: string) =>
  new X509Certificate(readFileSync(path)).serialNumber.toLowerCase().replace(/^0+/, "");

test("a CRL's revoked serials are read from PEM and DER", () => {
  const pem = crlRevokedSerials(readFileSync(crl));
  assert.deepEqual([...pem], [serialOf(revoked.cert)]);
  const der = join(dir, "crl.der");
  execFileSync("openssl", ["crl", "-in", crl, "-outform", "DER", "-out", der]);
  assert.deepEqual([...crlRevokedSerials(readFileSync(der))], [serialOf(revoked.cert)]);
  assert.throws(() => crlRevokedSerials(Buffer.from("not a crl")), /x509: malformed crl/);
});

test("host names are matched as Go's VerifyHostname does: SANs only, one-label wildcards", () => {
  const cert = new X509Certificate(readFileSync(member.cert));
  assert.ok(certMatchesHost(cert, "peer.example"));
  assert.ok(certMatchesHost(cert, "PEER.example."));
  assert.ok(certMatchesHost(cert, "127.0.0.1"));
  assert.ok(certMatchesHost(cert, "a.wild.example"));
  assert.ok(!certMatchesHost(cert, "a.b.wild.example"));
  assert.ok(!certMatchesHost(cert, "member"), "the CN is not a host name");
  assert.ok(!certMatchesHost(cert, "127.0.0.2"));
});

interface Logged {
  obj: Record<string, unknown>;
  msg: string;
}

function collectingLogger(): { lines: Logged[]; warn(obj: object, msg: string): void } {
  const lines: Logged[] = [];
  return { lines, warn: (obj, msg) => lines.push({ obj: obj as Record<string, unknown>, msg }) };
}

function get(port: number, client: Issued): Promise<string> {
  return new Promise((resolve) => {
    const req = https.get(
      {
        host: "127.0.0.1",
        port,
        path: "/x",
        ca: readFileSync(pki.ca),
        cert: readFileSync(client.cert),
        key: readFileSync(client.key),
        agent: false,
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(`status ${res.statusCode}`));
      },
    );
    req.setTimeout(5000, () => req.destroy(new Error("timeout")));
    req.on("error", (err) => resolve(`error ${err.message}`));
  });
}

test(
  "--client-crl-file: a revoked client certificate is refused and logged",
  { timeout: 20_000 },
  async () => {
    const logger = collectingLogger();
    const tls = loadClientTls(
      {
        certFile: server.cert,
        keyFile: server.key,
        trustedCaFile: pki.ca,
        clientCertAuth: true,
        autoTls: false,
        dataDir: dir,
        clientCrlFile: crl,
      },
      [],
      logger,
    );
    const listener = await listenClientUrl("https://127.0.0.1:0", {
      grpc: { injectConnection: (s) => s.destroy() },
      http: (_req, res) => res.end("ok"),
      tls,
    });
    try {
      const port = listener.port as number;
      assert.equal(await get(port, good), "status 200");
      assert.match(await get(port, revoked), /^error /);
      const line = logger.lines.find((l) => l.msg === "rejected connection");
      assert.ok(line !== undefined, JSON.stringify(logger.lines));
      assert.match(String(line.obj.error), /^transport: certificate serial [0-9a-f]+ revoked$/);
      // The file is read again when it changes: revoking the good certificate takes effect.
      const later = pki.revoke([good.cert], join(dir, "crl2.pem"));
      writeFileSync(crl, readFileSync(later));
      assert.match(await get(port, good), /^error /);
    } finally {
      await listener.close();
    }
  },
);

test(
  "--client-cert-allowed-hostname: a client certificate without that name is refused",
  { timeout: 20_000 },
  async () => {
    const logger = collectingLogger();
    const tls = loadClientTls(
      {
        certFile: server.cert,
        keyFile: server.key,
        trustedCaFile: pki.ca,
        clientCertAuth: true,
        autoTls: false,
        dataDir: dir,
        clientCertAllowedHostname: "peer.example",
      },
      [],
      logger,
    );
    const listener = await listenClientUrl("https://127.0.0.1:0", {
      grpc: { injectConnection: (s) => s.destroy() },
      http: (_req, res) => res.end("ok"),
      tls,
    });
    try {
      const port = listener.port as number;
      assert.equal(await get(port, member), "status 200");
      assert.match(await get(port, intruder), /^error /);
      assert.ok(
        logger.lines.some(
          (l) =>
            l.msg === "rejected connection" && l.obj.error === "client certificate authentication failed",
        ),
        JSON.stringify(logger.lines),
      );
    } finally {
      await listener.close();
    }
  },
);

const quietLogger = { info() {}, warn() {}, error() {}, debug() {} };

test("a peer listener over unixs with --peer-cert-allowed-cn", { timeout: 20_000 }, async () => {
  const cwd = process.cwd();
  process.chdir(dir);
  const logger = collectingLogger();
  const peerConfig = (cert: Issued) => ({
    peerCertFile: cert.cert,
    peerKeyFile: cert.key,
    peerTrustedCaFile: pki.ca,
    peerClientCertAuth: true,
    peerAutoTls: false,
    dataDir: dir,
    peerCertAllowedCn: "member",
  });
  const serverTls = loadPeerTls(peerConfig(member), [], logger);
  assert.ok(serverTls !== undefined);
  const handler = createPeerHandler({
    self: "1",
    clusterId: () => 1n,
    sink: { receive() {}, unreachable() {} },
    logger: quietLogger,
    routes: { "/members": () => ({ ok: true }) },
  });
  // etcd's form: host:port is the file name, relative to the working directory.
  const url = "unixs://localhost:23801";
  const listener = await listenPeerUrl(url, handler, serverTls.server);
  try {
    assert.ok(existsSync(join(dir, "localhost:23801")));
    const ok = await fetchPeerJson(url, "/members", serverTls.client, 5000);
    assert.deepEqual(ok, { ok: true });
    // A member whose certificate has another CN is refused, and the refusal is logged.
    const other = loadPeerTls(peerConfig(intruder), [], collectingLogger());
    await assert.rejects(fetchPeerJson(url, "/members", other?.client, 5000));
    assert.ok(
      logger.lines.some((l) => l.obj.error === "client certificate authentication failed"),
      JSON.stringify(logger.lines),
    );
  } finally {
    await listener.close();
    process.chdir(cwd);
  }
  assert.ok(!existsSync(join(dir, "localhost:23801")), "the socket file is removed on close");
});

test("a member refuses a peer server whose certificate has another CN", { timeout: 20_000 }, async () => {
  const peerConfig = (cert: Issued) => ({
    peerCertFile: cert.cert,
    peerKeyFile: cert.key,
    peerTrustedCaFile: pki.ca,
    peerClientCertAuth: false,
    peerAutoTls: false,
    dataDir: dir,
    peerCertAllowedCn: "member",
  });
  const wrong = loadPeerTls(peerConfig(intruder), []);
  const right = loadPeerTls(peerConfig(member), []);
  assert.ok(wrong !== undefined && right !== undefined);
  const handler = createPeerHandler({
    self: "1",
    clusterId: () => 1n,
    sink: { receive() {}, unreachable() {} },
    logger: quietLogger,
    routes: { "/members": () => ({ ok: true }) },
  });
  const listener = await listenPeerUrl("https://127.0.0.1:0", handler, wrong.server);
  try {
    await assert.rejects(
      fetchPeerJson(listener.url, "/members", right.client, 5000),
      /client certificate authentication failed/,
    );
  } finally {
    await listener.close();
  }
});

test(
  "a stale unix socket file is replaced; one in use, or a plain file, is not",
  { timeout: 10_000 },
  async () => {
    const path = join(dir, "stale.sock");
    const live = net.createServer();
    await new Promise<void>((r) => live.listen(path, r));
    try {
      await assert.rejects(prepareUnixSocket(path), /listen unix .*stale.sock: bind: address already in use/);
    } finally {
      await new Promise<void>((r) => live.close(() => r()));
    }
    // A process killed while listening leaves its socket file behind.
    const child = spawn(
      process.execPath,
      ["-e", `require("net").createServer().listen(${JSON.stringify(path)}, () => console.log("up"))`],
      { stdio: ["ignore", "pipe", "ignore"] },
    );
    await new Promise<void>((r) => child.stdout.once("data", () => r()));
    child.kill("SIGKILL");
    await new Promise<void>((r) => child.once("exit", () => r()));
    assert.ok(existsSync(path));
    await prepareUnixSocket(path);
    assert.ok(!existsSync(path));
    writeFileSync(join(dir, "plain.file"), "x");
    await assert.rejects(prepareUnixSocket(join(dir, "plain.file")), /address already in use/);
    assert.ok(existsSync(join(dir, "plain.file")));
    await prepareUnixSocket(join(dir, "missing.sock"));
  },
);

test(
  "--trusted-ca-file alone makes client certificates required, as in etcd",
  { timeout: 20_000 },
  async () => {
    const tls = loadClientTls(
      {
        certFile: server.cert,
        keyFile: server.key,
        trustedCaFile: pki.ca,
        clientCertAuth: false,
        autoTls: false,
        dataDir: dir,
      },
      [],
    );
    const listener = await listenClientUrl("https://127.0.0.1:0", {
      grpc: { injectConnection: (s) => s.destroy() },
      http: (_req, res) => res.end("ok"),
      tls,
    });
    try {
      const port = listener.port as number;
      assert.equal(await get(port, good), "status 200");
      const anonymous = await new Promise<string>((resolve) => {
        const req = https.get(
          { host: "127.0.0.1", port, path: "/", ca: readFileSync(pki.ca), agent: false },
          (res) => {
            res.resume();
            resolve(`status ${res.statusCode}`);
          },
        );
        req.on("error", (err) => resolve(`error ${err.message}`));
      });
      assert.match(anonymous, /^error /);
    } finally {
      await listener.close();
    }
  },
);

test("--peer-crl-file: a member with a revoked certificate is refused", { timeout: 20_000 }, async () => {
  const logger = collectingLogger();
  const peerCrlFile = pki.revoke([intruder.cert], join(dir, "peer-crl.pem"));
  const peerConfig = (cert: Issued) => ({
    peerCertFile: cert.cert,
    peerKeyFile: cert.key,
    peerTrustedCaFile: pki.ca,
    peerClientCertAuth: true,
    peerAutoTls: false,
    dataDir: dir,
    peerCrlFile,
  });
  const mine = loadPeerTls(peerConfig(member), [], logger);
  const theirs = loadPeerTls(peerConfig(intruder), [], collectingLogger());
  assert.ok(mine !== undefined && theirs !== undefined);
  const handler = createPeerHandler({
    self: "1",
    clusterId: () => 1n,
    sink: { receive() {}, unreachable() {} },
    logger: quietLogger,
    routes: { "/members": () => ({ ok: true }) },
  });
  const listener = await listenPeerUrl("https://127.0.0.1:0", handler, mine.server);
  try {
    assert.deepEqual(await fetchPeerJson(listener.url, "/members", mine.client, 5000), { ok: true });
    await assert.rejects(fetchPeerJson(listener.url, "/members", theirs.client, 5000));
    assert.ok(
      logger.lines.some((l) => /^transport: certificate serial [0-9a-f]+ revoked$/.test(String(l.obj.error))),
      JSON.stringify(logger.lines),
    );
  } finally {
    await listener.close();
  }
});
