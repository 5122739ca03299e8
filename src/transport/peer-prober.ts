// Measures the round trip to every peer the way etcd's rafthttp prober feeds
// etcd_network_peer_round_trip_time_seconds: a small GET of PROBING_PATH on the peer port, the
// first report 5 s after start and then every 30 s per peer. A peer that does not answer is not
// reported (etcd then logs it as unhealthy and reports nothing new either).
import type http2 from "node:http2";
import type { NodeId } from "../raft/index.js";
import { connectPeer } from "./dial.js";
import type { PeerClientTls } from "./protocol.js";

/** etcd's ProbingPrefix; the peer answers it with its clock. */
export const PROBING_PATH = "/raft/probing";
/** etcd's statusErrorInterval (first report) and statusMonitoringInterval (later ones). */
export const FIRST_PROBE_MS = 5_000;
export const PROBE_INTERVAL_MS = 30_000;
const PROBE_TIMEOUT_MS = 5_000;

export interface PeerProberOptions {
  self: NodeId;
  /** Current peers: member ID -> peer URLs (this member included; it is skipped). */
  peers: () => ReadonlyMap<NodeId, readonly string[]>;
  tls?: PeerClientTls;
  /** Told each measured round trip, in seconds. */
  report: (peer: NodeId, seconds: number) => void;
  firstProbeMs?: number;
  intervalMs?: number;
}

/** The body the probing route answers (etcd answers {"Now": <time>}). */
export function probingAnswer(): { Now: string } {
  return { Now: new Date().toISOString() };
}

export class PeerProber {
  private readonly sessions = new Map<string, http2.ClientHttp2Session>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly opts: PeerProberOptions) {
    this.schedule(opts.firstProbeMs ?? FIRST_PROBE_MS);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    for (const s of this.sessions.values()) s.destroy();
    this.sessions.clear();
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.round(), ms);
    this.timer.unref();
  }

  private async round(): Promise<void> {
    const probes: Promise<void>[] = [];
    for (const [peer, urls] of this.opts.peers()) {
      const url = urls[0];
      if (peer === this.opts.self || url === undefined) continue;
      probes.push(
        this.probe(url).then(
          (seconds) => {
            if (!this.stopped) this.opts.report(peer, seconds);
          },
          () => {},
        ),
      );
    }
    await Promise.all(probes);
    this.schedule(this.opts.intervalMs ?? PROBE_INTERVAL_MS);
  }

  private probe(url: string): Promise<number> {
    const session = this.session(url);
    const start = performance.now();
    return new Promise<number>((resolve, reject) => {
      const stream = session.request({ ":method": "GET", ":path": PROBING_PATH });
      const timer = setTimeout(() => {
        stream.destroy();
        reject(new Error("probe timed out"));
      }, PROBE_TIMEOUT_MS);
      stream.on("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      stream.on("data", () => {});
      stream.on("end", () => {
        clearTimeout(timer);
        resolve((performance.now() - start) / 1000);
      });
      stream.end();
    });
  }

  private session(url: string): http2.ClientHttp2Session {
    const cached = this.sessions.get(url);
    if (cached !== undefined && !cached.closed && !cached.destroyed) return cached;
    const session = connectPeer(url, this.opts.tls);
    const forget = () => {
      if (this.sessions.get(url) === session) this.sessions.delete(url);
    };
    session.on("error", forget);
    session.on("close", forget);
    session.on("goaway", forget);
    session.unref();
    this.sessions.set(url, session);
    return session;
  }
}
