// The timer port of the watch layer: deferred work and periodic ticks. The real one uses Node's
// setImmediate/setInterval; tests use ManualScheduler (manual-scheduler.ts).

export interface WatchScheduler {
  /** Runs `task` soon, after the current call stack and pending I/O (never synchronously). */
  defer(task: () => void): void;
  /** Runs `task` every `intervalMs`; returns the function that stops it. */
  every(intervalMs: number, task: () => void): () => void;
}

export const realScheduler: WatchScheduler = {
  defer(task) {
    setImmediate(task);
  },
  every(intervalMs, task) {
    const timer = setInterval(task, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  },
};
