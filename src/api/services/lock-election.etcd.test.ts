// Differential check: one lock/election scenario run against real etcd 3.4 (through its JSON
// gateway) and against Kvorum's handlers on an in-process member; the transcripts, normalised for
// lease and member IDs, must be equal. Skipped when the etcd binary is not installed.
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { parseServerConfig } from "../../config/server-config.js";
import { startMember, type Member } from "../../server/index.js";
import { RpcError, type HandlerTable, type PlainMessage } from "../handler-types.js";
import { electionHandlers } from "./election.js";
import { lockHandlers } from "./lock.js";

type Json = Record<string, unknown>;
type CallResult = { ok: Json } | { error: { code: number; message: string } };

/** What the scenario needs from a server. */
interface Target {
  grantLease(ttl: number): Promise<string>;
  call(method: string, body: Json): Promise<CallResult>;
  observe(body: Json): { messages: Json[]; stop(): Promise<void> };
}

const ETCD_MISSING =
  spawnSync("sh", ["-c", "command -v etcd"]).status === 0 ? false : "etcd is not installed";
const b64 = (s: string) => Buffer.from(s).toString("base64");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- etcd through its gateway ----------------------------------------------------------------

const GATEWAY_PATHS: Record<string, string> = {
  Lock: "/v3/lock/lock",
  Unlock: "/v3/lock/unlock",
  Campaign: "/v3/election/campaign",
  Proclaim: "/v3/election/proclaim",
  Leader: "/v3/election/leader",
  Resign: "/v3/election/resign",
  Observe: "/v3/election/observe",
};

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

let etcdProcess: ChildProcess | undefined;
let etcdDir: string | undefined;
after(async () => {
  const proc = etcdProcess;
  if (proc !== undefined && proc.exitCode === null && proc.signalCode === null) {
    const exited = new Promise((resolve) => proc.once("exit", resolve));
    proc.kill("SIGKILL");
    await exited;
  }
  if (etcdDir !== undefined) rmSync(etcdDir, { recursive: true, force: true });
});

async function startEtcd(): Promise<Target> {
  const [client, peer] = [await freePort(), await freePort()];
  etcdDir = mkdtempSync(join(tmpdir(), "kvorum-lock-etcd-"));
  const base = `http://127.0.0.1:${client}`;
  const peerUrl = `http://127.0.0.1:${peer}`;
  etcdProcess = spawn(
    "etcd",
    [
      "--data-dir",
      join(etcdDir, "data"),
      "--listen-client-urls",
      base,
      "--advertise-client-urls",
      base,
      "--listen-peer-urls",
      peerUrl,
      "--initial-advertise-peer-urls",
      peerUrl,
      "--initial-cluster",
      `default=${peerUrl}`,
    ],
    { stdio: "ignore" },
  );
  const post = async (path: string, body: Json): Promise<CallResult> => {
    const resp = await fetch(base + path, { method: "POST", body: JSON.stringify(body) });
    const json = (await resp.json()) as Json;
    if (resp.status !== 200)
      return { error: { code: json["code"] as number, message: json["message"] as string } };
    return { ok: json };
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const health = await fetch(base + "/health");
      if (health.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error("etcd did not become healthy");
    await sleep(100);
  }
  return {
    async grantLease(ttl) {
      const r = await post("/v3/lease/grant", { TTL: ttl });
      if (!("ok" in r)) throw new Error(r.error.message);
      return r.ok["ID"] as string;
    },
    call: (method, body) => post(GATEWAY_PATHS[method]!, body),
    observe(body) {
      const messages: Json[] = [];
      const abort = new AbortController();
      const done = (async () => {
        try {
          const resp = await fetch(base + GATEWAY_PATHS["Observe"]!, {
            method: "POST",
            body: JSON.stringify(body),
            signal: abort.signal,
          });
          let buffered = "";
          for await (const chunk of resp.body!) {
            buffered += Buffer.from(chunk as Uint8Array).toString();
            let nl: number;
            while ((nl = buffered.indexOf("\n")) >= 0) {
              const line = buffered.slice(0, nl).trim();
              buffered = buffered.slice(nl + 1);
              if (line !== "") messages.push((JSON.parse(line) as Json)["result"] as Json);
            }
          }
        } catch {
          // aborted
        }
      })();
      return {
        messages,
        stop: async () => {
          abort.abort();
          await done;
        },
      };
    },
  };
}

// ---- Kvorum: the handlers on an in-process member, with proto3 JSON for these messages --------

const BYTES_FIELDS = new Set(["name", "key", "value"]);

function jsonToPlain(json: Json): PlainMessage {
  const out: PlainMessage = {};
  for (const [k, v] of Object.entries(json)) {
    if (BYTES_FIELDS.has(k) && typeof v === "string") out[k] = new Uint8Array(Buffer.from(v, "base64"));
    else if (v !== null && typeof v === "object") out[k] = jsonToPlain(v as Json);
    else out[k] = v;
  }
  return out;
}

/** proto3 JSON as etcd's gateway writes it: bytes in base64, default values left out. */
function plainToJson(msg: PlainMessage): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(msg)) {
    if (v instanceof Uint8Array) {
      if (v.length > 0) out[k] = Buffer.from(v).toString("base64");
    } else if (v !== null && typeof v === "object") out[k] = plainToJson(v as PlainMessage);
    else if (v !== "0" && v !== 0 && v !== "" && v !== false && v !== undefined && v !== null) out[k] = v;
  }
  return out;
}

async function startKvorum(): Promise<{ target: Target; member: Member }> {
  const config = parseServerConfig(
    [
      "--data-dir",
      "/nonexistent/kvorum-lock-diff",
      "--heartbeat-interval",
      "10",
      "--election-timeout",
      "100",
    ],
    {},
  ).config;
  const member = await startMember({ config, storage: "memory" });
  const table: HandlerTable = new Map([...lockHandlers(member), ...electionHandlers(member)]);
  const path = (method: string) =>
    (method === "Lock" || method === "Unlock" ? "/v3lockpb.Lock/" : "/v3electionpb.Election/") + method;
  const ctx = (signal: AbortSignal) => ({ signal, metadata: new Map<string, string>() });
  return {
    member,
    target: {
      async grantLease(ttl) {
        return (await member.leaseGrant({ id: 0n, ttl })).id.toString();
      },
      async call(method, body) {
        const h = table.get(path(method))!;
        assert.equal(h.kind, "unary");
        if (h.kind !== "unary") throw new Error("not unary");
        try {
          return { ok: plainToJson(await h.handle(jsonToPlain(body), ctx(new AbortController().signal))) };
        } catch (err) {
          assert.ok(err instanceof RpcError);
          return { error: { code: err.code, message: err.message } };
        }
      },
      observe(body) {
        const h = table.get(path("Observe"))!;
        if (h.kind !== "server-stream") throw new Error("not a server stream");
        const abort = new AbortController();
        const messages: Json[] = [];
        const done = (async () => {
          try {
            for await (const m of h.handle(jsonToPlain(body), ctx(abort.signal)))
              messages.push(plainToJson(m));
          } catch {
            // aborted
          }
        })();
        return {
          messages,
          stop: async () => {
            abort.abort();
            await done;
          },
        };
      },
    },
  };
}

// ---- the scenario --------------------------------------------------------------------------

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(10);
}

/** Runs the scenario; returns its transcript with lease IDs, member identity and terms normalised. */
async function scenario(t: Target): Promise<unknown[]> {
  const transcript: Array<[string, unknown]> = [];
  const leases = [await t.grantLease(600), await t.grantLease(600)];
  const [a, b] = leases as [string, string];
  const record = (step: string, r: unknown) => transcript.push([step, r]);
  const ok = (r: CallResult): Json => {
    if (!("ok" in r)) throw new Error(`unexpected error ${r.error.message}`);
    return r.ok;
  };

  // lock: a holds, b waits until a unlocks
  const lockA = ok(await t.call("Lock", { name: b64("L"), lease: a }));
  record("lock a", lockA);
  const lockB = t.call("Lock", { name: b64("L"), lease: b });
  let bDone = false;
  void lockB.then(() => (bDone = true));
  await sleep(300);
  record("b waits while a holds", !bDone);
  record("unlock a", await t.call("Unlock", { key: lockA["key"] }));
  const lockBResult = ok(await lockB);
  record("lock b", lockBResult);
  record("unlock b", await t.call("Unlock", { key: lockBResult["key"] }));
  record("lock with unknown lease", await t.call("Lock", { name: b64("L"), lease: "12345" }));
  record("unlock without key", await t.call("Unlock", {}));

  // election
  record("leader of empty election", await t.call("Leader", { name: b64("el") }));
  const obs = t.observe({ name: b64("el") });
  await sleep(200);
  const wonA = ok(await t.call("Campaign", { name: b64("el"), lease: a, value: b64("v1") }));
  record("campaign a", wonA);
  await until(() => obs.messages.length >= 1);
  record(
    "campaign a again with v2",
    await t.call("Campaign", { name: b64("el"), lease: a, value: b64("v2") }),
  );
  await until(() => obs.messages.length >= 2);
  record("leader", await t.call("Leader", { name: b64("el") }));
  const campaignB = t.call("Campaign", { name: b64("el"), lease: b, value: b64("b1") });
  let campaignBDone = false;
  void campaignB.then(() => (campaignBDone = true));
  await sleep(300);
  record("b waits while a leads", !campaignBDone);
  record("proclaim v3", await t.call("Proclaim", { leader: wonA["leader"], value: b64("v3") }));
  await until(() => obs.messages.length >= 3);
  record("resign a", await t.call("Resign", { leader: wonA["leader"] }));
  record("campaign b", await campaignB);
  await until(() => obs.messages.length >= 4);
  record("leader after resign", await t.call("Leader", { name: b64("el") }));
  record("proclaim by the resigned a", await t.call("Proclaim", { leader: wonA["leader"], value: b64("x") }));
  record("resign by the resigned a", await t.call("Resign", { leader: wonA["leader"] }));
  record("proclaim without leader", await t.call("Proclaim", { value: b64("x") }));
  record(
    "resign with an empty key",
    await t.call("Resign", { leader: { name: b64("el"), rev: "5", lease: a } }),
  );
  await sleep(200);
  await obs.stop();
  record("observed", obs.messages);

  const hexA = BigInt(a).toString(16);
  const hexB = BigInt(b).toString(16);
  const normalise = (v: unknown, field = ""): unknown => {
    if (Array.isArray(v)) return v.map((x) => normalise(x));
    if (v !== null && typeof v === "object") {
      const out: Json = {};
      for (const [k, x] of Object.entries(v as Json)) {
        if (k === "cluster_id" || k === "member_id" || k === "raft_term") continue;
        out[k] = normalise(x, k);
      }
      return out;
    }
    if (typeof v === "string" && BYTES_FIELDS.has(field)) {
      return Buffer.from(v, "base64").toString().replace(hexA, "<a>").replace(hexB, "<b>");
    }
    if (v === a) return "<a>";
    if (v === b) return "<b>";
    return v;
  };
  return transcript.map(([step, r]) => [step, normalise(r)]);
}

test(
  "lock and election answer as etcd 3.4 does (same transcript)",
  { skip: ETCD_MISSING, timeout: 60_000 },
  async () => {
    const etcd = await startEtcd();
    const expected = await scenario(etcd);
    if (process.env.KVORUM_PRINT_TRANSCRIPT === "1") console.log(JSON.stringify(expected, null, 1));
    const kvorum = await startKvorum();
    try {
      const actual = await scenario(kvorum.target);
      assert.deepEqual(actual, expected);
    } finally {
      await kvorum.member.stop();
    }
  },
);
