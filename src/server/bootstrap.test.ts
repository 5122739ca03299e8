// Who a member is at start: the recorded identity wins on restart (a data dir of another member
// is refused), a new member refuses peers of another cluster (token or member list differs),
// and a joining member takes its ID from the running cluster's member list.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseServerConfig, type ServerConfig } from "../config/server-config.js";
import { membersDocument, planBootstrap, readIdentityFile, writeIdentityFile } from "./bootstrap.js";
import { identityFromConfig, nodeIdOf } from "./identity.js";

const quiet = { info() {}, warn() {} };
const CLUSTER = "a=http://127.0.0.1:7001,b=http://127.0.0.1:7002,c=http://127.0.0.1:7003";

function config(name: string, dataDir: string, extra: string[] = []): ServerConfig {
  const port = { a: 7001, b: 7002, c: 7003, d: 7004 }[name] ?? 7009;
  return parseServerConfig(
    [
      "--name",
      name,
      "--data-dir",
      dataDir,
      "--initial-advertise-peer-urls",
      `http://127.0.0.1:${port}`,
      "--initial-cluster",
      CLUSTER,
      "--initial-cluster-token",
      "tok",
      ...extra,
    ],
    {},
  ).config;
}

function withDir(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), "kvorum-bootstrap-"));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

const unreachable = () => Promise.reject(new Error("connection refused"));

test(
  "a new member: IDs from the flags, recorded after start, and used on restart",
  withDir(async (dir) => {
    const cfg = config("a", dir);
    const plan = await planBootstrap(cfg, unreachable, quiet);
    assert.equal(plan.restarted, false);
    assert.deepEqual(plan.identity, identityFromConfig(cfg));
    writeIdentityFile(dir, "a", plan.identity);
    assert.equal(readIdentityFile(dir)?.memberId, nodeIdOf(plan.identity.memberId));
    const again = await planBootstrap(cfg, unreachable, quiet);
    assert.equal(again.restarted, true);
    assert.equal(again.identity.memberId, plan.identity.memberId);
    assert.equal(again.identity.clusterId, plan.identity.clusterId);
  }),
);

test(
  "a data dir of another member or cluster token is refused with the reason",
  withDir(async (dir) => {
    const original = config("a", dir);
    writeIdentityFile(dir, "a", identityFromConfig(original));
    await assert.rejects(
      planBootstrap(config("a", dir, ["--initial-cluster-token", "other"]), unreachable, quiet),
      /data dir .* belongs to member [0-9a-f]+ of cluster [0-9a-f]+, but .* give member [0-9a-f]+/,
    );
    await assert.rejects(planBootstrap(config("b", dir), unreachable, quiet), /belongs to member/);
  }),
);

test(
  "a new member refuses to start next to running peers of another cluster",
  withDir(async (dir) => {
    const theirs = identityFromConfig(config("b", dir, ["--initial-cluster-token", "another-token"]));
    const fetch = async (url: string) =>
      url.endsWith(":7002") ? membersDocument(theirs.clusterId, []) : Promise.reject(new Error("down"));
    await assert.rejects(
      planBootstrap(config("a", dir), fetch, quiet),
      /cluster ID mismatch: the member at http:\/\/127.0.0.1:7002 belongs to cluster [0-9a-f]+, .*same --initial-cluster and --initial-cluster-token/,
    );
    // Peers of the same cluster are fine.
    const ours = identityFromConfig(config("a", dir));
    const same = async () => membersDocument(ours.clusterId, []);
    assert.equal((await planBootstrap(config("a", dir), same, quiet)).identity.memberId, ours.memberId);
  }),
);

test(
  "joining: the ID comes from the running cluster's member list, which must hold this member",
  withDir(async (dir) => {
    const existing = "a=http://127.0.0.1:7001,d=http://127.0.0.1:7004";
    const cfg = config("d", dir, ["--initial-cluster", existing, "--initial-cluster-state", "existing"]);
    const listed = [
      { id: 0xa1n, name: "a", peerUrls: ["http://127.0.0.1:7001"], clientUrls: [], isLearner: false },
      { id: 0xd4n, name: "", peerUrls: ["http://127.0.0.1:7004"], clientUrls: [], isLearner: true },
    ];
    const plan = await planBootstrap(cfg, async () => membersDocument(0xc1c1n, listed), quiet);
    assert.equal(plan.identity.memberId, 0xd4n);
    assert.equal(plan.identity.clusterId, 0xc1c1n);
    assert.deepEqual(
      plan.initialMembers?.map((m) => [m.name, m.isLearner]),
      [
        ["a", false],
        ["d", true],
      ],
    );
    await assert.rejects(
      planBootstrap(cfg, async () => membersDocument(0xc1c1n, listed.slice(0, 1)), quiet),
      /are not in the member list of cluster c1c1 .*etcdctl member add d --peer-urls=http:\/\/127.0.0.1:7004/,
    );
    await assert.rejects(
      planBootstrap(cfg, unreachable, quiet, { joinTimeoutMs: 300 }),
      /cannot join: no member of the existing cluster answered/,
    );
  }),
);

test("a member missing from --initial-cluster is refused", () => {
  assert.throws(
    () => parseServerConfig(["--name", "zed", "--initial-cluster", CLUSTER], {}),
    /couldn't find local name "zed" in the initial cluster configuration/,
  );
});
