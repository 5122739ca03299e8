// Which Raft implementation the simulator drives. "rawnode" is Kvorum's src/raft RawNode;
// "reference" is the small reference raft in this folder (to tell harness bugs from raft bugs).
// Until src/raft/raw-node.ts lands, "rawnode" falls back to the reference implementation.

import type { RaftBinding } from "./member.js";
import { referenceBinding } from "./reference-binding.js";

export const rawNodeBinding: RaftBinding = referenceBinding;

export const bindings: Record<string, RaftBinding> = {
  rawnode: rawNodeBinding,
  reference: referenceBinding,
};
