// Test helper: the config of one member of an in-process test cluster. The data dir is never
// touched (the tests start members with storage "memory"); timings are short so that elections
// settle in a test's time.
import { parseServerConfig, type ServerConfig } from "../config/server-config.js";

export interface TestMemberTiming {
  heartbeatMs: number;
  electionMs: number;
}

export function testMemberConfig(
  name: string,
  peer: string,
  cluster: string,
  timing: TestMemberTiming,
): ServerConfig {
  return parseServerConfig(
    [
      "--name",
      name,
      "--data-dir",
      `/nonexistent/${name}`,
      "--initial-cluster",
      cluster,
      "--initial-advertise-peer-urls",
      peer,
      "--heartbeat-interval",
      String(timing.heartbeatMs),
      "--election-timeout",
      String(timing.electionMs),
    ],
    {},
  ).config;
}
