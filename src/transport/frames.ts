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

  /** The size limit may be changed between frames (a small hello, then messages). */
  constructor(public maxFrameBytes: number) {}

  /** Adds a chunk and returns the frames it completes (payloads only). */
  push(chunk: Buffer): Buffer[] {
    this.add(chunk);
    const out: Buffer[] = [];
    for (let f = this.next(); f !== undefined; f = this.next()) out.push(f);
    return out;
  }

  /** Adds a chunk without taking frames out (see next). */
  add(chunk: Buffer): void {
    this.queue.push(chunk);
  }

  /** The next complete frame's payload, if one has arrived. */
  next(): Buffer | undefined {
    if (this.queue.length < 4) return undefined;
    const size = this.queue.peek(4).readUInt32BE(0);
    if (size > this.maxFrameBytes) throw new FrameTooLargeError(size, this.maxFrameBytes);
    if (this.queue.length < 4 + size) return undefined;
    return this.queue.take(4 + size).subarray(4);
  }
}
