// Encodes raft messages for the peer protocol (src/proto/peer.proto) with protobufjs. A frame
// holds one Batch: the messages of one send() to one peer.
import { join } from "node:path";
import protobuf from "protobufjs";
import type { Entry, Message, Snapshot } from "../raft/index.js";
import { findPackageRoot } from "../proto/load.js";

interface WireEntry {
  term?: number;
  index?: number;
  type?: number;
  data?: Uint8Array;
}
interface WireSnapshot {
  metadata?: {
    index?: number;
    term?: number;
    conf_state?: { voters?: string[]; learners?: string[] };
  };
  data?: Uint8Array;
}
interface WireMessage {
  type?: number;
  to?: string;
  from?: string;
  term?: number;
  log_term?: number;
  index?: number;
  entries?: WireEntry[];
  commit?: number;
  snapshot?: WireSnapshot | null;
  reject?: boolean;
  reject_hint?: number;
  context?: Uint8Array;
}

let batchType: protobuf.Type | undefined;

function batch(): protobuf.Type {
  if (batchType !== undefined) return batchType;
  const root = new protobuf.Root();
  root.loadSync(join(findPackageRoot(), "src", "proto", "peer.proto"), { keepCase: true });
  root.resolveAll();
  batchType = root.lookupType("kvorum.peer.Batch");
  return batchType;
}

const EMPTY = new Uint8Array(0);

/** protobufjs leaves an absent bytes field as a shared empty array, not a Uint8Array. */
function bytes(v: unknown): Uint8Array {
  return v instanceof Uint8Array ? v : EMPTY;
}

/** Turns a uint64 decoded by protobufjs (a number, or a Long when the long package is present) into a number. */
function num(v: unknown): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === "number") return v;
  return Number(v.toString());
}

function toWireSnapshot(s: Snapshot): WireSnapshot {
  return {
    metadata: {
      index: s.metadata.index,
      term: s.metadata.term,
      conf_state: { voters: s.metadata.confState.voters, learners: s.metadata.confState.learners },
    },
    data: s.data,
  };
}

function toWire(m: Message): WireMessage {
  const w: WireMessage = {
    type: m.type,
    to: m.to,
    from: m.from,
    term: m.term,
    log_term: m.logTerm,
    index: m.index,
    commit: m.commit,
    reject: m.reject,
    reject_hint: m.rejectHint,
  };
  if (m.entries.length > 0) w.entries = m.entries;
  if (m.context.length > 0) w.context = m.context;
  if (m.snapshot !== undefined) w.snapshot = toWireSnapshot(m.snapshot);
  return w;
}

function fromWireEntry(e: WireEntry): Entry {
  return { term: num(e.term), index: num(e.index), type: e.type ?? 0, data: bytes(e.data) };
}

function fromWire(w: WireMessage): Message {
  const m: Message = {
    type: w.type ?? 0,
    to: w.to ?? "",
    from: w.from ?? "",
    term: num(w.term),
    logTerm: num(w.log_term),
    index: num(w.index),
    entries: (w.entries ?? []).map(fromWireEntry),
    commit: num(w.commit),
    reject: w.reject ?? false,
    rejectHint: num(w.reject_hint),
    context: bytes(w.context),
  };
  if (w.snapshot !== undefined && w.snapshot !== null) {
    const md = w.snapshot.metadata ?? {};
    m.snapshot = {
      metadata: {
        index: num(md.index),
        term: num(md.term),
        confState: { voters: md.conf_state?.voters ?? [], learners: md.conf_state?.learners ?? [] },
      },
      data: bytes(w.snapshot.data),
    };
  }
  return m;
}

export function encodeMessages(messages: readonly Message[]): Uint8Array {
  // The wire shapes are plain objects protobufjs encodes directly (no fromObject conversion needed).
  return batch()
    .encode({ messages: messages.map(toWire) } as unknown as protobuf.Message)
    .finish();
}

/** Throws on bytes that are not a Batch (the caller drops the connection). */
export function decodeMessages(bytes: Uint8Array): Message[] {
  const decoded = batch().decode(bytes) as unknown as { messages?: WireMessage[] };
  return (decoded.messages ?? []).map(fromWire);
}
