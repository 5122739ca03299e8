// Length-prefixed frames on a byte stream: a 4-byte big-endian length, then that many bytes.
// FrameReader reassembles frames from arbitrary chunks and refuses one above its size limit
// before buffering it, so a peer cannot make this member hold an unbounded frame.
import { ByteQueue } from "../common/byte-queue.js";

export class FrameTooLargeError extends Error {
  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super(`peer frame of ${size} bytes exceeds the limit of ${limit} bytes`);
    this.name = "FrameTooLargeError";
  }
}

export function frame(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(4 + payload.length);
  out.writeUInt32BE(payload.length, 0);
  out.set(payload, 4);
  return out;
}

export class FrameReader {
  private readonly queue = new ByteQueue();

  constructor(private readonly maxFrameBytes: number) {}

  /** Adds a chunk and returns the frames it completes (payloads only). */
  push(chunk: Buffer): Buffer[] {
    this.queue.push(chunk);
    const out: Buffer[] = [];
    while (this.queue.length >= 4) {
      const size = this.queue.peek(4).readUInt32BE(0);
      if (size > this.maxFrameBytes) throw new FrameTooLargeError(size, this.maxFrameBytes);
      if (this.queue.length < 4 + size) break;
      out.push(this.queue.take(4 + size).subarray(4));
    }
    return out;
  }
}
