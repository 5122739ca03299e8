// Public surface of the peer transport: the ports, the in-memory twins and the HTTP/2 transport.
export type { PeerCaller, PeerRpcHandler, PeerSink, RaftTransport } from "./types.js";
export { NoPeerTransport, InMemoryTransportHub } from "./memory.js";
export { PeerTransport, type PeerTransportOptions } from "./peer-transport.js";
export {
  createPeerHandler,
  type PeerHandler,
  listenPeerUrl,
  type PeerListener,
  type PeerServerOptions,
} from "./peer-server.js";
export * from "./protocol.js";
export { encodeMessages, decodeMessages } from "./message-codec.js";
export { FrameReader, FrameTooLargeError, frame } from "./frames.js";
export { loadPeerTls, type PeerTls, type PeerTlsConfig } from "./tls.js";
export { PeerFaults, faultsFromEnv, setPeerFaults, FAULTS_PATH, FAULT_INJECTION_ENV } from "./faults.js";
export { connectPeer, dialPeer } from "./dial.js";
export {
  PeerRpcClient,
  PeerRpcError,
  PeerUnreachableError,
  RPC_PATH_PREFIX,
  fetchPeerJson,
} from "./peer-rpc.js";
