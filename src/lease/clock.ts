// The lessor's notion of time: a port with a monotonic system implementation and a manual twin for
// tests and the simulator. Only the leader's own clock matters (followers never expire leases), so a
// monotonic clock is the right choice: wall-clock jumps must not expire or extend leases.

import { performance } from "node:perf_hooks";

export interface Clock {
  /** Milliseconds on a clock that never goes backwards; only differences are meaningful. */
  now(): number;
}

/** Monotonic process clock (performance.now), immune to wall-clock adjustments. */
export const systemClock: Clock = { now: () => performance.now() };

/** A clock that moves only when told to. */
export class ManualClock implements Clock {
  constructor(private ms = 0) {}

  now(): number {
    return this.ms;
  }

  advance(ms: number): void {
    if (ms < 0) throw new RangeError("a clock never goes backwards");
    this.ms += ms;
  }
}
