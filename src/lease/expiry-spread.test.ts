// Tests of expiry spreading at promotion: below the revoke rate nothing moves; a pile-up is spread
// to at most 750 expiries per second, only ever later, keeping order; and the lessor applies it.

import assert from "node:assert/strict";
import { test } from "node:test";
import { spreadExpiries } from "./expiry-spread.js";
import { manualLessor } from "./test-helpers.js";

test("fewer leases than the revoke rate: nothing moves", () => {
  const leases = Array.from({ length: 999 }, (_, i) => ({ id: i, expiry: 5_000 }));
  assert.equal(spreadExpiries(leases), 0);
  assert.ok(leases.every((l) => l.expiry === 5_000));
});

test("a pile-up of 1500 leases is spread over 2 s, no window over 750/s, only later", () => {
  const leases = Array.from({ length: 1500 }, (_, i) => ({ id: i, expiry: 10_000 }));
  assert.equal(spreadExpiries(leases), 1499, "all but the first move");
  assert.deepEqual(
    leases.map((l) => l.id),
    Array.from({ length: 1500 }, (_, i) => i),
    "the caller's array keeps its order",
  );
  const expiries = leases.map((l) => l.expiry).sort((a, b) => a - b);
  assert.ok(expiries.every((e) => e >= 10_000));
  assert.ok(expiries[expiries.length - 1]! < 12_000);
  for (let i = 750; i < expiries.length; i++) {
    assert.ok(expiries[i]! - expiries[i - 750]! >= 1_000 - 1e-6, `window at ${i} holds over 750`);
  }
});

test("sparse leases among many keep their expiry", () => {
  const leases = Array.from({ length: 1000 }, (_, i) => ({ id: i, expiry: i * 10 }));
  assert.equal(spreadExpiries(leases), 0);
});

test("promote spreads a pile-up in the lessor", () => {
  const { lessor, clock } = manualLessor();
  for (let i = 1n; i <= 1000n; i++) lessor.grant(i, 10);
  lessor.promote(0);
  clock.advance(10_000);
  assert.equal(lessor.expired(10_000).length, 1, "only the first is due exactly at TTL");
  clock.advance(1_000);
  assert.equal(lessor.expired(10_000).length, 750, "750 per second after it");
});
