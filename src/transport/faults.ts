// Test-only fault injection on the peer transport: drop what this member sends to some peers
// and what it receives from some peers, as a network partition would (one-way or both ways).
// Off unless the process was started with KVORUM_FAULT_INJECTION=1; then the peer listener
// accepts PUT /test/faults with {"dropTo": [member IDs in hex], "dropFrom": [...]} (empty lists
// heal). The chaos harness and the cluster tests use it; production members never enable it.
import type { NodeId } from "../raft/index.js";
import { connectPeer } from "./dial.js";

export const FAULTS_PATH = "/test/faults";
export const FAULT_INJECTION_ENV = "KVORUM_FAULT_INJECTION";

export class PeerFaults {
  dropTo = new Set<NodeId>();
  dropFrom = new Set<NodeId>();
  droppedOut = 0;
  droppedIn = 0;

  /** Applies a PUT /test/faults body; throws on anything else. */
  apply(body: unknown): void {
    const ids = (v: unknown, field: string): Set<NodeId> => {
      if (v === undefined) return new Set();
      if (!Array.isArray(v) || v.some((x) => typeof x !== "string" || !/^[0-9a-f]+$/.test(x))) {
        throw new Error(`${field} must be a list of member IDs in hex`);
      }
      return new Set(v as string[]);
    };
    if (body === null || typeof body !== "object") throw new Error("body must be a JSON object");
    const b = body as { dropTo?: unknown; dropFrom?: unknown };
    const to = ids(b.dropTo, "dropTo");
    const from = ids(b.dropFrom, "dropFrom");
    this.dropTo = to;
    this.dropFrom = from;
  }

  state(): { dropTo: string[]; dropFrom: string[]; droppedOut: number; droppedIn: number } {
    return {
      dropTo: [...this.dropTo],
      dropFrom: [...this.dropFrom],
      droppedOut: this.droppedOut,
      droppedIn: this.droppedIn,
    };
  }
}

/** The faults object when the environment enables fault injection, else undefined. */
export function faultsFromEnv(env: Record<string, string | undefined>): PeerFaults | undefined {
  return env[FAULT_INJECTION_ENV] === "1" ? new PeerFaults() : undefined;
}

/**
 * Sets the drop lists of a member started with KVORUM_FAULT_INJECTION=1 (empty lists heal).
 * Rejects when the member does not answer 200 within timeoutMs.
 */
export async function setPeerFaults(
  peerUrl: string,
  faults: { dropTo?: string[]; dropFrom?: string[] },
  timeoutMs = 2000,
): Promise<void> {
  const session = connectPeer(peerUrl, undefined);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${peerUrl}${FAULTS_PATH}: no answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const fail = (err: Error) => {
        clearTimeout(timer);
        reject(err);
      };
      session.on("error", fail);
      const stream = session.request({ ":method": "PUT", ":path": FAULTS_PATH });
      let status = 0;
      let body = "";
      stream.on("response", (h) => (status = Number(h[":status"])));
      stream.setEncoding("utf8");
      stream.on("data", (c: string) => (body += c));
      stream.on("error", fail);
      stream.on("end", () => {
        clearTimeout(timer);
        if (status === 200) resolve();
        else reject(new Error(`${peerUrl}${FAULTS_PATH}: ${status} ${body}`));
      });
      stream.end(JSON.stringify(faults));
    });
  } finally {
    session.destroy();
  }
}
