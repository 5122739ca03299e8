// The stale-reads switch is off unless KVORUM_UNSAFE_STALE_READS is exactly "1"; any other value
// stops the server from starting instead of being read as on or off.
import { test } from "node:test";
import assert from "node:assert/strict";
import { unsafeStaleReadsFromEnv } from "./kvorum.js";

test("KVORUM_UNSAFE_STALE_READS: on only for exactly 1, refused for anything else", () => {
  assert.equal(unsafeStaleReadsFromEnv({}), false);
  assert.equal(unsafeStaleReadsFromEnv({ KVORUM_UNSAFE_STALE_READS: "" }), false);
  assert.equal(unsafeStaleReadsFromEnv({ KVORUM_UNSAFE_STALE_READS: "1" }), true);
  for (const v of ["true", "yes", "0", " 1"]) {
    assert.throws(
      () => unsafeStaleReadsFromEnv({ KVORUM_UNSAFE_STALE_READS: v }),
      /is refused: it turns off linearizable reads/,
    );
  }
});
