// The member's network port for raft messages lives in src/transport; re-exported here for the
// server's own modules and tests.
export { NoPeerTransport, InMemoryTransportHub } from "../transport/memory.js";
export { PeerRpcError } from "../transport/peer-rpc.js";
export type { PeerCaller, PeerSink, RaftTransport } from "../transport/types.js";
