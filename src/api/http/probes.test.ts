// /livez, /readyz and /health?serializable=true over the HTTP handler, with a fake member whose
// alarms, leader, learner flag and read outcomes the tests set.
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { EtcdError } from "../../mvcc/errors.js";
import { AlarmType, type MemberApi, type StatusInfo } from "../../server/member-api.js";
import type { HandlerTable } from "../handler-types.js";
import { createHttpHandler, createMetricsHttpHandler } from "./index.js";
import { createMetrics } from "../../common/metrics.js";

interface State {
  leader: bigint;
  alarms: { memberId: bigint; alarm: AlarmType }[];
  learner: boolean;
  /** Linearizable reads fail with this (no quorum). */
  linearizableError?: Error;
  serializableReads: number;
}

function fakeMember(state: State): MemberApi {
  const partial: Partial<MemberApi> = {
    status: async () => ({ leader: state.leader }) as StatusInfo,
    alarm: async () => ({ alarms: state.alarms, revision: 3 }),
    isLearner: () => state.learner,
    range: async (req) => {
      if (req.serializable === true) state.serializableReads++;
      else if (state.linearizableError !== undefined) throw state.linearizableError;
      return { header: { revision: 3 } as never, kvs: [], more: false, count: 0 };
    },
  };
  return partial as MemberApi;
}

async function withServer(
  state: State,
  fn: (get: (p: string, method?: string) => Promise<Response>) => Promise<void>,
) {
  const server = http.createServer(
    createHttpHandler(new Map() as HandlerTable, fakeMember(state), {
      codec: { plainFromJson: () => ({}), plainToJson: (_t, m) => m },
      maxRequestBytes: 1024,
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    await fn((p, method = "GET") => fetch(base + p, { method, signal: AbortSignal.timeout(5000) }));
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

const healthy = (): State => ({ leader: 1n, alarms: [], learner: false, serializableReads: 0 });

test("/livez and /readyz on a healthy member: ok, and each check with ?verbose", async () => {
  await withServer(healthy(), async (get) => {
    let res = await get("/livez");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/plain; charset=utf-8");
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    assert.equal(await res.text(), "ok\n");
    res = await get("/livez?verbose");
    assert.equal(await res.text(), "[+]serializable_read ok\nok\n");
    res = await get("/readyz");
    assert.equal(await res.text(), "ok\n");
    res = await get("/readyz?verbose");
    assert.equal(
      await res.text(),
      "[+]data_corruption ok\n[+]serializable_read ok\n[+]linearizable_read ok\n[+]non_learner ok\nok\n",
    );
    res = await get("/readyz/linearizable_read?verbose");
    assert.equal(await res.text(), "[+]linearizable_read ok\nok\n");
    res = await get("/readyz?verbose&exclude=linearizable_read&exclude=non_learner&exclude=nonexistent");
    assert.equal(await res.text(), "[+]data_corruption ok\n[+]serializable_read ok\nok\n");
    res = await get("/readyz/unknown");
    assert.equal(res.status, 404);
    await res.text();
    res = await get("/livez", "POST");
    assert.equal(res.status, 405);
    assert.equal(res.headers.get("allow"), "GET");
    await res.text();
  });
});

test("/readyz fails with every check's line; /livez stays ok without quorum or with CORRUPT", async () => {
  const state = healthy();
  state.alarms = [{ memberId: 0n, alarm: AlarmType.CORRUPT }];
  state.linearizableError = new EtcdError("etcdserver: request timed out", "UNAVAILABLE");
  state.learner = true;
  await withServer(state, async (get) => {
    let res = await get("/readyz");
    assert.equal(res.status, 503);
    assert.equal(
      await res.text(),
      "[-]data_corruption failed: alarm activated: CORRUPT\n[+]serializable_read ok\n" +
        "[-]linearizable_read failed: etcdserver: request timed out\n[-]non_learner failed: not supported for learner\n\n",
    );
    res = await get("/readyz/data_corruption");
    assert.equal(res.status, 503);
    assert.equal(await res.text(), "[-]data_corruption failed: alarm activated: CORRUPT\n\n");
    res = await get("/readyz?exclude=data_corruption&exclude=linearizable_read&exclude=non_learner");
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "ok\n");
    res = await get("/livez?verbose");
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "[+]serializable_read ok\nok\n");
  });
});

test("/health?serializable=true needs no leader and reads locally; alarms still count", async () => {
  const state = healthy();
  state.leader = 0n;
  state.linearizableError = new EtcdError("etcdserver: no leader", "UNAVAILABLE");
  await withServer(state, async (get) => {
    let res = await get("/health");
    assert.equal(res.status, 503);
    assert.equal(await res.text(), '{"health":"false"}\n');
    res = await get("/health?serializable=true");
    assert.equal(res.status, 200);
    assert.equal(await res.text(), '{"health":"true"}');
    assert.equal(state.serializableReads, 1);
    state.alarms = [{ memberId: 1n, alarm: AlarmType.NOSPACE }];
    res = await get("/health?serializable=true");
    assert.equal(res.status, 503);
    await res.text();
    res = await get("/health?serializable=true&exclude=NOSPACE");
    assert.equal(res.status, 200);
    await res.text();
    state.alarms.push({ memberId: 1n, alarm: AlarmType.CORRUPT });
    res = await get("/health?serializable=true&exclude=NOSPACE");
    assert.equal(res.status, 503, "an alarm not excluded still makes it unhealthy");
    await res.text();
  });
});

test("the metrics listener serves /livez and /readyz too", async () => {
  const state = healthy();
  const server = http.createServer(
    createMetricsHttpHandler(fakeMember(state), createMetrics({ processMetrics: false })),
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    for (const p of ["/livez", "/readyz"]) {
      const res = await fetch(base + p, { signal: AbortSignal.timeout(5000) });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), "ok\n");
    }
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
