// The data types of the Raft core: what it reads from storage, what it asks the caller to persist,
// send and apply. These are the contract between src/raft and the rest of Kvorum (storage,
// transport, server, simulator). Plain data only: no classes with behaviour, no I/O.

/** A member's identity inside raft. Opaque to raft; the server uses the member ID in hex. */
export type NodeId = string;

/** "No node": no vote cast, no known leader. */
export const NONE: NodeId = "";

export enum EntryType {
  /** Application data (empty data = the no-op a new leader appends). */
  Normal = 0,
  /** A membership change; data is an encoded ConfChange (see confchange.ts). */
  ConfChange = 1,
}

/** One log entry. Indexes start at 1; term 0 / index 0 is the empty log's sentinel. */
export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** The state that must be durable before a member sends any message that depends on it. */
export interface HardState {
  term: number;
  /** Candidate voted for in `term`, or NONE. */
  vote: NodeId;
  /** Highest index known committed. */
  commit: number;
}

/** Membership as of some log position. */
export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
}

export interface SnapshotMetadata {
  index: number;
  term: number;
  confState: ConfState;
}

/** An application snapshot: the state machine after applying every entry up to metadata.index. */
export interface Snapshot {
  metadata: SnapshotMetadata;
  data: Uint8Array;
}

export enum ConfChangeType {
  /** Add a voter, or promote an existing learner to voter. */
  AddNode = 0,
  RemoveNode = 1,
  /** No membership effect for raft; carries application context (e.g. new peer URLs). */
  UpdateNode = 2,
  AddLearnerNode = 3,
}

export interface ConfChange {
  type: ConfChangeType;
  nodeId: NodeId;
  /** Opaque to raft (the server puts member attributes here). */
  context: Uint8Array;
}

export enum MessageType {
  // Local messages: never sent over the network.
  /** Start an election (from tick or campaign()). */
  Hup = 0,
  /** Leader: send heartbeats now. */
  Beat = 1,
  /** A proposal (local, or forwarded from a follower to the leader). */
  Prop = 2,
  // Network messages.
  App = 3,
  AppResp = 4,
  Vote = 5,
  VoteResp = 6,
  PreVote = 7,
  PreVoteResp = 8,
  Snap = 9,
  Heartbeat = 10,
  HeartbeatResp = 11,
  /** Local: the transport could not reach `from`. */
  Unreachable = 12,
  /** Local: outcome of sending a snapshot to `from` (reject=true means failure). */
  SnapStatus = 13,
  /** Local: leader checks that it still hears a quorum. */
  CheckQuorum = 14,
  /** Ask the leader to transfer leadership to `from` (or local: to the given node). */
  TransferLeader = 15,
  /** Leader tells the transferee to campaign at once. */
  TimeoutNow = 16,
  ReadIndex = 17,
  ReadIndexResp = 18,
}

/** A raft message. Fields not used by a message type keep their zero value. */
export interface Message {
  type: MessageType;
  to: NodeId;
  from: NodeId;
  term: number;
  /** Term of the entry at `index` (App: the entry before `entries`). */
  logTerm: number;
  index: number;
  entries: Entry[];
  commit: number;
  snapshot?: Snapshot;
  reject: boolean;
  rejectHint: number;
  /** Opaque context: read-index request ids, campaign-transfer marker. */
  context: Uint8Array;
}

export type Role = "follower" | "pre-candidate" | "candidate" | "leader";

/** Volatile state that the caller may want to observe (leader changes). */
export interface SoftState {
  lead: NodeId;
  role: Role;
}

/** The answer to a readIndex(ctx) call: reads with this ctx may be served once applied >= index. */
export interface ReadState {
  index: number;
  requestCtx: Uint8Array;
}

/**
 * Everything the caller must do, in this order:
 *  1. persist `snapshot` (if any), `entries` (appending; an entry at an existing index replaces the
 *     suffix from there) and `hardState` (if any); fsync if `mustSync`;
 *  2. send `messages`;
 *  3. apply `committedEntries` in order (and membership changes through applyConfChange);
 *  4. call advance(ready).
 */
export interface Ready {
  softState?: SoftState;
  hardState?: HardState;
  readStates: ReadState[];
  entries: Entry[];
  snapshot?: Snapshot;
  committedEntries: Entry[];
  messages: Message[];
  mustSync: boolean;
}

/**
 * What raft reads from the log storage. Synchronous: implementations keep the unapplied
 * tail of the log in memory (the durable copy is the WAL). Entries before firstIndex() are
 * compacted into snapshot().
 */
export interface LogReader {
  /** Persisted hard state and the membership at the storage's snapshot/bootstrap point. */
  initialState(): { hardState: HardState; confState: ConfState };
  /** Entries in [lo, hi), at least one if any exist, at most maxBytes in total beyond the first. */
  entries(lo: number, hi: number, maxBytes?: number): Entry[];
  /** Term of the entry at index; valid for firstIndex()-1 ... lastIndex(). */
  term(index: number): number;
  firstIndex(): number;
  lastIndex(): number;
  snapshot(): Snapshot;
}

/** Approximate size of an entry for flow control (max message size, uncommitted size limits). */
export function entrySize(e: Entry): number {
  return e.data.length + 24;
}
