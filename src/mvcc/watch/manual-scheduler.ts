// An in-memory WatchScheduler for tests and simulations: deferred tasks run only when the test
// says so, and time moves only through advance().
import type { WatchScheduler } from "./scheduler.js";

interface Periodic {
  intervalMs: number;
  nextAt: number;
  task: () => void;
  stopped: boolean;
}

export class ManualScheduler implements WatchScheduler {
  private queue: Array<() => void> = [];
  private readonly periodics: Periodic[] = [];
  private nowMs = 0;

  get now(): number {
    return this.nowMs;
  }

  get pending(): number {
    return this.queue.length;
  }

  defer(task: () => void): void {
    this.queue.push(task);
  }

  every(intervalMs: number, task: () => void): () => void {
    const p: Periodic = { intervalMs, nextAt: this.nowMs + intervalMs, task, stopped: false };
    this.periodics.push(p);
    return () => {
      p.stopped = true;
    };
  }

  /** Runs the deferred tasks queued so far (not those they queue). Returns how many ran. */
  runOnce(): number {
    const batch = this.queue;
    this.queue = [];
    for (const task of batch) task();
    return batch.length;
  }

  /** Runs deferred tasks until none are left (throws after `limit` rounds: a livelock). */
  runAll(limit = 100_000): void {
    for (let i = 0; this.queue.length > 0; i++) {
      if (i >= limit) throw new Error(`ManualScheduler: deferred work still pending after ${limit} rounds`);
      this.runOnce();
    }
  }

  /** Moves time forward, firing due periodic tasks in time order. */
  advance(ms: number): void {
    const target = this.nowMs + ms;
    while (true) {
      const due = this.periodics
        .filter((p) => !p.stopped && p.nextAt <= target)
        .sort((a, b) => a.nextAt - b.nextAt)[0];
      if (!due) break;
      this.nowMs = due.nextAt;
      due.nextAt += due.intervalMs;
      due.task();
    }
    this.nowMs = target;
  }
}
