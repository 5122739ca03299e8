// Property test: the same settings given as command-line flags (either syntax; booleans always as
// --flag=bool since a Go bool flag never takes the next argument), as ETCD_* env vars, or as a YAML
// config file produce the same ServerConfig. Replay with KVORUM_SEED=<seed>.

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { stringify } from "yaml";
import { parseServerConfig } from "./server-config.js";
import { flagToEnv } from "./flag-table.js";

const seed = process.env.KVORUM_SEED !== undefined ? Number(process.env.KVORUM_SEED) : Date.now() % 2 ** 31;

const settings = fc.record({
  name: fc.stringMatching(/^[a-z][a-z0-9]{0,7}$/),
  "heartbeat-interval": fc.integer({ min: 1, max: 500 }),
  "election-extra": fc.integer({ min: 0, max: 5000 }),
  "snapshot-count": fc.integer({ min: 0, max: 1_000_000 }),
  "max-txn-ops": fc.integer({ min: 1, max: 10_000 }),
  "auto-tls": fc.boolean(),
  "client-cert-auth": fc.boolean(),
  port: fc.integer({ min: 1, max: 65535 }),
  "auto-compaction-retention": fc.oneof(
    fc.nat({ max: 48 }).map(String),
    fc.constantFrom("30m", "1h30m", "90s"),
  ),
});

type Settings = typeof settings extends fc.Arbitrary<infer T> ? T : never;

function flagValues(s: Settings): Record<string, string> {
  const peer = `http://10.0.0.1:${s.port}`;
  return {
    name: s.name,
    "heartbeat-interval": String(s["heartbeat-interval"]),
    "election-timeout": String(5 * s["heartbeat-interval"] + s["election-extra"]),
    "snapshot-count": String(s["snapshot-count"]),
    "max-txn-ops": String(s["max-txn-ops"]),
    "auto-tls": String(s["auto-tls"]),
    "client-cert-auth": String(s["client-cert-auth"]),
    "initial-advertise-peer-urls": peer,
    "initial-cluster": `${s.name}=${peer}`,
    "auto-compaction-retention": s["auto-compaction-retention"],
  };
}

test(`flags, env vars and config file agree (seed ${seed})`, () => {
  console.log(`sources-agree seed: ${seed} (replay with KVORUM_SEED=${seed})`);
  fc.assert(
    fc.property(settings, fc.boolean(), (s, equalsSyntax) => {
      const values = flagValues(s);
      const argv = Object.entries(values).flatMap(([k, v]) =>
        equalsSyntax || v === "true" || v === "false" ? [`--${k}=${v}`] : [`--${k}`, v],
      );
      const env = Object.fromEntries(Object.entries(values).map(([k, v]) => [flagToEnv(k), v]));
      const yamlDoc: Record<string, unknown> = {
        ...values,
        "auto-tls": undefined,
        "client-cert-auth": undefined,
      };
      yamlDoc["client-transport-security"] = {
        "auto-tls": s["auto-tls"],
        "client-cert-auth": s["client-cert-auth"],
      };
      const fromFlags = parseServerConfig(argv, {});
      const fromEnv = parseServerConfig([], env);
      const fromFile = parseServerConfig(["--config-file", "/x.yml"], {}, () => stringify(yamlDoc));
      assert.deepEqual(fromFlags.warnings, []);
      assert.deepEqual(fromEnv.warnings, []);
      assert.deepEqual(fromEnv.config, fromFlags.config);
      assert.deepEqual({ ...fromFile.config, configFile: "" }, fromFlags.config);
      assert.equal(fromFlags.config.dataDir, `${s.name}.kvorum`);
    }),
    { seed, numRuns: 200 },
  );
});
