// Server-chosen lease IDs (a LeaseGrant with ID 0). The server picks the ID before proposing, so
// every member applies the same one. Layout, as etcd's request-id generator:
//
//   | 16 bits: low bits of the member id | 40 bits: ms timestamp at start | 8 bits: counter |
//
// with the counter carrying into the timestamp field, and the top bit cleared so IDs are positive
// int64s. Uniqueness:
// - across members: the member-id prefix differs (unless two members share the low 16 bits of their
//   ids with only bit 15 differing; then a clash surfaces as "lease already exists" and the caller
//   may retry with the next ID);
// - across restarts of one member: the timestamp part restarts at the new start time, which is past
//   every ID issued before, as long as the member averaged fewer than 256 IDs per millisecond since
//   its previous start and the wall clock did not step back. No counter needs persisting.
// Never returns 0 (0 means "no lease").

import { NO_LEASE, type LeaseId } from "../mvcc/types.js";

const TIMESTAMP_BITS = 40n;
const COUNTER_BITS = 8n;
const SUFFIX_BITS = TIMESTAMP_BITS + COUNTER_BITS;
const SUFFIX_MASK = (1n << SUFFIX_BITS) - 1n;
const POSITIVE_INT64_MASK = (1n << 63n) - 1n;

export class LeaseIdGenerator {
  private readonly prefix: bigint;
  private suffix: bigint;

  /**
   * @param memberId the member's raft id as an unsigned 64-bit integer
   * @param startWallClockMs wall-clock time now (ms since the epoch), e.g. Date.now() at start-up
   */
  constructor(memberId: bigint, startWallClockMs: number) {
    if (!Number.isSafeInteger(startWallClockMs) || startWallClockMs < 0) {
      throw new RangeError("startWallClockMs must be a non-negative integer");
    }
    this.prefix = BigInt.asUintN(16, memberId) << SUFFIX_BITS;
    this.suffix = BigInt.asUintN(Number(TIMESTAMP_BITS), BigInt(startWallClockMs)) << COUNTER_BITS;
  }

  /** The next ID, skipping 0 and any ID `taken` reports as in use (e.g. lessor.exists). */
  next(taken: (id: LeaseId) => boolean = () => false): LeaseId {
    for (;;) {
      this.suffix += 1n;
      const id = (this.prefix | (this.suffix & SUFFIX_MASK)) & POSITIVE_INT64_MASK;
      if (id !== NO_LEASE && !taken(id)) return id;
    }
  }
}
