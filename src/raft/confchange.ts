// Binary encoding of a ConfChange as stored in EntryType.ConfChange entries:
//   u8 version (1) | u8 type | u16 nodeId byte length | nodeId (UTF-8) | u32 context length | context
// Big-endian lengths. Decoding rejects anything malformed rather than guessing.

import { RaftError } from "./errors.js";
import { ConfChangeType, type ConfChange } from "./types.js";

const VERSION = 1;
const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

export function encodeConfChange(cc: ConfChange): Uint8Array {
  const id = utf8.encode(cc.nodeId);
  if (id.length > 0xffff) throw new RaftError("raft: conf change node id too long");
  const out = new Uint8Array(1 + 1 + 2 + id.length + 4 + cc.context.length);
  const view = new DataView(out.buffer);
  out[0] = VERSION;
  out[1] = cc.type;
  view.setUint16(2, id.length);
  out.set(id, 4);
  view.setUint32(4 + id.length, cc.context.length);
  out.set(cc.context, 8 + id.length);
  return out;
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  const bad = (why: string): never => {
    throw new RaftError(`raft: malformed conf change: ${why}`);
  };
  if (data.length < 8) bad("too short");
  if (data[0] !== VERSION) bad(`unknown version ${data[0]}`);
  const type = data[1]!;
  if (!(type in ConfChangeType)) bad(`unknown type ${type}`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const idLen = view.getUint16(2);
  if (4 + idLen + 4 > data.length) bad("node id overruns the data");
  const nodeId = utf8Decoder.decode(data.subarray(4, 4 + idLen));
  const ctxLen = view.getUint32(4 + idLen);
  if (8 + idLen + ctxLen !== data.length) bad("context length does not match");
  const context = data.slice(8 + idLen);
  return { type: type as ConfChangeType, nodeId, context };
}
