// Binds the simulator to the small reference raft in this folder (used to test the harness and
// to tell harness bugs from RawNode bugs: `--raft reference`).

import type { RaftBinding } from "./member.js";
import { ReferenceRaft, decodeRefConfChange } from "./reference-raft.js";

export const referenceBinding: RaftBinding = {
  createNode: (config) => new ReferenceRaft(config),
  decodeConfChange: decodeRefConfChange,
};
