// hasleader=true on streaming calls, as etcd 3.4's stream interceptor: refused without a leader,
// ended with "etcdserver: no leader" after MAX_NO_LEADER_CHECKS leaderless checks in a row; streams
// without the metadata are never touched.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { MemberApi } from "../../server/member-api.js";
import {
  RpcError,
  type BidiStreamHandler,
  type CallContext,
  type HandlerTable,
  type PlainMessage,
  type ServerStreamHandler,
} from "../handler-types.js";
import { guardLeader, LeaderMonitor, MAX_NO_LEADER_CHECKS } from "./leader-guard.js";

const UNAVAILABLE = 14;
const PERIOD_MS = 5;

function rig() {
  let leader = 1n;
  const member = { leaderId: () => leader } as unknown as MemberApi;
  const opened: CallContext[] = [];
  const bidi: BidiStreamHandler = {
    kind: "bidi",
    requestType: "etcdserverpb.WatchRequest",
    responseType: "etcdserverpb.WatchResponse",
    open(out, ctx) {
      opened.push(ctx);
      ctx.signal.addEventListener("abort", () => out.end(), { once: true });
      return { message() {}, end() {} };
    },
  };
  const serverStream: ServerStreamHandler = {
    kind: "server-stream",
    requestType: "etcdserverpb.SnapshotRequest",
    responseType: "etcdserverpb.SnapshotResponse",
    async *handle(_req, ctx) {
      yield { n: 1 };
      await new Promise((r) => ctx.signal.addEventListener("abort", r, { once: true }));
    },
  };
  const table: HandlerTable = new Map<string, BidiStreamHandler | ServerStreamHandler>([
    ["/etcdserverpb.Watch/Watch", bidi],
    ["/etcdserverpb.Maintenance/Snapshot", serverStream],
  ]);
  const guarded = guardLeader(table, member, PERIOD_MS);
  return {
    setLeader: (id: bigint) => (leader = id),
    opened,
    watch: guarded.get("/etcdserverpb.Watch/Watch") as BidiStreamHandler,
    snapshot: guarded.get("/etcdserverpb.Maintenance/Snapshot") as ServerStreamHandler,
  };
}

function call(metadata: Record<string, string>) {
  const controller = new AbortController();
  const ctx: CallContext = { signal: controller.signal, metadata: new Map(Object.entries(metadata)) };
  const ends: unknown[] = [];
  const out = { send: (_m: PlainMessage) => true, onDrain() {}, end: (err?: unknown) => void ends.push(err) };
  return { ctx, out, ends, cancel: () => controller.abort() };
}

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 2));
  }
}

const isNoLeader = (err: unknown) =>
  err instanceof RpcError && err.code === UNAVAILABLE && err.message === "etcdserver: no leader";

describe("bidi streams", () => {
  test("hasleader=true without a leader: refused at once with 'etcdserver: no leader'", () => {
    const r = rig();
    r.setLeader(0n);
    const c = call({ hasleader: "true" });
    r.watch.open(c.out, c.ctx);
    assert.equal(r.opened.length, 0, "the handler never runs");
    assert.equal(c.ends.length, 1);
    assert.ok(isNoLeader(c.ends[0]));
  });

  test("without the metadata (or with another value) a leaderless member still opens the stream", () => {
    const r = rig();
    r.setLeader(0n);
    for (const md of [{}, { hasleader: "false" }] as Array<Record<string, string>>) {
      const c = call(md);
      r.watch.open(c.out, c.ctx);
      assert.deepEqual(c.ends, []);
    }
    assert.equal(r.opened.length, 2);
  });

  test("a stream opened with a leader ends with 'no leader' once the leader is gone for 3 checks; others stay", async () => {
    const r = rig();
    const guarded = call({ hasleader: "true" });
    const plain = call({});
    r.watch.open(guarded.out, guarded.ctx);
    r.watch.open(plain.out, plain.ctx);
    await new Promise((res) => setTimeout(res, PERIOD_MS * 6));
    assert.deepEqual(guarded.ends, [], "not while there is a leader");
    r.setLeader(0n);
    await until(() => guarded.ends.length > 0);
    assert.equal(guarded.ends.length, 1, "ended once");
    assert.ok(isNoLeader(guarded.ends[0]));
    assert.equal(r.opened[0]!.signal.aborted, true, "the handler is told to stop");
    assert.deepEqual(plain.ends, []);
    assert.equal(r.opened[1]!.signal.aborted, false);
  });

  test("a client that goes away stops being watched", () => {
    const r = rig();
    const c = call({ hasleader: "true" });
    r.watch.open(c.out, c.ctx);
    c.cancel();
    assert.deepEqual(c.ends, [undefined], "the handler's own OK end");
  });
});

describe("server streams", () => {
  test("refused without a leader; ended with 'no leader' after the loss", async () => {
    const r = rig();
    r.setLeader(0n);
    const refused = r.snapshot.handle({}, call({ hasleader: "true" }).ctx)[Symbol.asyncIterator]();
    await assert.rejects(refused.next(), isNoLeader);
    r.setLeader(1n);
    const it = r.snapshot.handle({}, call({ hasleader: "true" }).ctx)[Symbol.asyncIterator]();
    assert.deepEqual(await it.next(), { done: false, value: { n: 1 } });
    const rest = it.next();
    r.setLeader(0n);
    // The monitor's timer does not keep the process alive: this bounded wait does.
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("the stream did not end within 2 s")), 2000);
    });
    await assert.rejects(Promise.race([rest, bound]), isNoLeader);
    clearTimeout(timer);
  });
});

describe("LeaderMonitor", () => {
  test(`ends its streams after ${MAX_NO_LEADER_CHECKS} leaderless checks in a row only`, () => {
    let leader = false;
    const monitor = new LeaderMonitor(() => leader, 60_000);
    let ended = 0;
    const untrack = monitor.track(() => ended++);
    monitor.check();
    monitor.check();
    leader = true;
    monitor.check(); // a leader again: the count starts over
    leader = false;
    monitor.check();
    monitor.check();
    assert.equal(ended, 0);
    monitor.check();
    assert.equal(ended, 1);
    assert.equal(monitor.size, 0);
    untrack(); // harmless after the end
  });
});
