// One watcher on the member's watch hub, read as a sequence of event batches: the lock and
// election recipes wait on a key (or prefix) this way, as etcd's client does with a Watch call.
import { Errors } from "../../mvcc/errors.js";
import type { WatchCreateRequest, WatchResponse, WatchStream } from "../../mvcc/watch/index.js";
import type { MemberApi } from "../member-api.js";
import { abortReason } from "./errors.js";

export class SingleWatch {
  private readonly pending: WatchResponse[] = [];
  private wake: (() => void) | undefined;
  private readonly stream: WatchStream;
  private closed = false;

  constructor(member: MemberApi, req: WatchCreateRequest) {
    // The sink never reports "full": one watcher of a lock or election sees few events.
    this.stream = member.openWatchStream({
      send: (resp) => {
        this.pending.push(resp);
        this.wake?.();
        return true;
      },
    });
    this.stream.createWatch(req);
  }

  /**
   * The next response with events. undefined: the watch ended (canceled by the server). Throws
   * etcd's compaction error when the start revision was compacted, and the abort reason when
   * `signal` fires first.
   */
  async nextEvents(signal?: AbortSignal): Promise<WatchResponse | undefined> {
    for (;;) {
      const resp = this.pending.shift();
      if (resp === undefined) {
        if (this.closed) return undefined;
        await this.arrival(signal);
        continue;
      }
      if (resp.canceled) {
        this.close();
        if (resp.compactRevision > 0) throw Errors.compacted();
        return undefined;
      }
      if (resp.events.length > 0) return resp;
      // created and progress responses carry nothing the recipes need
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stream.close();
    this.wake?.();
  }

  private arrival(signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(abortReason(signal));
        return;
      }
      const onAbort = () => {
        this.wake = undefined;
        reject(abortReason(signal!));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.wake = () => {
        this.wake = undefined;
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
    });
  }
}
