import assert from "node:assert/strict";
import { test } from "node:test";
import { parseServerConfig } from "../config/server-config.js";
import { createLogger, createServerLogger } from "./logger.js";

function capture(): { lines: Record<string, unknown>[]; stream: { write(s: string): void } } {
  const lines: Record<string, unknown>[] = [];
  return { lines, stream: { write: (s: string) => lines.push(JSON.parse(s) as Record<string, unknown>) } };
}

test("zap-shaped JSON lines: level, ts, msg and fields", () => {
  const { lines, stream } = capture();
  const log = createLogger({ destination: stream });
  log.info({ "data-dir": "x.kvorum" }, "starting");
  assert.equal(lines.length, 1);
  const line = lines[0] as Record<string, unknown>;
  assert.deepEqual(Object.keys(line).slice(0, 2), ["level", "ts"]);
  assert.equal(line["level"], "info");
  assert.match(String(line["ts"]), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(line["msg"], "starting");
  assert.equal(line["data-dir"], "x.kvorum");
  assert.equal(line["pid"], undefined);
});

test("--log-level filters; panic sits between error and fatal", () => {
  const { lines, stream } = capture();
  const log = createLogger({ level: "warn", destination: stream });
  log.debug({}, "d");
  log.info({}, "i");
  log.warn({}, "w");
  log.error({}, "e");
  assert.deepEqual(
    lines.map((l) => l["level"]),
    ["warn", "error"],
  );
  const { lines: l2, stream: s2 } = capture();
  const panicOnly = createLogger({ level: "panic", destination: s2 });
  panicOnly.error({}, "e");
  panicOnly.panic({}, "p");
  panicOnly.fatal({}, "f");
  assert.deepEqual(
    l2.map((l) => l["level"]),
    ["panic", "fatal"],
  );
});

test("--logger=capnslog is accepted with a warning", () => {
  const { lines, stream } = capture();
  createLogger({ logger: "capnslog", destination: stream });
  assert.equal(lines.length, 1);
  assert.equal(lines[0]?.["level"], "warn");
  assert.match(String(lines[0]?.["msg"]), /capnslog/);
});

test("a start that leaves --logger at its default logs no warning; asking for capnslog does", () => {
  const warningsFor = (argv: string[], env: Record<string, string> = {}, file = ""): string[] => {
    const { config } = parseServerConfig(argv, env, () => file);
    const { lines, stream } = capture();
    createServerLogger(config, stream);
    return lines.filter((l) => l["level"] === "warn").map((l) => String(l["msg"]));
  };
  assert.deepEqual(warningsFor([]), []);
  assert.deepEqual(warningsFor(["--logger", "zap"]), []);
  assert.deepEqual(warningsFor([], { ETCD_LOGGER: "zap" }), []);
  const capnslog = ["--logger=capnslog is not supported; logging etcd's zap JSON format instead"];
  assert.deepEqual(warningsFor(["--logger", "capnslog"]), capnslog);
  assert.deepEqual(warningsFor(["--logger=capnslog"]), capnslog);
  assert.deepEqual(warningsFor([], { ETCD_LOGGER: "capnslog" }), capnslog);
  assert.deepEqual(warningsFor(["--config-file", "c.yml"], {}, "logger: capnslog\n"), capnslog);
  assert.deepEqual(warningsFor(["--config-file", "c.yml"], {}, "name: x\n"), []);
});
