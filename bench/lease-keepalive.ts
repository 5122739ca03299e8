// Benchmark: keep-alives per second on the leader's lessor (renew = re-arm the lease's deadline in
// the expiry heap), plus the cost of a promote() over the whole table and of expiry scans.
// Run: node --import tsx bench/lease-keepalive.ts [leases=100000] [renewals=2000000]

import { MemoryLeaseStore } from "../src/lease/lease-store.js";
import { Lessor } from "../src/lease/lessor.js";
import { ManualClock } from "../src/lease/clock.js";

const leaseCount = Number(process.argv[2] ?? 100_000);
const renewals = Number(process.argv[3] ?? 2_000_000);

const clock = new ManualClock(0);
const lessor = new Lessor({ store: new MemoryLeaseStore(), clock });

let t = performance.now();
for (let i = 1; i <= leaseCount; i++) lessor.grant(BigInt(i), 60);
const grantMs = performance.now() - t;

// A leader change re-arms every lease: time five of them, report the median.
const promoteRuns: number[] = [];
for (let i = 0; i < 5; i++) {
  lessor.demote();
  t = performance.now();
  lessor.promote(1_000);
  promoteRuns.push(performance.now() - t);
}
const promoteMs = promoteRuns.sort((a, b) => a - b)[2]!;

// Renew leases in a scattered order, moving the clock so each renewal really moves its heap entry.
const ids = Array.from({ length: leaseCount }, (_, i) => BigInt(((i * 7919) % leaseCount) + 1));
t = performance.now();
for (let i = 0; i < renewals; i++) {
  if (i % 1000 === 0) clock.advance(1);
  lessor.renew(ids[i % leaseCount]!);
}
const renewMs = performance.now() - t;

clock.advance(61_000);
t = performance.now();
let expired = 0;
for (let batch = lessor.expired(); batch.length > 0; batch = lessor.expired()) expired += batch.length;
const expireMs = performance.now() - t;

const rate = (n: number, ms: number) => Math.round((n / ms) * 1000).toLocaleString("en");
console.log(`leases ${leaseCount.toLocaleString("en")}`);
console.log(`grant:      ${rate(leaseCount, grantMs)}/s`);
console.log(`promote:    ${promoteMs.toFixed(1)} ms for the whole table (median of 5)`);
console.log(`keep-alive: ${rate(renewals, renewMs)}/s (${renewals.toLocaleString("en")} renewals)`);
console.log(`expired():  ${rate(expired, expireMs)} leases/s signalled (${expired.toLocaleString("en")})`);
