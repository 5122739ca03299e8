import { test } from "node:test";
import assert from "node:assert/strict";
import {
  bootstrapIdentity,
  clusterIdFor,
  formatMemberId,
  memberIdFor,
  normalizePeerUrl,
} from "./identity.js";

// Facts read from real etcd 3.4.23 (`etcdctl -w json member list` / `endpoint status -w json`).
test("one member: same IDs as etcd", () => {
  // etcd --name solo --initial-advertise-peer-urls http://127.0.0.1:21591
  //   --initial-cluster solo=http://127.0.0.1:21591 --initial-cluster-token tok-one
  const id = bootstrapIdentity({ solo: ["http://127.0.0.1:21591"] }, "tok-one", "solo");
  assert.equal(id.memberId, 3566903099298933303n);
  assert.equal(id.clusterId, 13830525015074087909n);
});

test("three members (one with two peer URLs): same IDs as etcd", () => {
  // --initial-cluster n1=http://127.0.0.1:31001,n2=http://127.0.0.1:31002,
  //   n3=http://127.0.0.1:31003,n3=http://127.0.0.1:31013 --initial-cluster-token tok-three
  const cluster = {
    n1: ["http://127.0.0.1:31001"],
    n2: ["http://127.0.0.1:31002"],
    n3: ["http://127.0.0.1:31013", "http://127.0.0.1:31003"],
  };
  const id = bootstrapIdentity(cluster, "tok-three", "n2");
  assert.equal(id.memberId, 7931917850221992681n);
  assert.equal(id.members.get("n1"), 8436104658214760544n);
  assert.equal(id.members.get("n3"), 15417909492189600977n);
  assert.equal(id.clusterId, 11943177690975923903n);
  assert.equal(clusterIdFor([...id.members.values()].reverse()), 11943177690975923903n);
});

test("peer URL order and scheme case do not change the member ID", () => {
  const a = memberIdFor(["http://127.0.0.1:31003", "http://127.0.0.1:31013"], "tok-three");
  const b = memberIdFor([" HTTP://127.0.0.1:31013", "http://127.0.0.1:31003 "], "tok-three");
  assert.equal(a, b);
  assert.equal(a, 15417909492189600977n);
});

test("a member added at runtime mixes the time (Unix seconds) into its ID", () => {
  const urls = ["http://127.0.0.1:31004"];
  const t1 = memberIdFor(urls, "tok", new Date(1_700_000_000_000));
  assert.equal(memberIdFor(urls, "tok", new Date(1_700_000_000_999)), t1);
  assert.notEqual(memberIdFor(urls, "tok", new Date(1_700_000_001_000)), t1);
  assert.notEqual(memberIdFor(urls, "tok"), t1);
});

test("URLs etcd refuses are refused", () => {
  assert.throws(() => normalizePeerUrl("ftp://h:1"), /scheme/);
  assert.throws(() => normalizePeerUrl("http://h"), /host:port/);
  assert.throws(() => normalizePeerUrl("http://h:1/x"), /path/);
  assert.throws(() => bootstrapIdentity({ a: ["http://h:1"] }, "t", "b"), /local name/);
  assert.throws(() => bootstrapIdentity({ a: ["http://h:1"], b: ["http://h:1"] }, "t", "a"), /same ID/);
});

test("formatMemberId prints lowercase hex", () => {
  assert.equal(formatMemberId(3566903099298933303n), "31802f7875f3ea37");
  assert.equal(formatMemberId(0x0abcn), "abc");
});
