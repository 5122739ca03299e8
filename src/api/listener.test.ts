import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import tls from "node:tls";
import http2 from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import {
  HTTP2_PREFACE,
  listenClientUrl,
  loadClientTls,
  routeForFirstBytes,
  type ListenerTlsOptions,
} from "./listener.js";
import { decodePlain, encodePlain } from "../proto/codec.js";
import { createGrpcServer, type GrpcEndpoint } from "./grpc/server.js";
import type { HandlerTable, PlainMessage } from "./handler-types.js";
import { unary } from "./services/unary.js";

// A one-method gRPC service on the real binding: Put answers with prev_kv.value = "echo:" + key,
// enough to prove the port speaks gRPC.
const echoService: grpc.ServiceDefinition = {
  Echo: {
    path: "/etcdserverpb.KV/Put",
    requestStream: false,
    responseStream: false,
    requestSerialize: (b: Buffer) => Buffer.from(encodePlain("etcdserverpb.PutRequest", { key: b })),
    requestDeserialize: (b: Buffer) => b,
    responseSerialize: (b: Buffer) => b,
    responseDeserialize: (b: Buffer) =>
      Buffer.from(
        (decodePlain("etcdserverpb.PutResponse", b)["prev_kv"] as PlainMessage)["value"] as Uint8Array,
      ),
  },
};

function startGrpc(): { server: { forceShutdown(): void }; injector: GrpcEndpoint } {
  const table: HandlerTable = new Map();
  table.set(
    "/etcdserverpb.KV/Put",
    unary("etcdserverpb.PutRequest", "etcdserverpb.PutResponse", (req) => {
      const key = req["key"] as Uint8Array;
      return Promise.resolve({ prev_kv: { key, value: Buffer.concat([Buffer.from("echo:"), key]) } });
    }),
  );
  const injector = createGrpcServer(table, { maxRecvBytes: 1024 * 1024 });
  return { server: { forceShutdown: () => void injector.close() }, injector };
}

const EchoClient = grpc.makeGenericClientConstructor(echoService, "Echo");

function callEcho(
  target: string,
  creds: grpc.ChannelCredentials,
  body: string,
  options: grpc.ChannelOptions = {},
): Promise<string> {
  const client = new EchoClient(target, creds, options);
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 5000;
    type EchoMethod = (
      req: Buffer,
      opts: grpc.CallOptions,
      cb: (err: Error | null, resp: Buffer) => void,
    ) => void;
    const echo = (client as unknown as Record<string, EchoMethod>)["Echo"] as EchoMethod;
    echo.call(client, Buffer.from(body), { deadline }, (err: Error | null, resp: Buffer) => {
      client.close();
      if (err) reject(err);
      else resolve(resp.toString());
    });
  });
}

function httpGet(
  url: string,
  options: https.RequestOptions & tls.ConnectionOptions = {},
): Promise<{ status: number; body: string }> {
  const mod = url.startsWith("https:") ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.get(url, { ...options, timeout: 5000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
  });
}

const hello: http.RequestListener = (req, res) => {
  res.setHeader("content-type", "text/plain");
  res.end(`hello ${req.url}`);
};

test("first-bytes routing", () => {
  assert.equal(routeForFirstBytes(Buffer.from("GET / HTTP/1.1\r\n")), "http");
  assert.equal(routeForFirstBytes(Buffer.from("PRI * HT")), "undecided");
  assert.equal(routeForFirstBytes(HTTP2_PREFACE), "grpc");
  assert.equal(routeForFirstBytes(Buffer.concat([HTTP2_PREFACE, Buffer.from([0, 0])])), "grpc");
  assert.equal(routeForFirstBytes(Buffer.from("PRX")), "http");
});

test("one port serves HTTP/1.1 and gRPC; garbage does not break it", { timeout: 20_000 }, async () => {
  const { server, injector } = startGrpc();
  const listener = await listenClientUrl("http://127.0.0.1:0", { grpc: injector, http: hello });
  try {
    const port = listener.port;
    assert.ok(port !== undefined && port > 0);
    const got = await httpGet(`http://127.0.0.1:${port}/x`);
    assert.deepEqual(got, { status: 200, body: "hello /x" });
    assert.equal(await callEcho(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), "hi"), "echo:hi");

    // Garbage, a half preface, and an immediate close: each costs only its own connection.
    for (const bytes of [
      Buffer.from([0xff, 0x00, 0x13, 0x37, 0x42]),
      HTTP2_PREFACE.subarray(0, 10),
      Buffer.alloc(0),
    ]) {
      await new Promise<void>((resolve) => {
        const s = net.connect(port, "127.0.0.1", () => {
          s.end(bytes);
        });
        s.on("error", () => resolve());
        s.on("close", () => resolve());
        s.resume();
      });
    }
    // A preface followed by junk frames.
    await new Promise<void>((resolve) => {
      const s = net.connect(port, "127.0.0.1", () =>
        s.end(Buffer.concat([HTTP2_PREFACE, Buffer.alloc(64, 7)])),
      );
      s.on("error", () => resolve());
      s.on("close", () => resolve());
      s.resume();
    });
    assert.deepEqual(await httpGet(`http://127.0.0.1:${port}/again`), { status: 200, body: "hello /again" });
    assert.equal(await callEcho(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), "yo"), "echo:yo");
  } finally {
    await listener.close();
    server.forceShutdown();
  }
});

test("unix socket listener", { timeout: 10_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "kvorum-listener-"));
  const { server, injector } = startGrpc();
  const path = join(dir, "sock");
  const listener = await listenClientUrl(`unix://${path}`, { grpc: injector, http: hello });
  try {
    const body = await new Promise<string>((resolve, reject) => {
      const req = http.get({ socketPath: path, path: "/u" }, (res) => {
        let b = "";
        res.on("data", (c: Buffer) => (b += c.toString()));
        res.on("end", () => resolve(b));
      });
      req.on("error", reject);
    });
    assert.equal(body, "hello /u");
    assert.equal(await callEcho(`unix://${path}`, grpc.credentials.createInsecure(), "u"), "echo:u");
  } finally {
    await listener.close();
    server.forceShutdown();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** One gRPC call framed by hand over node:http2, on a TLS connection made without ALPN. */
function rawGrpcEchoWithoutAlpn(
  port: number,
  creds: { ca: Buffer; cert: Buffer; key: Buffer },
  body: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://127.0.0.1:${port}`, {
      createConnection: () => tls.connect({ host: "127.0.0.1", port, ...creds, ALPNProtocols: [] }),
    });
    session.on("error", reject);
    const payload = encodePlain("etcdserverpb.PutRequest", { key: Buffer.from(body) });
    const frame = Buffer.alloc(5 + payload.length);
    frame.writeUInt32BE(payload.length, 1);
    frame.set(payload, 5);
    const stream = session.request({
      ":method": "POST",
      ":path": "/etcdserverpb.KV/Put",
      "content-type": "application/grpc",
      te: "trailers",
    });
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => {
      session.close();
      const resp = decodePlain("etcdserverpb.PutResponse", Buffer.concat(chunks).subarray(5));
      resolve(Buffer.from((resp["prev_kv"] as PlainMessage)["value"] as Uint8Array).toString());
    });
    stream.on("error", reject);
    stream.end(frame);
  });
}

function hasOpenssl(): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** A CA, a server cert for 127.0.0.1 and a client cert, all made by openssl in `dir`. */
function makeCerts(dir: string): void {
  const run = (...args: string[]): void => {
    execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  run("req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=test-ca");
  for (const name of ["server", "client"]) {
    run("req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`);
    const ext = join(dir, `${name}.ext`);
    execFileSync("sh", ["-c", `printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ${ext}`]);
    run(
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      `${name}.crt`,
      "-days",
      "2",
      "-extfile",
      ext,
    );
  }
}

test(
  "TLS: gRPC (h2) and HTTPS (http/1.1) on one port, client certs required",
  { timeout: 30_000 },
  async (t) => {
    if (!hasOpenssl()) {
      t.skip("openssl not installed: cannot make test certificates");
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), "kvorum-tls-"));
    const { server, injector } = startGrpc();
    try {
      makeCerts(dir);
      const read = (f: string): Buffer => readFileSync(join(dir, f));
      const tlsOpts: ListenerTlsOptions = {
        cert: read("server.crt"),
        key: read("server.key"),
        ca: read("ca.crt"),
        clientCertAuth: true,
      };
      const listener = await listenClientUrl("https://127.0.0.1:0", {
        grpc: injector,
        http: hello,
        tls: tlsOpts,
      });
      try {
        const port = listener.port as number;
        const good = { ca: read("ca.crt"), cert: read("client.crt"), key: read("client.key") };
        assert.deepEqual(await httpGet(`https://127.0.0.1:${port}/s`, good), {
          status: 200,
          body: "hello /s",
        });
        // Offering both h2 and http/1.1 (like curl) must land on HTTP/1.1.
        assert.deepEqual(
          await httpGet(`https://127.0.0.1:${port}/alpn`, { ...good, ALPNProtocols: ["h2", "http/1.1"] }),
          {
            status: 200,
            body: "hello /alpn",
          },
        );
        const creds = grpc.credentials.createSsl(read("ca.crt"), read("client.key"), read("client.crt"));
        assert.equal(await callEcho(`127.0.0.1:${port}`, creds, "tls"), "echo:tls");
        // An HTTP/2 client that offers no ALPN at all still reaches gRPC.
        assert.equal(await rawGrpcEchoWithoutAlpn(port, good, "bare"), "echo:bare");
        // No client certificate: the handshake fails, the server stays up.
        await assert.rejects(httpGet(`https://127.0.0.1:${port}/nocert`, { ca: read("ca.crt") }));
        // Plain HTTP on the TLS port.
        await assert.rejects(httpGet(`http://127.0.0.1:${port}/plain`));
        assert.deepEqual(await httpGet(`https://127.0.0.1:${port}/after`, good), {
          status: 200,
          body: "hello /after",
        });
      } finally {
        await listener.close();
      }
    } finally {
      server.forceShutdown();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  "--auto-tls makes a self-signed certificate once and serves HTTPS with it",
  { timeout: 30_000 },
  async (t) => {
    if (!hasOpenssl()) {
      t.skip("openssl not installed: auto TLS cannot make a certificate");
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), "kvorum-autotls-"));
    const { server, injector } = startGrpc();
    try {
      const config = {
        certFile: "",
        keyFile: "",
        trustedCaFile: "",
        clientCertAuth: false,
        autoTls: true,
        dataDir: dir,
      };
      const first = loadClientTls(config, ["127.0.0.1"]);
      const again = loadClientTls(config, ["127.0.0.1"]);
      assert.deepEqual(again.cert, first.cert, "the certificate is reused");
      const listener = await listenClientUrl("https://127.0.0.1:0", {
        grpc: injector,
        http: hello,
        tls: first,
      });
      try {
        const got = await httpGet(`https://127.0.0.1:${listener.port}/auto`, { ca: first.cert });
        assert.deepEqual(got, { status: 200, body: "hello /auto" });
      } finally {
        await listener.close();
      }
      assert.throws(() => loadClientTls({ ...config, autoTls: false }, []), /--cert-file, --key-file/);
    } finally {
      server.forceShutdown();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  "localhost binds 127.0.0.1 as etcd does, so etcdctl's default endpoint reaches it",
  { timeout: 10_000 },
  async () => {
    const { server, injector } = startGrpc();
    const listener = await listenClientUrl("http://localhost:0", { grpc: injector, http: hello });
    try {
      assert.ok(listener.port !== undefined);
      assert.deepEqual(await httpGet(`http://127.0.0.1:${listener.port}/lo`), {
        status: 200,
        body: "hello /lo",
      });
    } finally {
      await listener.close();
      server.forceShutdown();
    }
  },
);

test(
  "a gRPC request whose :authority is a URL (etcdctl's per-endpoint calls) is served",
  { timeout: 10_000 },
  async () => {
    const { server, injector } = startGrpc();
    const listener = await listenClientUrl("http://127.0.0.1:0", { grpc: injector, http: hello });
    try {
      const target = `127.0.0.1:${listener.port}`;
      const reply = await callEcho(target, grpc.credentials.createInsecure(), "url", {
        "grpc.default_authority": `http://${target}`,
      });
      assert.equal(reply, "echo:url");
    } finally {
      await listener.close();
      server.forceShutdown();
    }
  },
);

test(
  "serveAfter: connections are accepted at once but answered only once it settles",
  { timeout: 20_000 },
  async () => {
    const { server, injector } = startGrpc();
    let open: () => void = () => {};
    const gate = new Promise<void>((resolve) => (open = resolve));
    const listener = await listenClientUrl("http://127.0.0.1:0", {
      grpc: injector,
      http: hello,
      serveAfter: gate,
    });
    try {
      const port = listener.port as number;
      let answered = false;
      const early = httpGet(`http://127.0.0.1:${port}/early`).then((r) => {
        answered = true;
        return r;
      });
      const earlyGrpc = callEcho(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), "early");
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(answered, false, "nothing is answered before the gate opens");
      open();
      assert.deepEqual(await early, { status: 200, body: "hello /early" });
      assert.equal(await earlyGrpc, "echo:early");
      assert.deepEqual(await httpGet(`http://127.0.0.1:${port}/later`), {
        status: 200,
        body: "hello /later",
      });
    } finally {
      await listener.close();
      server.forceShutdown();
    }
  },
);
