// checkBackendData on a member's real tables: clean after ordinary writes (puts, deletes, leases,
// a compaction), and each kind of damage is reported.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Backend } from "../../mvcc/backend.js";
import { decodeRevisionKey, leaseKey, TABLES } from "../../mvcc/schema.js";
import { LEASE_TABLE } from "../../lease/index.js";
import { startMember, type Member } from "../index.js";
import { testMemberConfig } from "../member-config.test-util.js";
import { checkBackendData } from "./data-check.js";

const enc = (s: string) => new TextEncoder().encode(s);

async function memberWithData(): Promise<{ member: Member; backend: Backend; lease: bigint }> {
  const config = testMemberConfig("a", "http://127.0.0.1:1", "a=http://127.0.0.1:1", {
    heartbeatMs: 10,
    electionMs: 100,
  });
  const member = await startMember({ config, storage: "memory" });
  await member.whenPublished();
  await member.put({ key: enc("k1"), value: enc("one") });
  await member.put({ key: enc("k1"), value: enc("uno") });
  await member.put({ key: enc("gone"), value: enc("x") });
  await member.deleteRange({ key: enc("gone") });
  const { id: lease } = await member.leaseGrant({ id: 0n, ttl: 60 });
  await member.put({ key: enc("leased"), value: enc("v"), lease });
  await member.compact({ revision: 3, physical: true });
  await member.put({ key: enc("k2"), value: enc("two") });
  return { member, backend: (member as unknown as { backend: Backend }).backend, lease };
}

function rewrite(
  backend: Backend,
  table: string,
  edit: (key: Uint8Array, value: Uint8Array) => Uint8Array | null | undefined,
): void {
  const t = backend.table(table);
  for (const { key, value } of t.range(undefined, undefined)) {
    const out = edit(key, value);
    if (out === undefined) continue;
    backend.writeTxn(() => (out === null ? t.del(key) : t.put(key, out)));
    return;
  }
  throw new Error(`nothing edited in ${table}`);
}

test("a member's backend after ordinary writes is consistent", async () => {
  const { member, backend } = await memberWithData();
  try {
    const report = checkBackendData(backend);
    assert.deepEqual(report.problems, []);
    assert.equal(report.currentRevision, 7);
    assert.equal(report.compactRevision, 3);
    assert.ok(report.appliedIndex > 0);
    assert.equal(report.rows.leases, 1);
    assert.equal(report.rows.keysByLease, 1);
  } finally {
    await member.stop();
  }
});

test("a changed stored value, a missing lease and an undecodable row are reported", async () => {
  const { member, backend, lease } = await memberWithData();
  try {
    // Flip the last byte of k2's value in its revision record.
    rewrite(backend, TABLES.revisions, (key, value) => {
      if (decodeRevisionKey(key).rev !== 7) return undefined;
      const out = Uint8Array.from(value);
      out[out.length - 1]! ^= 1;
      return out;
    });
    let problems = checkBackendData(backend).problems;
    assert.deepEqual(problems, [`latest: key "k2": the value differs from revision 7's`]);

    rewrite(backend, LEASE_TABLE, () => null);
    problems = checkBackendData(backend).problems;
    assert.ok(
      problems.includes(`latest: key "leased": lease ${lease.toString(16)} does not exist`),
      problems.join("\n"),
    );
    assert.ok(
      problems.includes(`keysByLease: lease ${lease.toString(16)} does not exist`),
      problems.join("\n"),
    );

    rewrite(backend, TABLES.revisions, (key) =>
      decodeRevisionKey(key).rev === 4 ? new Uint8Array(3) : undefined,
    );
    problems = checkBackendData(backend).problems;
    assert.ok(
      problems.includes("revisions: revision 4.0: a record of 3 bytes does not decode"),
      problems.join("\n"),
    );

    rewrite(backend, TABLES.keysByLease, (key) => (key.length > 8 ? null : undefined));
    backend.writeTxn(() =>
      backend.table(TABLES.keysByLease).put(leaseKey(lease, enc("nokey")), new Uint8Array(0)),
    );
    problems = checkBackendData(backend).problems;
    assert.ok(
      problems.includes(`keysByLease: key "nokey" is not a live key of lease ${lease.toString(16)}`),
      problems.join("\n"),
    );
  } finally {
    await member.stop();
  }
});

test("kvorumctl check data: a directory without a backend is unusable (exit 2)", async () => {
  const { runCheckData } = await import("../../cli/check-data.js");
  const lines: string[] = [];
  const code = await runCheckData("/nonexistent/kvorum-check-data", (l) => lines.push(l));
  assert.equal(code, 2);
  assert.deepEqual(lines, ["error: no backend at /nonexistent/kvorum-check-data/member/db"]);
});
