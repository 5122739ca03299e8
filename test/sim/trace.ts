// One-line, human-readable renderings of raft messages and entries for the replay trace.

import { MessageType, type Message } from "../../src/raft/types.js";

export function describeMessage(m: Message): string {
  const parts = [`${MessageType[m.type] ?? m.type} ${m.from}->${m.to} t${m.term}`];
  if (m.type === MessageType.App || m.type === MessageType.Vote || m.type === MessageType.PreVote) {
    parts.push(`log=${m.logTerm}/${m.index}`);
  } else if (m.index !== 0) {
    parts.push(`idx=${m.index}`);
  }
  if (m.entries.length > 0) {
    const first = m.entries[0]!;
    const last = m.entries[m.entries.length - 1]!;
    parts.push(
      `ents=${first.index}..${last.index}@${first.term}${last.term !== first.term ? `-${last.term}` : ""}`,
    );
  }
  if (m.commit !== 0) parts.push(`commit=${m.commit}`);
  if (m.reject) parts.push(`reject hint=${m.rejectHint}`);
  if (m.snapshot !== undefined) parts.push(`snap=${m.snapshot.metadata.term}/${m.snapshot.metadata.index}`);
  return parts.join(" ");
}
