// Helpers shared by the watch tests: a recording sink that can refuse (simulating a full
// buffer), byte helpers, and a hub wired to the in-memory source and manual scheduler.
import { WatchHub, type WatchHubOptions } from "./hub.js";
import { ManualScheduler } from "./manual-scheduler.js";
import { MemoryWatchSource } from "./memory-source.js";
import type { WatchStream } from "./stream.js";
import type { WatchResponse, WatchSink } from "./types.js";

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

/** Records every response; `full` makes send() report a full buffer (it still records). */
export class RecordingSink implements WatchSink {
  readonly responses: WatchResponse[] = [];
  full = false;
  send(resp: WatchResponse): boolean {
    this.responses.push(resp);
    return !this.full;
  }
  /** Responses with events, flattened to "TYPE key=value@rev" strings. */
  eventLines(watchId?: number): string[] {
    return this.responses
      .filter((r) => watchId === undefined || r.watchId === watchId)
      .flatMap((r) =>
        r.events.map(
          (e) => `${e.type === 0 ? "PUT" : "DEL"} ${dec(e.kv.key)}=${dec(e.kv.value)}@${e.kv.modRevision}`,
        ),
      );
  }
  take(): WatchResponse[] {
    return this.responses.splice(0);
  }
}

export interface Rig {
  source: MemoryWatchSource;
  scheduler: ManualScheduler;
  hub: WatchHub;
  sink: RecordingSink;
  stream: WatchStream;
}

export function rig(options: WatchHubOptions = {}): Rig {
  const source = new MemoryWatchSource();
  const scheduler = new ManualScheduler();
  const hub = new WatchHub(source, { scheduler, ...options });
  const sink = new RecordingSink();
  const stream = hub.openStream(sink);
  return { source, scheduler, hub, sink, stream };
}
