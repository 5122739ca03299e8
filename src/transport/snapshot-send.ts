// Sends one snapshot message with its data to a peer: POST /raft/snapshot on a connection of its
// own, body = one frame holding the message, then the data as it is read (with backpressure).
// Resolves with the bytes sent once the peer answers 200 (it has stored the data and handed the
// message to raft); rejects with the peer's reason otherwise.
import type { Message, NodeId } from "../raft/index.js";
import { connectPeer } from "./dial.js";
import { frame } from "./frames.js";
import { encodeMessages } from "./message-codec.js";
import { PEER_HEADERS, RAFT_SNAPSHOT_PATH, type PeerClientTls } from "./protocol.js";
import type { SnapshotData } from "./types.js";

export interface SnapshotSendOptions {
  self: NodeId;
  clusterId: bigint;
  tls?: PeerClientTls;
}

export async function sendSnapshotOverHttp2(
  url: string,
  m: Message,
  open: () => Promise<SnapshotData>,
  opts: SnapshotSendOptions,
): Promise<number> {
  const data = await open();
  const session = connectPeer(url, opts.tls);
  let sent = 0;
  try {
    return await new Promise<number>((resolve, reject) => {
      session.on("error", (err: Error) => reject(new Error(`${url}: ${err.message}`)));
      const stream = session.request({
        ":method": "POST",
        ":path": RAFT_SNAPSHOT_PATH,
        "content-type": "application/octet-stream",
        [PEER_HEADERS.clusterId]: opts.clusterId.toString(16),
        [PEER_HEADERS.from]: opts.self,
        [PEER_HEADERS.to]: m.to,
      });
      let status = 0;
      let answer = "";
      stream.setEncoding("utf8");
      stream.on("response", (h) => (status = Number(h[":status"])));
      stream.on("data", (c: string) => (answer += c));
      stream.on("error", (err: Error) => reject(new Error(`${url}: ${err.message}`)));
      stream.on("close", () => {
        if (status === 200) resolve(sent);
        else reject(new Error(`${url} refused the snapshot (${status}): ${answer.trim()}`));
      });
      const pump = async () => {
        const write = (buf: Uint8Array) =>
          stream.write(buf) ? Promise.resolve() : new Promise<void>((r) => stream.once("drain", () => r()));
        await write(frame(encodeMessages([{ ...m, snapshot: m.snapshot }])));
        for await (const chunk of data.chunks) {
          if (stream.destroyed) throw new Error("snapshot stream closed by the peer");
          await write(chunk);
          sent += chunk.length;
        }
        stream.end();
      };
      pump().catch((err: unknown) => {
        stream.destroy();
        reject(err instanceof Error ? err : new Error(String(err)));
      });
    });
  } finally {
    await data.discard().catch(() => {});
    session.close();
  }
}
