// Public entry point of the Raft core: the RawNode driver, the ConfChange codec, and the contract
// types and errors, so other modules import from one place.

export { RawNode } from "./raw-node.js";
export { encodeConfChange, decodeConfChange } from "./confchange.js";
export type {
  RaftConfig,
  RaftNodeApi,
  RaftStatus,
  ProgressStatus,
  RaftLogger,
  ReadOnlyOption,
  UnsafeRuleBreak,
} from "./api.js";
export * from "./types.js";
export * from "./errors.js";
