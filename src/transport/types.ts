// The ports between the member (src/server) and the network to its peers. The member hands every
// Ready's messages to send() once the Ready is durable; the transport delivers them to peers and
// calls the sink for what arrives. Delivery is best effort, as raft expects: a message may be
// lost (raft retransmits), but never altered, and messages on one link arrive in order.
import type { Message, NodeId } from "../raft/index.js";

/** What a transport reports to its member. */
export interface PeerSink {
  /** A raft message from a peer. */
  receive(m: Message): void;
  /** Messages to this peer were dropped (not connected, or its queue is full). */
  unreachable(node: NodeId): void;
}

export interface RaftTransport {
  /** Queue messages for delivery; never blocks or throws for an unreachable peer. */
  send(messages: readonly Message[]): void;
  /** The peers to reach and their URLs (membership changed). Optional for single-member transports. */
  setPeers?(peers: ReadonlyMap<NodeId, readonly string[]>): void;
  close(): Promise<void>;
}

/** Requests to another member (a follower asking the leader); rejects with the peer's error. */
export interface PeerCaller {
  call(peer: NodeId, method: string, body: unknown, timeoutMs: number): Promise<unknown>;
}

/** What a member answers to PeerCaller requests (resolve = ok, throw = the error to return). */
export type PeerRpcHandler = (method: string, body: unknown) => Promise<unknown>;
