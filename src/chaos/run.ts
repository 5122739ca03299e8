// The chaos run: a real cluster of kvorum processes, concurrent clients recording a history,
// watchers recording what they see, and a fault injector; then heal, check and report.
import { appendFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkLinearizable } from "../check/linearizability.js";
import { kvRegisterModel, pruneUnobservedUnknowns, type KvOperation } from "../check/kv-model.js";
import { revisionedStoreModel } from "../check/store-model.js";
import {
  checkWatches,
  type AcknowledgedWrite,
  type SeenEvent,
  type WatcherRecord,
} from "../check/watch-check.js";
import {
  freeLoopbackPort,
  startLocalCluster,
  type LocalCluster,
  type LocalMember,
} from "../cli/local-cluster.js";
import { setPeerFaults } from "../transport/faults.js";
import * as gw from "./gateway-client.js";

export const FAULT_KINDS = ["kill", "pause", "partition", "leader-isolate", "restart", "membership"] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface ChaosOptions {
  members: number;
  durationSec: number;
  seed: number;
  faults: FaultKind[];
  /** Extra environment for the members (KVORUM_UNSAFE_STALE_READS for the bite test). */
  env?: Record<string, string>;
  log: (line: string) => void;
  /** Keep the members' data dirs (printed) instead of removing them. */
  keepData?: boolean;
}

export interface FaultRecord {
  kind: FaultKind;
  target: string;
  detail: string;
  start: number;
  end: number;
}

export interface ChaosResult {
  /** The whole-store model with revisions: yes, no, undecided (budget), skipped (register model failed). */
  storeModel: "yes" | "no" | "undecided" | "skipped";
  storeModelMs: number;
  ops: number;
  history: KvOperation[];
  faults: FaultRecord[];
  linearizable: boolean;
  undecidedKeys: number;
  violationOps: KvOperation[];
  violationText: string[];
  watchViolations: string[];
  lost: AcknowledgedWrite[];
  watchEvents: number;
  durationMs: number;
  startedAt: number;
}

/** mulberry32: a small seeded generator, so a seed replays the same choices. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const KEYS = Array.from({ length: 8 }, (_, i) => `chaos/k${i}`);
const OP_TIMEOUT_MS = 2000;

export async function runChaos(opts: ChaosOptions): Promise<ChaosResult> {
  const random = rng(opts.seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const base = mkdtempSync(join(tmpdir(), `kvorum-chaos-${opts.seed}-`));
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  const cluster: LocalCluster = await startLocalCluster({
    size: opts.members,
    baseDir: base,
    extraArgs: ["--heartbeat-interval", "50", "--election-timeout", "500", "--logger", "zap"],
    env: { KVORUM_FAULT_INJECTION: "1", ...opts.env },
    // Every member's log goes to <data dir>/<name>.log (kept with --keep-data).
    onOutput: (name, line) => appendFileSync(join(base, `${name}.log`), `${line}\n`),
  });
  const history: KvOperation[] = [];
  const attempted = new Set<string>();
  const acknowledged: AcknowledgedWrite[] = [];
  const faults: FaultRecord[] = [];
  const watchers: WatcherRecord[] = [];
  const stopWatchers: Array<() => void> = [];
  let stopping = false;
  const stalled: string[] = [];
  try {
    await Promise.all(cluster.members.map((m) => m.waitHealthy(60_000)));
    opts.log(
      `chaos: ${opts.members} members up (data in ${base}); seed ${opts.seed}; faults ${opts.faults.join(",")}`,
    );
    const ids = new Map<LocalMember, string>();
    for (const m of cluster.members) ids.set(m, (await gw.status(m.clientUrl, 5000)).memberId);

    // ---- watchers ----
    const startWatcher = (prefix: string, startRevision: number, prevKv: boolean): void => {
      const rec: WatcherRecord = { id: watchers.length + 1, prefix, startRevision, prevKv, responses: [] };
      watchers.push(rec);
      const abort = new AbortController();
      stopWatchers.push(() => abort.abort());
      let next = startRevision;
      void (async () => {
        while (!abort.signal.aborted) {
          const m = pick(cluster.members.filter((x) => x.running()));
          if (m === undefined) {
            await sleep(200);
            continue;
          }
          const reason = await gw.watchStream(m.clientUrl, prefix, next, prevKv, abort.signal, (events) => {
            if (events.length === 0) return;
            rec.responses.push(events as SeenEvent[]);
            next = Math.max(next, (events[events.length - 1] as gw.WatchEventJson).revision + 1);
          });
          if (!abort.signal.aborted && reason.startsWith("canceled")) {
            opts.log(`chaos: watcher ${rec.id} canceled by ${m.name}: ${reason}`);
          }
          await sleep(100); // resume on another member from the next revision
        }
      })();
    };
    startWatcher("chaos/", 1, true);
    startWatcher("lease/", 1, true);

    // ---- clients ----
    const live = () => cluster.members.filter((m) => m.running());
    const record = (op: KvOperation) => history.push(op);
    /**
     * Runs one write and records it with what the response said; a failure records an unknown
     * outcome (it may have applied) unless the request surely never left (connection refused).
     */
    const write = async (
      client: number,
      input: KvOperation["input"],
      attempt: () => Promise<{ output: NonNullable<KvOperation["output"]>; ack?: AcknowledgedWrite }>,
    ): Promise<void> => {
      const call = now();
      try {
        const { output, ack } = await attempt();
        record({ client, input, output, call, ret: now() });
        if (ack !== undefined) acknowledged.push(ack);
      } catch (err) {
        if (!(err instanceof gw.GatewayError && err.definite))
          record({ client, input, output: undefined, call, ret: Infinity });
      }
    };
    const kvWorker = async (client: number) => {
      for (let n = 0; !stopping; n++) {
        const m = pick(live()) ?? cluster.members[0];
        if (m === undefined) break;
        const key = pick(KEYS);
        const r = random();
        const call = now();
        const value = `c${client}-${n}`;
        try {
          if (r < 0.4) {
            const g = await gw.get(m.clientUrl, key, OP_TIMEOUT_MS);
            record({
              client,
              input: { op: "get", key },
              output: { value: g.value, revision: g.revision },
              call,
              ret: now(),
            });
          } else if (r < 0.7) {
            attempted.add(value);
            await write(client, { op: "put", key, value }, async () => {
              const rev = await gw.put(m.clientUrl, key, value, OP_TIMEOUT_MS);
              return { output: { revision: rev }, ack: { key, value, revision: rev } };
            });
          } else if (r < 0.85) {
            // Compare-and-set on the value just read (a read, then a txn).
            const g = await gw.get(m.clientUrl, key, OP_TIMEOUT_MS);
            record({
              client,
              input: { op: "get", key },
              output: { value: g.value, revision: g.revision },
              call,
              ret: now(),
            });
            const next = random() < 0.2 ? null : value;
            if (next !== null) attempted.add(next);
            await write(client, { op: "cas", key, expect: g.value, value: next }, async () => {
              const c = await gw.cas(m.clientUrl, key, g.value, next, OP_TIMEOUT_MS);
              // Deleting a key that is absent changes nothing and makes no revision.
              const changed = c.succeeded && (next !== null || g.value !== null);
              return {
                output: { ok: c.succeeded, revision: c.revision },
                ack: changed ? { key, value: next, revision: c.revision } : undefined,
              };
            });
          } else {
            await write(client, { op: "delete", key }, async () => {
              const d = await gw.del(m.clientUrl, key, OP_TIMEOUT_MS);
              return {
                output: { revision: d.revision, deleted: d.deleted },
                ack: d.deleted ? { key, value: null, revision: d.revision } : undefined,
              };
            });
          }
        } catch {
          // A failed read has no effect; nothing to record.
        }
      }
    };

    // Kubernetes-style: a paged list with count, then create/update/delete by txn on mod_revision,
    // and a watch with prev_kv from the list's revision.
    const k8sWorker = async (client: number) => {
      let watching = false;
      for (let n = 0; !stopping; n++) {
        const m = pick(live()) ?? cluster.members[0];
        if (m === undefined) break;
        try {
          const call = now();
          const first = await gw.listPage(m.clientUrl, "chaos/", "chaos0", 3, 0, OP_TIMEOUT_MS);
          const ret = now();
          // The first page is a linearizable read of the keys from its start to its last key.
          const listed = new Map(first.kvs.map((kv) => [kv.key, kv]));
          const lastKey = first.kvs.at(-1)?.key ?? "";
          for (const key of KEYS) {
            if (first.more && key > lastKey) continue;
            record({
              client,
              input: { op: "get", key },
              output: { value: listed.get(key)?.value ?? null, revision: first.revision },
              call,
              ret,
            });
          }
          const all = [...first.kvs];
          let more = first.more;
          while (more && all.length < 50) {
            const page = await gw.listPage(
              m.clientUrl,
              `${all.at(-1)?.key ?? ""}\u0000`,
              "chaos0",
              3,
              first.revision,
              OP_TIMEOUT_MS,
            );
            all.push(...page.kvs);
            more = page.more;
          }
          if (!watching) {
            watching = true;
            startWatcher("chaos/", first.revision + 1, true);
          }
          const key = pick(KEYS);
          const current = all.find((kv) => kv.key === key);
          const value = `k${client}-${n}`;
          const next = current !== undefined && random() < 0.2 ? null : value;
          if (next !== null) attempted.add(next);
          const expect = current?.value ?? null;
          await write(client, { op: "cas", key, expect, value: next }, async () => {
            const c = await gw.cas(m.clientUrl, key, expect, next, OP_TIMEOUT_MS, current?.modRevision);
            return {
              output: { ok: c.succeeded, revision: c.revision },
              ack: c.succeeded ? { key, value: next, revision: c.revision } : undefined,
            };
          });
        } catch {
          // list failed: no effect
        }
      }
    };

    // Leases: grant, attach a key, then revoke it or let it expire; checked through the watches.
    const leaseWorker = async () => {
      for (let n = 0; !stopping; n++) {
        const m = pick(live()) ?? cluster.members[0];
        if (m === undefined) break;
        try {
          const id = await gw.leaseGrant(m.clientUrl, 2 + Math.floor(random() * 3), OP_TIMEOUT_MS);
          const key = `lease/${n % 4}`;
          const value = `l-${n}`;
          attempted.add(value);
          const rev = await gw.put(m.clientUrl, key, value, OP_TIMEOUT_MS, id);
          acknowledged.push({ key, value, revision: rev });
          if (random() < 0.5) await gw.leaseRevoke(m.clientUrl, id, OP_TIMEOUT_MS);
        } catch {
          // unknown outcomes here are checked only through the watches
        }
        await sleep(200);
      }
    };

    const workers = [0, 1, 2, 3].map((c) => kvWorker(c));
    workers.push(k8sWorker(4), leaseWorker());

    // ---- faults ----
    const healAll = async () => {
      for (const m of cluster.members) if (m.running()) await m.kill("SIGCONT");
      await Promise.all(cluster.members.filter((m) => m.running()).map((m) => setFaultsQuiet(m.peerUrl, {})));
    };
    const endAt = performance.now() + opts.durationSec * 1000;
    const extra: LocalMember[] = [];
    const removed = new Set<LocalMember>();
    while (performance.now() < endAt && opts.faults.length > 0) {
      await sleep(1000 + random() * 2000);
      if (performance.now() >= endAt) break;
      const kind = pick(opts.faults);
      const hold = 1000 + random() * 2500;
      const start = now();
      let target = "";
      let detail = "";
      const running = cluster.members.filter((m) => m.running() && !extra.includes(m));
      const victim = pick(running);
      if (victim === undefined) continue;
      try {
        switch (kind) {
          case "kill":
            target = victim.name;
            await victim.kill("SIGKILL");
            await sleep(hold);
            victim.start();
            detail = "SIGKILL, then restart";
            break;
          case "restart":
            target = victim.name;
            await victim.kill("SIGTERM");
            victim.start();
            detail = "SIGTERM, then restart";
            break;
          case "pause":
            target = victim.name;
            await victim.kill("SIGSTOP");
            await sleep(hold);
            await victim.kill("SIGCONT");
            detail = "SIGSTOP, then SIGCONT";
            break;
          case "partition": {
            target = victim.name;
            const others = cluster.members.filter((m) => m !== victim).map((m) => ids.get(m) ?? "");
            const oneWay = random() < 0.5;
            await setFaultsQuiet(
              victim.peerUrl,
              oneWay ? { dropFrom: others } : { dropTo: others, dropFrom: others },
            );
            detail = oneWay ? "cut off from its peers, inbound only" : "cut off from its peers, both ways";
            await sleep(hold);
            await setFaultsQuiet(victim.peerUrl, {});
            break;
          }
          case "leader-isolate": {
            let leader: LocalMember | undefined;
            for (const m of running) {
              const s = await gw.status(m.clientUrl, 500).catch(() => undefined);
              if (s !== undefined && s.leader !== "0") {
                leader = cluster.members.find((x) => ids.get(x) === s.leader);
                break;
              }
            }
            if (leader === undefined || !leader.running()) continue;
            target = leader.name;
            const others = cluster.members.filter((m) => m !== leader).map((m) => ids.get(m) ?? "");
            await setFaultsQuiet(leader.peerUrl, { dropTo: others, dropFrom: others });
            detail = "leader cut off from its peers, both ways";
            await sleep(hold);
            await setFaultsQuiet(leader.peerUrl, {});
            break;
          }
          case "membership": {
            const existing = extra.find((m) => m.running());
            const via = pick(running);
            if (via === undefined) continue;
            if (existing === undefined) {
              const ports = { client: await freeLoopbackPort(), peer: await freeLoopbackPort() };
              const peer = `http://127.0.0.1:${ports.peer}`;
              const added = await memberAdd(via.clientUrl, peer);
              const m = cluster.join(`kvorum-extra-${faults.length}`, ports);
              extra.push(m);
              target = m.name;
              await m.waitHealthy(20_000);
              ids.set(m, added);
              await sleep(hold);
              await memberPromote(via.clientUrl, added).catch(() => undefined);
              detail = `added as a learner (${added}) and promoted`;
            } else {
              target = existing.name;
              await memberRemove(via.clientUrl, ids.get(existing) ?? "");
              // A removed member stops once it learns of its removal (from the log, or a peer's 410).
              const exited = await Promise.race([
                existing.waitExit().then(() => true),
                sleep(15_000).then(() => false),
              ]);
              if (!exited) {
                await existing.kill("SIGKILL");
                stalled.push(`${existing.name} did not stop within 15 s of its removal`);
              }
              extra.splice(extra.indexOf(existing), 1);
              removed.add(existing);
              detail = "removed";
            }
            break;
          }
        }
      } catch (err) {
        detail += ` (${(err as Error).message})`;
      }
      faults.push({ kind, target, detail, start, end: now() });
      opts.log(`chaos: fault ${faults.length}: ${kind} ${target}: ${detail}`);
    }
    if (opts.faults.length === 0) await sleep(Math.max(0, endAt - performance.now()));

    // ---- heal, quiesce, final reads ----
    stopping = true;
    await Promise.all(workers);
    await healAll();
    for (const m of cluster.members) if (!m.running() && !removed.has(m)) m.start();
    await Promise.all(cluster.members.filter((m) => m.running()).map((m) => m.waitHealthy(60_000)));
    const sentinel = `end-${opts.seed}`;
    attempted.add(sentinel);
    // One last write per watched prefix, so every watcher can be waited for up to it.
    const sentinelRev = new Map<string, number>();
    for (const prefix of ["chaos/", "lease/"]) {
      for (let i = 0; i < 20 && !sentinelRev.has(prefix); i++) {
        const m = pick(live());
        if (m === undefined) break;
        try {
          const rev = await gw.put(m.clientUrl, `${prefix}zz-end`, sentinel, 5000);
          acknowledged.push({ key: `${prefix}zz-end`, value: sentinel, revision: rev });
          sentinelRev.set(prefix, rev);
        } catch {
          await sleep(500);
        }
      }
    }
    for (const key of KEYS) {
      const m = pick(live());
      if (m === undefined) break;
      const call = now();
      try {
        const g = await gw.get(m.clientUrl, key, 5000);
        history.push({
          client: 99,
          input: { op: "get", key },
          output: { value: g.value, revision: g.revision },
          call,
          ret: now(),
        });
      } catch {
        // no effect
      }
    }
    // Watchers catch up to the last write before they are stopped.
    const deadline = performance.now() + 30_000;
    for (;;) {
      const behind = watchers.filter((w) => {
        const last = Math.max(0, ...w.responses.flat().map((e) => e.revision));
        return last < (sentinelRev.get(w.prefix) ?? 0);
      });
      if (behind.length === 0) break;
      if (performance.now() > deadline) {
        for (const w of behind)
          stalled.push(`watcher ${w.id} (${w.prefix}) never caught up with the last write`);
        break;
      }
      await sleep(200);
    }
  } finally {
    stopping = true;
    for (const stop of stopWatchers) stop();
    await cluster.stop();
    if (!opts.keepData) rmSync(base, { recursive: true, force: true });
  }

  // ---- check ----
  const wcEarly = checkWatches(watchers, { acknowledged, attemptedValues: attempted });
  const observed = new Set<string>();
  for (const op of history)
    if (op.output && "value" in op.output && op.output.value !== null) observed.add(op.output.value);
  for (const w of watchers) for (const e of w.responses.flat()) if (e.value !== null) observed.add(e.value);
  // The watchers saw every committed change under chaos/ (the watch check proves it, or fails
  // the run), so an unknown write is settled by them: committed at the revision they show, or
  // never. Settled writes keep their unknown linearization time, but the search no longer has to
  // guess whether they happened, which keeps both models' searches short.
  const committedAt = new Map<string, number>();
  for (const w of watchers) {
    if (w.prefix !== "chaos/" || w.startRevision !== 1) continue;
    for (const e of w.responses.flat())
      if (e.type === "PUT" && e.value !== null) committedAt.set(e.value, e.revision);
  }
  const watchComplete = wcEarly.violations.length === 0 && committedAt.size > 0;
  const settled: KvOperation[] = [];
  for (const op of history) {
    const i = op.input;
    if (!watchComplete || op.output !== undefined || (i.op !== "put" && i.op !== "cas") || i.value === null) {
      settled.push(op);
      continue;
    }
    const rev = committedAt.get(i.value);
    if (rev === undefined) continue; // never committed
    settled.push({ ...op, output: i.op === "put" ? { revision: rev } : { ok: true, revision: rev } });
  }
  const pruned = pruneUnobservedUnknowns(settled, observed);
  const lin = checkLinearizable(kvRegisterModel, pruned);
  // The whole store with revisions, over the entire history: revisions pin each operation's
  // place, so this search is usually short; when it runs out of budget it says "undecided".
  const storeStarted = performance.now();
  const store = lin.ok
    ? checkLinearizable(revisionedStoreModel, pruned, { stepsPerPart: 3_000_000 })
    : undefined;
  const storeMs = performance.now() - storeStarted;
  const wc = wcEarly;
  const describe = kvRegisterModel.describe as (op: KvOperation) => string;
  const violationText: string[] = [];
  if (!lin.ok && lin.failedPart !== undefined) {
    const key = lin.failedPart[0]?.input.key ?? "?";
    const prefix = lin.longestPrefix ?? [];
    violationText.push(
      `not linearizable on ${key}; the search placed ${prefix.length} of ${lin.failedPart.length} operations, the last of them:`,
    );
    for (const op of prefix.slice(-10)) violationText.push(`  ${describe(op)}`);
    // The operations around where the search got stuck: the first one it could not place.
    const placed = new Set(lin.longestPrefix ?? []);
    const sorted = [...lin.failedPart].sort((a, b) => a.call - b.call);
    const stuck = sorted.find((op) => !placed.has(op) && op.ret !== Infinity) ?? sorted[0];
    const t = stuck?.call ?? 0;
    const around = sorted.filter((op) => op.call >= t - 1500 && op.call <= t + 500).slice(-80);
    violationText.push(`the operations on ${key} around ${t.toFixed(1)} ms (client, call ms, return ms):`);
    for (const op of around) {
      violationText.push(
        `  c${op.client} [${op.call.toFixed(1)}, ${op.ret === Infinity ? "?" : op.ret.toFixed(1)}] ${describe(op)}`,
      );
    }
  }
  if (store !== undefined && !store.ok && store.failedPart !== undefined) {
    const prefix = store.longestPrefix ?? [];
    const last = prefix.at(-1);
    violationText.push(
      `the store with revisions is not linearizable: the search placed ${prefix.length} of ${store.failedPart.length} operations; the last of them:`,
    );
    for (const op of prefix.slice(-10)) violationText.push(`  c${op.client} ${describe(op)}`);
    const t = last?.call ?? 0;
    violationText.push(`operations that could not follow (calls from ${t.toFixed(1)} ms):`);
    const placed = new Set(prefix);
    for (const op of store.failedPart.filter((o) => !placed.has(o) && o.call >= t - 200).slice(0, 30)) {
      violationText.push(
        `  c${op.client} [${op.call.toFixed(1)}, ${op.ret === Infinity ? "?" : op.ret.toFixed(1)}] ${describe(op)}`,
      );
    }
  }
  return {
    storeModel:
      store === undefined ? "skipped" : store.undecidedParts > 0 ? "undecided" : store.ok ? "yes" : "no",
    storeModelMs: storeMs,
    ops: history.length,
    history,
    faults,
    linearizable: lin.ok && (store === undefined || store.ok),
    undecidedKeys: lin.undecidedParts,
    violationOps: lin.ok ? [] : (lin.failedPart ?? []),
    violationText,
    watchViolations: [...wc.violations, ...stalled],
    lost: wc.lost,
    watchEvents: wc.events,
    durationMs: now(),
    startedAt: t0,
  };
}

/** Fault changes are best effort: a paused or dead member cannot take them (and needs none). */
function setFaultsQuiet(peerUrl: string, faults: { dropTo?: string[]; dropFrom?: string[] }): Promise<void> {
  return setPeerFaults(peerUrl, faults).catch(() => {});
}

async function cluster(url: string, path: string, body: unknown): Promise<Record<string, unknown>> {
  const r = await fetch(`${url}${path}`, {
    method: "POST",
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const json = (await r.json()) as Record<string, unknown>;
  if (!r.ok) throw new Error(`${path}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}

async function memberAdd(url: string, peerUrl: string): Promise<string> {
  const r = await cluster(url, "/v3/cluster/member/add", { peerURLs: [peerUrl], isLearner: true });
  return BigInt(String((r["member"] as { ID?: string }).ID ?? "0")).toString(16);
}

async function memberPromote(url: string, id: string): Promise<void> {
  for (let i = 0; i < 20; i++) {
    try {
      await cluster(url, "/v3/cluster/member/promote", { ID: BigInt(`0x${id}`).toString() });
      return;
    } catch (err) {
      if (!/in sync with leader|timed out|leader/.test((err as Error).message)) throw err;
      await sleep(250);
    }
  }
}

async function memberRemove(url: string, id: string): Promise<void> {
  await cluster(url, "/v3/cluster/member/remove", { ID: BigInt(`0x${id}`).toString() });
}
