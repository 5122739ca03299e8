// --max-concurrent-streams: etcd's default (math.MaxUint32), Go's uint32 flag syntax, etcd's error
// texts (observed with etcd 3.4.23 on this machine), and the env var.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError, parseServerConfig } from "./server-config.js";
import { findFlag } from "./flag-table.js";

const parse = (argv: string[], env: Record<string, string> = {}) => parseServerConfig(argv, env, () => "");

test("defaults to math.MaxUint32 and is a supported flag", () => {
  assert.equal(parse([]).config.maxConcurrentStreams, 4294967295);
  assert.equal(findFlag("max-concurrent-streams")?.supported, true);
  assert.deepEqual(parse([]).warnings, []);
});

test("takes decimal and Go's prefixed forms, from a flag or ETCD_MAX_CONCURRENT_STREAMS", () => {
  assert.equal(parse(["--max-concurrent-streams", "3"]).config.maxConcurrentStreams, 3);
  assert.equal(parse(["--max-concurrent-streams=0x10"]).config.maxConcurrentStreams, 16);
  assert.equal(parse(["--max-concurrent-streams=010"]).config.maxConcurrentStreams, 8);
  assert.equal(parse(["--max-concurrent-streams=0"]).config.maxConcurrentStreams, 0);
  assert.equal(parse([], { ETCD_MAX_CONCURRENT_STREAMS: "7" }).config.maxConcurrentStreams, 7);
});

test("is read from a config file as etcd's max-concurrent-streams key", () => {
  const { config } = parseServerConfig(
    ["--config-file", "etcd.yml"],
    {},
    () => "max-concurrent-streams: 5\n",
  );
  assert.equal(config.maxConcurrentStreams, 5);
});

test("refuses what etcd refuses, with strconv's reason", () => {
  const cases: Array<[string[], Record<string, string>, string]> = [
    [
      ["--max-concurrent-streams", "abc"],
      {},
      'invalid value "abc" for flag --max-concurrent-streams: strconv.ParseUint: parsing "abc": invalid syntax',
    ],
    [
      ["--max-concurrent-streams", "99999999999"],
      {},
      'invalid value "99999999999" for flag --max-concurrent-streams: strconv.ParseUint: parsing "99999999999": value out of range',
    ],
    [
      [],
      { ETCD_MAX_CONCURRENT_STREAMS: "x" },
      'invalid value "x" for ETCD_MAX_CONCURRENT_STREAMS: strconv.ParseUint: parsing "x": invalid syntax',
    ],
  ];
  for (const [argv, env, message] of cases) {
    assert.throws(
      () => parse(argv, env),
      (err: unknown) => err instanceof ConfigError && err.message === message,
      message,
    );
  }
});
