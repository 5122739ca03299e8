// Which Raft implementation the simulator drives. "rawnode" is Kvorum's src/raft RawNode;
// "reference" is the small reference raft in this folder (to tell harness bugs from raft bugs).

import { decodeConfChange } from "../../src/raft/confchange.js";
import { RawNode } from "../../src/raft/raw-node.js";
import type { RaftBinding } from "./member.js";
import { referenceBinding } from "./reference-binding.js";

export const rawNodeBinding: RaftBinding = {
  createNode: (config) => new RawNode(config),
  decodeConfChange,
};

export const bindings: Record<string, RaftBinding> = {
  rawnode: rawNodeBinding,
  reference: referenceBinding,
};
