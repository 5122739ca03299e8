// The transport contract, run on the in-memory hub and on the peer transport over loopback:
// messages arrive intact and in order per link, a batch may carry many messages, sending to an
// unknown or unreachable peer reports it unreachable instead of throwing, and a link comes back
// once the peer listens again.
import { test } from "node:test";
import assert from "node:assert/strict";
import { EntryType, MessageType, type Message, type NodeId } from "../raft/index.js";
import { InMemoryTransportHub } from "./memory.js";
import { PeerTransport, type PeerTransportOptions } from "./peer-transport.js";
import {
  createPeerHandler,
  listenPeerUrl,
  type PeerListener,
  type PeerServerOptions,
} from "./peer-server.js";
import { RAFT_MAGIC } from "./protocol.js";
import type { PeerSink, RaftTransport } from "./types.js";

const quiet = { info() {}, warn() {}, error() {}, debug() {} };

function msg(from: NodeId, to: NodeId, index: number, extra: Partial<Message> = {}): Message {
  return {
    type: MessageType.App,
    to,
    from,
    term: 3,
    logTerm: 2,
    index,
    entries: [{ term: 3, index: index + 1, type: EntryType.Normal, data: new Uint8Array([index % 256, 7]) }],
    commit: index,
    reject: false,
    rejectHint: 0,
    context: new Uint8Array(0),
    ...extra,
  };
}

class Recorder implements PeerSink {
  received: Message[] = [];
  unreachableCount = new Map<NodeId, number>();
  receive(m: Message): void {
    this.received.push(m);
  }
  unreachable(node: NodeId): void {
    this.unreachableCount.set(node, (this.unreachableCount.get(node) ?? 0) + 1);
  }
}

/** Bytes as plain arrays, so a Buffer and a Uint8Array with the same bytes compare equal. */
function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return Array.from(v);
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  }
  return v;
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface Pair {
  a: RaftTransport;
  b: RaftTransport;
  sinkA: Recorder;
  sinkB: Recorder;
  /** Stops b's receiving side; restartB brings it back on the same address. */
  stopB(): Promise<void>;
  restartB(): Promise<void>;
  close(): Promise<void>;
}

async function memoryPair(): Promise<Pair> {
  const hub = new InMemoryTransportHub();
  const sinkA = new Recorder();
  const sinkB = new Recorder();
  const a = hub.register("a", sinkA);
  let b = hub.register("b", sinkB);
  return {
    a,
    get b() {
      return b;
    },
    sinkA,
    sinkB,
    stopB: () => b.close(),
    restartB: async () => {
      b = hub.register("b", sinkB);
    },
    close: async () => {
      await a.close();
      await b.close();
    },
  };
}

async function http2Pair(): Promise<Pair> {
  const sinkA = new Recorder();
  const sinkB = new Recorder();
  const clusterId = 0xabcn;
  const listen = (self: NodeId, sink: PeerSink, url: string) =>
    listenPeerUrl(
      url,
      createPeerHandler({ self, clusterId: () => clusterId, sink, logger: quiet }),
      undefined,
    );
  const la = await listen("a", sinkA, "http://127.0.0.1:0");
  let lb: PeerListener = await listen("b", sinkB, "http://127.0.0.1:0");
  const a = new PeerTransport({
    self: "a",
    clusterId,
    peers: new Map([["b", [lb.url]]]),
    sink: sinkA,
    logger: quiet,
  });
  const b = new PeerTransport({
    self: "b",
    clusterId,
    peers: new Map([["a", [la.url]]]),
    sink: sinkB,
    logger: quiet,
  });
  const bUrl = lb.url;
  return {
    a,
    b,
    sinkA,
    sinkB,
    stopB: () => lb.close(),
    restartB: async () => {
      lb = await listen("b", sinkB, bUrl);
    },
    close: async () => {
      await a.close();
      await b.close();
      await la.close();
      await lb.close();
    },
  };
}

for (const [name, make] of [
  ["in-memory hub", memoryPair],
  ["peer transport", http2Pair],
] as const) {
  test(`${name}: messages arrive intact and in order, both ways`, { timeout: 20_000 }, async () => {
    const p = await make();
    try {
      const snapshot = {
        metadata: { index: 9, term: 2, confState: { voters: ["a", "b"], learners: ["c"] } },
        data: new Uint8Array([1, 2, 3]),
      };
      const special = msg("a", "b", 0, {
        type: MessageType.Snap,
        snapshot,
        reject: true,
        rejectHint: 77,
        context: new Uint8Array([9, 9]),
        entries: [],
      });
      p.a.send([special]);
      for (let i = 1; i <= 200; i += 4)
        p.a.send([msg("a", "b", i), msg("a", "b", i + 1), msg("a", "b", i + 2), msg("a", "b", i + 3)]);
      p.b.send([msg("b", "a", 5)]);
      await until(() => p.sinkB.received.length === 201 && p.sinkA.received.length === 1);
      assert.deepEqual(plain(p.sinkB.received[0]), plain(special));
      assert.deepEqual(
        p.sinkB.received.slice(1).map((m) => m.index),
        Array.from({ length: 200 }, (_, i) => i + 1),
      );
      assert.deepEqual(plain(p.sinkB.received[5]), plain(msg("a", "b", 5)));
      assert.deepEqual(plain(p.sinkA.received[0]), plain(msg("b", "a", 5)));
    } finally {
      await p.close();
    }
  });

  test(
    `${name}: an unknown or stopped peer is reported unreachable, and the link recovers`,
    { timeout: 20_000 },
    async () => {
      const p = await make();
      try {
        assert.doesNotThrow(() => p.a.send([msg("a", "nobody", 1)]));
        assert.equal(p.sinkA.unreachableCount.get("nobody"), 1);

        p.a.send([msg("a", "b", 1)]);
        await until(() => p.sinkB.received.length === 1);
        await p.stopB();
        // Keep sending: the link notices the peer is gone and reports it, without throwing.
        await until(() => {
          p.a.send([msg("a", "b", 2)]);
          return (p.sinkA.unreachableCount.get("b") ?? 0) > 0;
        });
        await p.restartB();
        const before = p.sinkB.received.length;
        await until(() => {
          p.a.send([msg("a", "b", 3)]);
          return p.sinkB.received.length > before;
        }, 10_000);
        assert.equal(p.sinkB.received.at(-1)?.index, 3);
      } finally {
        await p.close();
      }
    },
  );
}

/**
 * Runs `fn` with a listener for member "b" of cluster 1 on a free loopback port (quiet unless
 * `extra` says), then closes it.
 */
async function withListenerB(
  sink: PeerSink,
  extra: Partial<PeerServerOptions>,
  fn: (l: PeerListener) => Promise<void>,
): Promise<void> {
  const l = await listenPeerUrl(
    "http://127.0.0.1:0",
    createPeerHandler({ self: "b", clusterId: () => 1n, sink, logger: quiet, ...extra }),
    undefined,
  );
  try {
    await fn(l);
  } finally {
    await l.close();
  }
}

/** Member "a"'s transport to the listener `l`: cluster 1, quiet, a sink of its own, unless `extra` says. */
function senderA(l: PeerListener, extra: Partial<PeerTransportOptions> = {}): PeerTransport {
  return new PeerTransport({
    self: "a",
    clusterId: 1n,
    peers: new Map([["b", [l.url]]]),
    sink: new Recorder(),
    logger: quiet,
    ...extra,
  });
}

test(
  "peer transport: a stream from another cluster is refused and nothing is delivered",
  { timeout: 20_000 },
  async () => {
    const sink = new Recorder();
    const warnings: string[] = [];
    const logger = { ...quiet, warn: (_o: object, m: string) => warnings.push(m) };
    await withListenerB(sink, { logger }, async (l) => {
      const senderSink = new Recorder();
      const a = senderA(l, { clusterId: 2n, sink: senderSink, logger });
      try {
        await until(() => {
          a.send([msg("a", "b", 1)]);
          return (
            warnings.includes("refused a raft stream from a peer") &&
            (senderSink.unreachableCount.get("b") ?? 0) > 0
          );
        });
        assert.equal(sink.received.length, 0);
      } finally {
        await a.close();
      }
    });
  },
);

/** Opens a raw raft stream to `url` with this hello; resolves with the socket once answered. */
async function rawRaftStream(
  url: string,
  hello: unknown,
): Promise<{ socket: import("node:net").Socket; answer: string }> {
  const net = await import("node:net");
  const u = new URL(url);
  const socket = net.connect(Number(u.port), u.hostname);
  socket.on("error", () => {});
  const body = Buffer.from(typeof hello === "string" ? hello : JSON.stringify(hello));
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  socket.write(Buffer.concat([RAFT_MAGIC, len, body]));
  const answer = await new Promise<string>((resolve) => {
    let got = Buffer.alloc(0);
    socket.on("data", (c: Buffer) => {
      got = Buffer.concat([got, c]);
      if (got.length >= 4 && got.length >= 4 + got.readUInt32BE(0)) resolve(got.subarray(4).toString());
    });
    socket.on("close", () => resolve(got.subarray(4).toString()));
  });
  return { socket, answer };
}

const closed = (s: import("node:net").Socket) =>
  new Promise<void>((resolve) => (s.destroyed ? resolve() : s.on("close", () => resolve())));

test(
  "peer transport: garbage, oversized frames and a bad hello close the connection; the listener stays up",
  { timeout: 20_000 },
  async () => {
    const sink = new Recorder();
    await withListenerB(sink, { maxFrameBytes: 1024 }, async (l) => {
      const hello = { cluster: "1", from: "a", to: "b" };
      for (const body of [Buffer.from([0, 0, 0, 3, 0xff, 0xff, 0xff]), Buffer.from([0, 1, 0, 0])]) {
        const { socket, answer } = await rawRaftStream(l.url, hello);
        assert.deepEqual(JSON.parse(answer), { status: 200 });
        socket.write(body);
        await closed(socket);
      }
      // A hello that is not JSON, and one above the hello's size limit.
      for (const bad of ["{not json", "x".repeat(5000)]) {
        const { socket } = await rawRaftStream(l.url, bad);
        await closed(socket);
      }
      assert.equal(sink.received.length, 0);
      const a = senderA(l);
      a.send([msg("a", "b", 4)]);
      await until(() => sink.received.length === 1);
      await a.close();
    });
  },
);

test("peer transport: a connection that never says what it is gets closed", { timeout: 20_000 }, async () => {
  const net = await import("node:net");
  const l = await listenPeerUrl(
    "http://127.0.0.1:0",
    createPeerHandler({ self: "b", clusterId: () => 1n, sink: new Recorder(), logger: quiet }),
    undefined,
    { sniffTimeoutMs: 200 },
  );
  try {
    // Half of the raft stream's magic, then silence.
    const socket = net.connect(l.port, "127.0.0.1");
    socket.on("error", () => {});
    socket.write(RAFT_MAGIC.subarray(0, 3));
    const started = Date.now();
    await closed(socket);
    assert.ok(Date.now() - started < 5_000, "closed by the sniff timeout, not by the test's end");
  } finally {
    await l.close();
  }
});

test(
  "peer transport: a hello from another cluster gets 412 with the reason; HTTP/2 shares the port",
  { timeout: 20_000 },
  async () => {
    const sink = new Recorder();
    await withListenerB(sink, { routes: { "/version": () => ({ etcdserver: "3.4.0" }) } }, async (l) => {
      const { socket, answer } = await rawRaftStream(l.url, { cluster: "2", from: "a", to: "b" });
      const parsed = JSON.parse(answer) as { status: number; reason: string };
      assert.equal(parsed.status, 412);
      assert.match(parsed.reason, /cluster ID mismatch/);
      socket.destroy();
      const wrongMember = await rawRaftStream(l.url, { cluster: "1", from: "a", to: "c" });
      assert.equal((JSON.parse(wrongMember.answer) as { status: number }).status, 412);
      wrongMember.socket.destroy();
      // The same port still answers HTTP/2 requests.
      const http2 = await import("node:http2");
      const session = http2.connect(l.url);
      const req = session.request({ ":path": "/version" });
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (c: string) => (body += c));
      await new Promise<void>((resolve) => req.on("end", () => resolve()));
      session.close();
      assert.deepEqual(JSON.parse(body), { etcdserver: "3.4.0" });
      assert.equal(sink.received.length, 0);
    });
  },
);

test(
  "peer transport: a member removed from the cluster gets 410 and is told so",
  { timeout: 20_000 },
  async () => {
    const sink = new Recorder();
    await withListenerB(sink, { isRemoved: (from) => from === "a" }, async (l) => {
      let removed = 0;
      const a = senderA(l, { onRemoved: () => removed++ });
      try {
        await until(() => {
          a.send([msg("a", "b", 1)]);
          return removed > 0;
        });
        assert.equal(sink.received.length, 0);
      } finally {
        await a.close();
      }
    });
  },
);
