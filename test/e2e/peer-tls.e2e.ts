// Peer TLS between member processes: https peer URLs with --peer-auto-tls (self-signed, not
// verified, as etcd does), and with a CA, --peer-cert-file/--peer-key-file/--peer-trusted-ca-file
// and --peer-client-cert-auth, where a peer without a certificate signed by the CA is refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import http2 from "node:http2";
import { startLocalCluster } from "../../src/cli/local-cluster.js";
import { eventually, put, rangePrefix, status } from "./cluster-client.js";

function openssl(args: string[]): void {
  execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
}

/** A CA and one certificate for 127.0.0.1 signed by it (server and client use). */
function makeCerts(dir: string): { ca: string; cert: string; key: string } {
  const ca = join(dir, "ca.pem");
  const caKey = join(dir, "ca-key.pem");
  const cert = join(dir, "peer.pem");
  const key = join(dir, "peer-key.pem");
  const csr = join(dir, "peer.csr");
  const ext = join(dir, "ext.cnf");
  openssl(
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"].concat([
      "-keyout",
      caKey,
      "-out",
      ca,
      "-days",
      "2",
      "-subj",
      "/CN=kvorum test CA",
    ]),
  );
  openssl([
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    key,
    "-out",
    csr,
    "-subj",
    "/CN=kvorum peer",
  ]);
  writeFileSync(ext, "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n");
  openssl([
    "x509",
    "-req",
    "-in",
    csr,
    "-CA",
    ca,
    "-CAkey",
    caKey,
    "-CAcreateserial",
    "-out",
    cert,
    "-days",
    "2",
    "-extfile",
    ext,
  ]);
  return { ca, cert, key };
}

async function checkCluster(
  args: string[],
  base: string,
  after?: (peerUrl: string) => Promise<void>,
): Promise<void> {
  const cluster = await startLocalCluster({
    size: 3,
    baseDir: join(base, "data"),
    peerScheme: "https",
    extraArgs: ["--heartbeat-interval", "50", "--election-timeout", "500", "--logger", "zap", ...args],
  });
  try {
    await Promise.all(cluster.members.map((m) => m.waitHealthy()));
    await eventually("a leader", async () =>
      (await status(cluster.members[0]!.clientUrl)).leader !== "0" ? true : undefined,
    );
    await put(cluster.members[1]!.clientUrl, "tls/k", "v");
    for (const m of cluster.members) {
      assert.equal((await rangePrefix(m.clientUrl, "tls/")).get("tls/k"), "v");
    }
    await after?.(cluster.members[0]!.peerUrl);
  } catch (err) {
    for (const m of cluster.members)
      console.log(`--- ${m.name} ---\n${m.output().split("\n").slice(-15).join("\n")}`);
    throw err;
  } finally {
    await cluster.stop();
  }
}

test("3 members over https peer URLs with --peer-auto-tls", { timeout: 90_000 }, async () => {
  const base = mkdtempSync(join(tmpdir(), "kvorum-peer-tls-"));
  try {
    await checkCluster(["--peer-auto-tls"], base);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test(
  "3 members with CA-signed peer certificates and --peer-client-cert-auth; a peer without a certificate is refused",
  { timeout: 90_000 },
  async () => {
    const base = mkdtempSync(join(tmpdir(), "kvorum-peer-tls-"));
    try {
      const { ca, cert, key } = makeCerts(base);
      await checkCluster(
        [
          "--peer-cert-file",
          cert,
          "--peer-key-file",
          key,
          "--peer-trusted-ca-file",
          ca,
          "--peer-client-cert-auth",
        ],
        base,
        async (peerUrl) => {
          // Trusting the CA but presenting no certificate: the handshake is refused.
          const session = http2.connect(peerUrl, { ca: [readFileSync(ca)] });
          const outcome = await new Promise<string>((resolve) => {
            session.on("error", (err: Error) => resolve(`error: ${err.message}`));
            const req = session.request({ ":path": "/members" });
            req.on("response", (h) => resolve(`status ${String(h[":status"])}`));
            req.on("error", (err: Error) => resolve(`error: ${err.message}`));
            req.end();
          });
          session.destroy();
          assert.match(outcome, /^error: /, outcome);
        },
      );
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  },
);
