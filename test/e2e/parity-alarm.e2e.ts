// Side by side with etcd 3.4: the space quota and the NOSPACE alarm as etcdctl sees them. With
// --quota-backend-bytes 53248 (13 pages of 4 KiB) a 64-byte put fits; putting 4 KiB values to one
// key soon fails with "database space exceeded" (ResourceExhausted); right after, `alarm list`
// names this member's NOSPACE alarm and /health is false; writes stay refused while deletes and
// reads work; after compact + defrag + `alarm disarm` puts work again. Every etcdctl output is
// compared with etcd's, with the member ID, endpoint and revision normalised.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { ETCDCTL_MISSING, etcdctl, killAll, sleep, type RunningServer } from "./harness.js";
import { onBoth, PARITY_SKIP } from "./parity.js";

after(killAll);

const QUOTA = "53248";
const BIG = "b".repeat(4096);
const SMALL = "a".repeat(64);
const MAX_BIG_PUTS = 20;

interface Observation {
  smallPut: string;
  /** 4 KiB puts that succeeded before the first refusal (compared loosely: sizes differ). */
  bigPutsAccepted: number;
  refusal: string;
  refusalCode: boolean;
  alarmList: string;
  alarmIdIsMember: boolean;
  health: string;
  refusedWhileAlarmed: string[];
  allowedWhileAlarmed: string[];
  compact: string;
  defrag: string;
  disarm: string;
  alarmListAfter: string;
  healthAfter: string;
  putAfter: string;
}

/** stdout + the "Error:" line of stderr (etcdctl's own retry warnings are JSON log lines). */
function shown(r: { stdout: string; stderr: string }): string {
  const errors = r.stderr
    .split("\n")
    .filter((l) => l.startsWith("Error:"))
    .join("\n");
  return (r.stdout + errors).trim();
}

async function memberIdOf(server: RunningServer): Promise<string> {
  const r = await etcdctl(server, ["endpoint", "status", "-w", "json"]);
  const m = /"member_id":(\d+)/.exec(r.stdout);
  assert.ok(m !== null, r.stdout + r.stderr);
  return m[1] as string;
}

async function health(server: RunningServer): Promise<string> {
  const response = await fetch(`${server.endpoint}/health`, { signal: AbortSignal.timeout(5000) });
  return (await response.text()).trim();
}

async function scenario(server: RunningServer): Promise<Observation> {
  const id = await memberIdOf(server);
  const normalise = (text: string): string =>
    text
      .replaceAll(`memberID:${id} `, "memberID:<self> ")
      .replace(/memberID:\d+/g, "memberID:<other>")
      .replaceAll(server.endpoint, "<endpoint>")
      .replace(/compacted revision \d+/, "compacted revision <rev>");
  const run = async (...args: string[]) => normalise(shown(await etcdctl(server, args)));

  const smallPut = await run("put", "small", SMALL);
  let bigPutsAccepted = 0;
  let refused: { stdout: string; stderr: string } | undefined;
  for (let i = 0; i < MAX_BIG_PUTS && refused === undefined; i++) {
    const r = await etcdctl(server, ["put", "big", BIG]);
    if (r.code === 0) bigPutsAccepted++;
    else refused = r;
    // Both servers measure committed data (etcd commits its backend every 100 ms).
    await sleep(150);
  }
  assert.ok(refused !== undefined, `${server.kind}: ${MAX_BIG_PUTS} puts of 4 KiB all fitted`);
  const refusal = normalise(shown(refused));
  const refusalCode = refused.stderr.includes(
    "code = ResourceExhausted desc = etcdserver: mvcc: database space exceeded",
  );
  const alarmList = await run("alarm", "list");
  const observedHealth = await health(server);

  // `etcdctl txn` reads compares, success ops and failure ops from stdin, each list ending at a
  // blank line: here no compares and one op on success.
  const txn = async (op: string) =>
    normalise(shown(await etcdctl(server, ["txn"], { input: `\n${op}\n\n\n` })));
  const refusedWhileAlarmed = [
    await run("put", "x", "y"),
    await run("lease", "grant", "60"),
    await txn("put t 1"),
  ];
  const allowedWhileAlarmed = [
    await run("get", "small", "--print-value-only"),
    await run("del", "nothing"),
    await txn("del nothing"),
  ];
  const header = await etcdctl(server, ["get", "small", "-w", "json"]);
  const rev = /"revision":(\d+)/.exec(header.stdout)?.[1];
  assert.ok(rev !== undefined, header.stdout);
  const compact = await run("compact", rev);
  const defrag = await run("defrag");
  const disarm = await run("alarm", "disarm");
  const alarmListAfter = await run("alarm", "list");
  const healthAfter = await health(server);
  await sleep(150);
  const putAfter = await run("put", "after", "ok");
  return {
    smallPut,
    bigPutsAccepted,
    refusal,
    refusalCode,
    alarmList,
    alarmIdIsMember: alarmList === "memberID:<self> alarm:NOSPACE",
    health: observedHealth,
    refusedWhileAlarmed,
    allowedWhileAlarmed,
    compact,
    defrag,
    disarm,
    alarmListAfter,
    healthAfter,
    putAfter,
  };
}

test(
  "parity: NOSPACE alarm with --quota-backend-bytes 53248 (raise, refuse, list, health, recover)",
  { skip: PARITY_SKIP || ETCDCTL_MISSING, timeout: 180_000 },
  async () => {
    const both = await onBoth(scenario, { extraArgs: ["--quota-backend-bytes", QUOTA] });
    console.log(`# etcd: ${JSON.stringify(both.etcd)}`);
    console.log(`# kvorum: ${JSON.stringify(both.kvorum)}`);
    // etcd's own answers, so a change in the oracle shows here rather than as a parity diff.
    assert.equal(both.etcd.smallPut, "OK");
    assert.equal(both.etcd.refusal, "Error: etcdserver: mvcc: database space exceeded");
    assert.equal(both.etcd.alarmList, "memberID:<self> alarm:NOSPACE");
    assert.equal(both.etcd.health, '{"health":"false"}');
    assert.equal(both.etcd.putAfter, "OK");
    for (const [kind, o] of Object.entries(both)) {
      assert.ok(
        o.bigPutsAccepted >= 2 && o.bigPutsAccepted <= 8,
        `${kind}: ${o.bigPutsAccepted} puts of 4 KiB fitted in 13 pages`,
      );
    }
    assert.deepEqual(both.etcd.refusedWhileAlarmed, [
      "Error: etcdserver: mvcc: database space exceeded",
      "Error: failed to grant lease (etcdserver: mvcc: database space exceeded)",
      "Error: etcdserver: mvcc: database space exceeded",
    ]);
    const { bigPutsAccepted: _e, ...etcd } = both.etcd;
    const { bigPutsAccepted: _k, ...kvorum } = both.kvorum;
    assert.deepEqual(kvorum, etcd);
  },
);
