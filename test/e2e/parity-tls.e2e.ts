// TLS identity, side by side with etcd 3.4: --client-crl-file and --client-cert-allowed-hostname
// on the client port (etcdctl with a revoked certificate, or one for another host name, is
// refused; a good one is served; the refusal is logged as "rejected connection"), and
// --peer-cert-allowed-cn / --peer-cert-allowed-hostname between members (a member whose
// certificate does not match never joins; the others log the refusal). Certificates are made
// here with openssl.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TestPki, type Issued } from "../pki.test-util.js";
import { etcdctl, freePort, healthy, killAll, sleep, type ServerKind } from "./harness.js";
import { onBoth, PARITY_SKIP } from "./parity.js";
import { spawnMember, type SpawnedMember } from "./spawn-member.js";

after(killAll);

/** A certificate's serial as etcd prints it: hex of its bytes. */
function serialHex(certFile: string): string {
  const hex = new X509Certificate(readFileSync(certFile)).serialNumber.toLowerCase().replace(/^0+/, "");
  return hex.length % 2 === 1 ? `0${hex}` : hex;
}

const TIMEOUTS = ["--dial-timeout", "3s", "--command-timeout", "8s"];

/** The distinct errors of zap "rejected connection" lines that match `pattern`. */
function rejections(log: string, pattern: RegExp): string[] {
  const errors = new Set<string>();
  for (const line of log.split("\n")) {
    if (!line.includes('"rejected connection"')) continue;
    try {
      const error = String((JSON.parse(line) as { error?: unknown }).error ?? "");
      if (pattern.test(error)) errors.add(error);
    } catch {
      // not a JSON line
    }
  }
  return [...errors].sort();
}

test(
  "client TLS: --client-crl-file and --client-cert-allowed-hostname refuse etcdctl as etcd does",
  { skip: PARITY_SKIP, timeout: 240_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "kvorum-parity-tls-"));
    try {
      const pki = new TestPki(dir);
      const server = pki.issue("server", "server", "IP:127.0.0.1,DNS:localhost");
      const good = pki.issue("good", "good", "DNS:client.example");
      const revoked = pki.issue("revoked", "revoked", "DNS:client.example");
      const otherHost = pki.issue("other-host", "other", "DNS:other.example");
      const crl = pki.revoke([revoked.cert]);
      const three = async () => ({ client: await freePort(), peer: await freePort(), tls: await freePort() });
      const ports = { etcd: await three(), kvorum: await three() };
      const results = await onBoth(
        async (s) => {
          // Plain http on the harness's port (for its health check), https on the second one.
          const endpoint = `https://127.0.0.1:${ports[s.kind].tls}`;
          const as = async (c: Issued, key: string) => {
            const r = await etcdctl(
              s,
              ["--cacert", pki.ca, "--cert", c.cert, "--key", c.key, ...TIMEOUTS, "put", key, "v"],
              { endpoints: endpoint, timeoutMs: 20_000 },
            );
            return { ok: r.code === 0, out: r.stdout.trim() };
          };
          const observed = {
            good: await as(good, "k1"),
            revoked: await as(revoked, "k2"),
            otherHost: await as(otherHost, "k3"),
          };
          await sleep(200);
          const log = s.log();
          return {
            ...observed,
            logged: rejections(log, /revoked|authentication failed/),
          };
        },
        (kind) => {
          const { client, peer, tls } = ports[kind];
          const extraArgs = [
            "--listen-client-urls",
            `http://127.0.0.1:${client},https://127.0.0.1:${tls}`,
            "--advertise-client-urls",
            `https://127.0.0.1:${tls}`,
            "--cert-file",
            server.cert,
            "--key-file",
            server.key,
            "--trusted-ca-file",
            pki.ca,
            "--client-cert-auth",
            "--client-crl-file",
            crl,
            "--client-cert-allowed-hostname",
            "client.example",
            "--logger",
            "zap",
          ];
          return { extraArgs, firstPorts: { client, peer }, readyTimeoutMs: 60_000 };
        },
      );
      console.log(JSON.stringify(results));
      const expected = {
        good: { ok: true, out: "OK" },
        revoked: { ok: false, out: "" },
        otherHost: { ok: false, out: "" },
        logged: [
          "client certificate authentication failed",
          `transport: certificate serial ${serialHex(revoked.cert)} revoked`,
        ],
      };
      assert.deepEqual(results.etcd, expected, "etcd");
      assert.deepEqual(results.kvorum, results.etcd, "kvorum as etcd");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

interface PeerOutcome {
  /** Members that answered /health true. */
  healthy: string[];
  /** A key put through m1 read back from m2 (serializable). */
  replicated: boolean;
  /** Whether m1 or m2 logged "rejected connection" with etcd's CN/hostname error. */
  refusalLogged: boolean;
  /** Whether m3 logged a TLS failure (its own refused connections or a bad certificate). */
  m3LoggedTls: boolean;
}

/**
 * Three members over https peer URLs, each with its own certificate (CNs and SANs from
 * `certs`), all started with `ruleArgs`; waits for m1 and m2, then gives m3 a few more seconds.
 */
let runs = 0;

async function threeMembers(
  kind: ServerKind,
  dir: string,
  pki: TestPki,
  certs: Array<{ cn: string; sans: string }>,
  ruleArgs: string[],
): Promise<PeerOutcome> {
  const ports: Array<{ client: number; peer: number }> = [];
  for (let i = 0; i < 3; i++) ports.push({ client: await freePort(), peer: await freePort() });
  const names = ["m1", "m2", "m3"];
  const peerUrl = (i: number) => `https://127.0.0.1:${ports[i]!.peer}`;
  const clientUrl = (i: number) => `http://127.0.0.1:${ports[i]!.client}`;
  const cluster = names.map((n, i) => `${n}=${peerUrl(i)}`).join(",");
  const members: SpawnedMember[] = [];
  const run = `${kind}${++runs}`;
  try {
    for (let i = 0; i < 3; i++) {
      const c = pki.issue(`${run}-m${i + 1}`, certs[i]!.cn, certs[i]!.sans);
      const args = [
        ...["--name", names[i]!, "--data-dir", join(dir, `${run}-${names[i]!}`)],
        ...["--listen-client-urls", clientUrl(i), "--advertise-client-urls", clientUrl(i)],
        ...["--listen-peer-urls", peerUrl(i), "--initial-advertise-peer-urls", peerUrl(i)],
        ...["--initial-cluster", cluster, "--initial-cluster-state", "new"],
        ...["--peer-cert-file", c.cert, "--peer-key-file", c.key, "--peer-trusted-ca-file", pki.ca],
        "--peer-client-cert-auth",
        ...ruleArgs,
        ...["--heartbeat-interval", "50", "--election-timeout", "500", "--logger", "zap"],
      ];
      members.push(spawnMember(kind, names[i]!, args, dir));
    }
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if ((await healthy(clientUrl(0))) && (await healthy(clientUrl(1)))) break;
      await sleep(200);
    }
    // m3 gets a few more seconds to join (it joins within one when it is let in).
    const m3Deadline = Date.now() + 4_000;
    while (Date.now() < m3Deadline && !(await healthy(clientUrl(2)))) await sleep(200);
    const healthyNow: string[] = [];
    for (let i = 0; i < 3; i++) if (await healthy(clientUrl(i))) healthyNow.push(names[i]!);
    let replicated = false;
    if (healthyNow.includes("m1") && healthyNow.includes("m2")) {
      const put = await etcdctl({ endpoint: clientUrl(0) }, [...TIMEOUTS, "put", "tls/k", "v"]);
      const get = await etcdctl({ endpoint: clientUrl(1) }, [
        ...TIMEOUTS,
        "get",
        "tls/k",
        "--print-value-only",
        "--consistency=s",
      ]);
      replicated = put.code === 0 && get.stdout.trim() === "v";
    }
    const refusalLogged = [0, 1].some(
      (i) => rejections(members[i]!.output(), /^client certificate authentication failed$/).length > 0,
    );
    const m3Log = members[2]!.output();
    const m3LoggedTls = /rejected connection|bad certificate|certificate authentication failed/.test(m3Log);
    if (kind === "etcd" || process.env.KVORUM_E2E_VERBOSE === "1") {
      const tlsLines = m3Log
        .split("\n")
        .filter((l) => /tls|certificate|rejected/i.test(l))
        .slice(0, 4);
      console.log(`${kind} m3 TLS log lines:\n${tlsLines.join("\n")}`);
    }
    return { healthy: healthyNow, replicated, refusalLogged, m3LoggedTls };
  } catch (err) {
    for (const m of members) console.log(`--- ${kind} ${m.name} ---\n${m.output().slice(-3000)}`);
    throw err;
  } finally {
    await Promise.all(members.map((m) => m.stop()));
  }
}

const SANS = "IP:127.0.0.1,DNS:localhost";

test(
  "--peer-cert-allowed-cn: a member whose certificate has another CN never joins (etcd and Kvorum)",
  { timeout: 180_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "kvorum-parity-peer-cn-"));
    try {
      const pki = new TestPki(dir);
      const certs = [
        { cn: "member", sans: SANS },
        { cn: "member", sans: SANS },
        { cn: "intruder", sans: SANS },
      ];
      const rule = ["--peer-cert-allowed-cn", "member"];
      const expected: PeerOutcome = {
        healthy: ["m1", "m2"],
        replicated: true,
        refusalLogged: true,
        m3LoggedTls: true,
      };
      const kvorum = await threeMembers("kvorum", dir, pki, certs, rule);
      assert.deepEqual(kvorum, expected, "kvorum");
      if (PARITY_SKIP === false) {
        const etcd = await threeMembers("etcd", dir, pki, certs, rule);
        assert.deepEqual(etcd, expected, "etcd");
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  "--peer-cert-allowed-hostname: members whose certificates carry that name form the cluster; one without it never joins",
  { timeout: 180_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "kvorum-parity-peer-host-"));
    try {
      const pki = new TestPki(dir);
      const rule = ["--peer-cert-allowed-hostname", "peer.example"];
      const all = { cn: "any", sans: `${SANS},DNS:peer.example` };
      const formed = await threeMembers("kvorum", dir, pki, [all, all, all], rule);
      assert.deepEqual(formed, {
        healthy: ["m1", "m2", "m3"],
        replicated: true,
        refusalLogged: false,
        m3LoggedTls: false,
      });
      const other = { cn: "peer.example", sans: `${SANS},DNS:other.example` };
      const refused = await threeMembers("kvorum", dir, pki, [all, all, other], rule);
      assert.deepEqual(refused, {
        healthy: ["m1", "m2"],
        replicated: true,
        refusalLogged: true,
        m3LoggedTls: true,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
