// The public surface of the Raft core: how a member is configured and driven. The implementation
// is RawNode (raw-node.ts); the simulator and the server code against these types.

import type { ConfChange, ConfState, HardState, LogReader, Message, NodeId, Ready, Role } from "./types.js";

export type ReadOnlyOption =
  /** ReadIndex confirms leadership with a heartbeat round to a quorum (always safe). */
  | "safe"
  /** ReadIndex trusts the leader lease (needs checkQuorum; relies on bounded clock drift). */
  | "lease-based";

export interface RaftLogger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
}

/**
 * Deliberate violations of Raft's rules. They exist only so tests can prove that the simulator's
 * checkers catch each kind of bug; a production member never sets them.
 */
export type UnsafeRuleBreak =
  /** Leader commits an entry of an earlier term once a quorum stores it (Raft §5.4.2 forbids). */
  | "commit-previous-term-by-counting"
  /** A member grants its vote to every candidate in a term, not just the first. */
  | "grant-two-votes-per-term"
  /** Ready.committedEntries includes entries that are not yet committed. */
  | "apply-before-commit"
  /** The leader answers ReadIndex at once, without confirming it is still the leader. */
  | "read-index-without-quorum-check";

export interface RaftConfig {
  id: NodeId;
  /** Ticks without hearing a leader before a follower campaigns (randomized in [e, 2e)). */
  electionTick: number;
  /** Ticks between leader heartbeats. Must be < electionTick. */
  heartbeatTick: number;
  storage: LogReader;
  /** Last applied index when restarting (entries up to it are not handed out again). */
  applied?: number;
  /** Max bytes of entries in one App message (at least one entry is always sent). */
  maxSizePerMsg: number;
  /** Max App messages in flight to one follower in replicate state. */
  maxInflightMsgs: number;
  /** Max bytes of uncommitted entries the leader accepts before dropping proposals (0 = no limit). */
  maxUncommittedEntriesSize?: number;
  checkQuorum: boolean;
  preVote: boolean;
  readOnlyOption: ReadOnlyOption;
  /** Followers drop proposals instead of forwarding them to the leader. */
  disableProposalForwarding: boolean;
  /** Source of randomness in [0, 1) for election timeouts. Injected: raft never calls Math.random. */
  random: () => number;
  logger?: RaftLogger;
  /** Tests only: rules to break on purpose (see UnsafeRuleBreak). */
  unsafeRuleBreaks?: readonly UnsafeRuleBreak[];
}

/** Progress of one follower as the leader sees it. */
export interface ProgressStatus {
  match: number;
  next: number;
  state: "probe" | "replicate" | "snapshot";
  isLearner: boolean;
  recentActive: boolean;
}

export interface RaftStatus {
  id: NodeId;
  hardState: HardState;
  role: Role;
  lead: NodeId;
  applied: number;
  lastIndex: number;
  confState: ConfState;
  /** Only on the leader: every member's progress. */
  progress?: Map<NodeId, ProgressStatus>;
  leadTransferee: NodeId;
}

/**
 * A member's consensus state machine. Every method is synchronous and deterministic given the
 * inputs (including the injected random source). Errors are thrown as RaftError subclasses.
 */
export interface RaftNodeApi {
  /** Advance logical time by one tick (elections, heartbeats, check-quorum). */
  tick(): void;
  /** Start an election now (pre-vote first if enabled). */
  campaign(): void;
  /** Propose application data. Throws ProposalDroppedError if it cannot be accepted. */
  propose(data: Uint8Array): void;
  /** Propose a membership change (one at a time). Throws ProposalDroppedError if refused. */
  proposeConfChange(cc: ConfChange): void;
  /** Apply a committed ConfChange entry's change; returns the new membership. */
  applyConfChange(cc: ConfChange): ConfState;
  /** Feed a message received from a peer (or a local message such as Unreachable). */
  step(m: Message): void;
  /** Ask for a read index; the answer arrives as a ReadState with the same ctx in a later Ready. */
  readIndex(ctx: Uint8Array): void;
  /** Ask the leader to hand leadership to `to`. */
  transferLeadership(to: NodeId): void;
  reportUnreachable(id: NodeId): void;
  reportSnapshot(id: NodeId, ok: boolean): void;
  hasReady(): boolean;
  /** What to persist, send and apply now. Call advance(ready) when done. */
  ready(): Ready;
  advance(rd: Ready): void;
  status(): RaftStatus;
}
