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
  /** How sending a snapshot to a peer ended (raft resumes replication or retries). */
  snapshotStatus?(node: NodeId, ok: boolean): void;
  /**
   * A snapshot message from the leader with the state machine's data (the backend copy). Resolves
   * once the data is stored and the message handed to raft; rejects to report failure.
   */
  receiveSnapshot?(m: Message, data: AsyncIterable<Uint8Array>): Promise<void>;
}

/** The data behind a snapshot message, opened when the message is sent. */
export interface SnapshotData {
  size: number;
  chunks: AsyncIterable<Uint8Array>;
  /** Releases the data when it will not be (fully) read. */
  discard(): Promise<void>;
}

export interface RaftTransport {
  /** Queue messages for delivery; never blocks or throws for an unreachable peer. */
  send(messages: readonly Message[]): void;
  /**
   * Sends a snapshot message with its data on a connection of its own (large, may take long);
   * the outcome goes to the sink's snapshotStatus.
   */
  sendSnapshot?(m: Message, open: () => Promise<SnapshotData>): void;
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
