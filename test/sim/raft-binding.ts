// How the simulator creates Raft members: Kvorum's RawNode and its conf-change decoder.

import { decodeConfChange } from "../../src/raft/confchange.js";
import { RawNode } from "../../src/raft/raw-node.js";
import type { RaftBinding } from "./member.js";

export const rawNodeBinding: RaftBinding = {
  createNode: (config) => new RawNode(config),
  decodeConfChange,
};
