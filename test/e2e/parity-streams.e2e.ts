// Side by side with etcd 3.4: --max-concurrent-streams on the client port.
//  - The value is advertised in the server's SETTINGS (the default math.MaxUint32 as 4294967295).
//  - A client that honours it (node:http2, like grpc-go and grpc-js) holds a fourth call on a
//    connection with three open Watch streams until one of them ends, then it succeeds.
//  - A client that ignores it and opens a fourth stream anyway gets that stream reset with
//    REFUSED_STREAM (grpc-go's transport, which serves etcd's plain client port); the three open
//    streams and the connection carry on.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import tls from "node:tls";
import { freePort, killAll, type RunningServer, type StartOptions } from "./harness.js";
import { onBoth, PARITY_SKIP } from "./parity.js";
import {
  connect,
  frame,
  headerBlock,
  PREFACE,
  RawH2Client,
  settingsOf,
  unaryCall,
  WatchClient,
} from "./grpc-raw.js";

after(killAll);

const SETTINGS = 0x4;
const HEADERS = 0x1;
const RST_STREAM = 0x3;
const GOAWAY = 0x7;
const SETTINGS_MAX_CONCURRENT_STREAMS = 0x3;
const LIMIT_ARGS = { extraArgs: ["--max-concurrent-streams", "3"] };

/** The server's first SETTINGS frame, read off a raw connection. */
async function advertisedLimit(server: RunningServer): Promise<number | undefined> {
  const c = await RawH2Client.connect(server.endpoint);
  try {
    c.send(PREFACE, frame(SETTINGS, 0, 0));
    const f = await c.waitFor((x) => x.type === SETTINGS && (x.flags & 1) === 0, 5000, "server SETTINGS");
    return settingsOf(f).get(SETTINGS_MAX_CONCURRENT_STREAMS);
  } finally {
    c.close();
  }
}

test("the default limit is advertised as etcd does", { skip: PARITY_SKIP, timeout: 120_000 }, async () => {
  const both = await onBoth((s) => advertisedLimit(s));
  assert.equal(both.etcd, 4294967295);
  assert.deepEqual(both.kvorum, both.etcd);
});

interface HonouringObservation {
  remoteMaxConcurrentStreams: number | undefined;
  watchesCreated: number;
  /** Whether the fourth call finished while three watches were open (it must not). */
  finishedWhileFull: boolean;
  /** The fourth call's grpc-status once a watch was canceled. */
  statusAfterSlotFreed: string;
  /** Whether the three watches still answer a progress request afterwards (two left). */
  watchesStillServed: boolean;
}

async function honouringClient(server: RunningServer): Promise<HonouringObservation> {
  const session = await connect(server.endpoint);
  try {
    const remoteMaxConcurrentStreams = session.remoteSettings.maxConcurrentStreams;
    const watches: WatchClient[] = [];
    for (let i = 0; i < 3; i++) {
      const w = WatchClient.open(session);
      w.send({ create_request: { key: Buffer.from(`key-${i}`) } });
      await w.waitFor((r) => r.created === true, 5000, `watch ${i} created`);
      watches.push(w);
    }
    let finished = false;
    const fourth = unaryCall(
      session,
      "/etcdserverpb.KV/Range",
      "etcdserverpb.RangeRequest",
      "etcdserverpb.RangeResponse",
      { key: Buffer.from("key-0") },
    ).then((r) => {
      finished = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 1500));
    const finishedWhileFull = finished;
    watches[0]!.cancel();
    const result = await Promise.race([
      fourth,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error("the fourth call did not finish after a slot freed")), 10_000),
      ),
    ]);
    // The two remaining watches are still served: a progress request on each is answered.
    let watchesStillServed = true;
    for (const w of watches.slice(1)) {
      const from = w.responses.length;
      w.send({ progress_request: {} });
      try {
        await w.waitFor((r) => r.created === false && r.watch_id === "-1", 5000, "progress", from);
      } catch {
        watchesStillServed = false;
      }
    }
    return {
      remoteMaxConcurrentStreams,
      watchesCreated: watches.length,
      finishedWhileFull,
      statusAfterSlotFreed: result.status,
      watchesStillServed,
    };
  } finally {
    session.destroy();
  }
}

interface IgnoringObservation {
  /** RST_STREAM error code the fourth stream got, undefined if none. */
  fourthReset: number | undefined;
  /** Streams other than the fourth that were reset. */
  othersReset: number[];
  goaway: boolean;
  /** A stream opened after the client reset stream 1 is answered (HEADERS back). */
  servedAfterSlotFreed: boolean;
}

async function ignoringClient(server: RunningServer): Promise<IgnoringObservation> {
  const c = await RawH2Client.connect(server.endpoint);
  const request = (path: string): Buffer =>
    headerBlock([
      [":method", "POST"],
      [":scheme", "http"],
      [":path", path],
      [":authority", new URL(server.endpoint).host],
      ["content-type", "application/grpc"],
      ["te", "trailers"],
    ]);
  try {
    c.send(PREFACE, frame(SETTINGS, 0, 0));
    await c.waitFor((f) => f.type === SETTINGS && (f.flags & 1) === 0, 5000, "server SETTINGS");
    c.send(frame(SETTINGS, 1, 0));
    await c.waitFor((f) => f.type === SETTINGS && (f.flags & 1) === 1, 5000, "SETTINGS ack");
    // Three Watch streams that stay open (no message, no END_STREAM) ...
    for (const id of [1, 3, 5]) c.send(frame(HEADERS, 0x4, id, request("/etcdserverpb.Watch/Watch")));
    await new Promise((r) => setTimeout(r, 300));
    // ... and a fourth, ignoring the advertised limit.
    c.send(frame(HEADERS, 0x4, 7, request("/etcdserverpb.Watch/Watch")));
    let fourthReset: number | undefined;
    try {
      const rst = await c.waitFor((f) => f.type === RST_STREAM && f.stream === 7, 5000, "RST_STREAM on 7");
      fourthReset = rst.payload.readUInt32BE(0);
    } catch {
      fourthReset = undefined;
    }
    // The client resets stream 1; a new stream is then served.
    c.send(frame(RST_STREAM, 0, 1, Buffer.from([0, 0, 0, 8])));
    await new Promise((r) => setTimeout(r, 300));
    c.send(frame(HEADERS, 0x4, 9, request("/etcdserverpb.Watch/Watch")));
    // A Watch answers its response headers once the first request message arrives: send one.
    const create = Buffer.from([0x0a, 0x03, 0x0a, 0x01, 0x6b]); // WatchRequest{create_request{key:"k"}}
    const msg = Buffer.concat([Buffer.from([0, 0, 0, 0, create.length]), create]);
    c.send(frame(0x0, 0, 9, msg));
    let servedAfterSlotFreed = true;
    try {
      await c.waitFor((f) => f.type === HEADERS && f.stream === 9, 5000, "HEADERS on 9");
    } catch {
      servedAfterSlotFreed = false;
    }
    return {
      fourthReset,
      othersReset: c.frames.filter((f) => f.type === RST_STREAM && f.stream !== 7).map((f) => f.stream),
      goaway: c.frames.some((f) => f.type === GOAWAY),
      servedAfterSlotFreed,
    };
  } finally {
    c.close();
  }
}

test(
  "--max-concurrent-streams 3: advertised; a fourth call waits for a free slot; a fourth stream opened anyway is refused",
  { skip: PARITY_SKIP, timeout: 180_000 },
  async () => {
    const both = await onBoth(
      async (s) => ({ honouring: await honouringClient(s), ignoring: await ignoringClient(s) }),
      LIMIT_ARGS,
    );
    const expected = {
      honouring: {
        remoteMaxConcurrentStreams: 3,
        watchesCreated: 3,
        finishedWhileFull: false,
        statusAfterSlotFreed: "0",
        watchesStillServed: true,
      },
      ignoring: { fourthReset: 7, othersReset: [], goaway: false, servedAfterSlotFreed: true },
    };
    assert.deepEqual(both.etcd, expected, "etcd's behaviour (the oracle) is as this test assumes");
    assert.deepEqual(both.kvorum, both.etcd);
  },
);

/**
 * Over TLS etcd serves gRPC through Go's net/http HTTP/2 server, which refuses a stream too many
 * with PROTOCOL_ERROR once the client has acknowledged its SETTINGS.
 */
async function ignoringClientOverTls(
  port: number,
): Promise<{ limit: number | undefined; resets: number[][] }> {
  const socket = tls.connect({ port, host: "127.0.0.1", ALPNProtocols: ["h2"], rejectUnauthorized: false });
  await new Promise<void>((resolve, reject) => {
    socket.once("secureConnect", () => resolve());
    socket.once("error", reject);
  });
  const c = RawH2Client.wrap(socket);
  const request = headerBlock([
    [":method", "POST"],
    [":scheme", "https"],
    [":path", "/etcdserverpb.Watch/Watch"],
    [":authority", `127.0.0.1:${port}`],
    ["content-type", "application/grpc"],
    ["te", "trailers"],
  ]);
  try {
    c.send(PREFACE, frame(SETTINGS, 0, 0));
    const settings = await c.waitFor((f) => f.type === SETTINGS && (f.flags & 1) === 0, 5000, "SETTINGS");
    c.send(frame(SETTINGS, 1, 0));
    await new Promise((r) => setTimeout(r, 200));
    for (const id of [1, 3, 5, 7]) c.send(frame(HEADERS, 0x4, id, request));
    await c.waitFor((f) => f.type === RST_STREAM, 5000, "a RST_STREAM").catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300));
    return {
      limit: settingsOf(settings).get(SETTINGS_MAX_CONCURRENT_STREAMS),
      resets: c.frames.filter((f) => f.type === RST_STREAM).map((f) => [f.stream, f.payload.readUInt32BE(0)]),
    };
  } finally {
    c.close();
  }
}

test(
  "--max-concurrent-streams 3 over TLS: a fourth stream is refused with PROTOCOL_ERROR, as etcd's net/http server does",
  { skip: PARITY_SKIP, timeout: 120_000 },
  async () => {
    const tlsPorts = new Map<string, number>();
    const opts = async (kind: string): Promise<StartOptions> => {
      const [client, peer, secure] = [await freePort(), await freePort(), await freePort()];
      tlsPorts.set(kind, secure);
      return {
        firstPorts: { client, peer },
        extraArgs: [
          "--listen-client-urls",
          `http://127.0.0.1:${client},https://127.0.0.1:${secure}`,
          "--auto-tls",
          "--max-concurrent-streams",
          "3",
        ],
      };
    };
    const etcdOpts = await opts("etcd");
    const kvorumOpts = await opts("kvorum");
    const both = await onBoth(
      (s) => ignoringClientOverTls(tlsPorts.get(s.kind)!),
      (kind) => (kind === "etcd" ? etcdOpts : kvorumOpts),
    );
    assert.deepEqual(both.etcd, { limit: 3, resets: [[7, 1]] }, "etcd (the oracle)");
    assert.deepEqual(both.kvorum, both.etcd);
  },
);
