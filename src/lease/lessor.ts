// The lessor: the lease table of one member. It is part of the replicated state machine: grant,
// revoke and key attachment happen when raft entries are applied, so every member holds the same
// leases. Time only matters on the leader ("primary"): promote() arms every lease's expiry,
// demote() disarms them, and expired() tells the owner which leases to revoke through raft. The
// lessor never deletes keys itself; revokeLease() (revoke.ts) does that in one MVCC revision.

import { counts, observe } from "../common/etcd-counts.js";
import { Errors } from "../mvcc/errors.js";
import { NO_LEASE, type LeaseId } from "../mvcc/types.js";
import { CheckpointQueue, type LeaseCheckpoint } from "./checkpoint.js";
import { systemClock, type Clock } from "./clock.js";
import {
  DEFAULT_EXPIRED_BATCH,
  DEFAULT_EXPIRED_RETRY_MS,
  DEFAULT_MIN_TTL_SECONDS,
  MAX_LEASE_TTL_SECONDS,
} from "./config.js";
import { LeaseExpiredError, LeaseNotPrimaryError, type ExpiredLeaseOutcome } from "./errors.js";
import { ExpiryQueue } from "./expiry-queue.js";
import { spreadExpiries } from "./expiry-spread.js";
import { KeySet } from "./key-set.js";
import type { LeaseStore } from "./lease-store.js";
import type { LeaseRegistry } from "../mvcc/store.js";

const FOREVER = Number.POSITIVE_INFINITY;

export interface LessorOptions {
  /** Where lease records are persisted. */
  store: LeaseStore;
  clock?: Clock;
  /** Grants below this TTL (seconds) are raised to it. See minLeaseTtlSeconds() in config.ts. */
  minTtlSeconds?: number;
  /** How long before an expired, still-alive lease is signalled again by expired(). */
  expiredRetryMs?: number;
  /**
   * Lease checkpointing (etcd's --experimental-enable-lease-checkpoint) with this interval in ms;
   * undefined: off. The leader then offers dueCheckpoints() for proposal (see checkpoint.ts).
   */
  checkpointIntervalMs?: number;
  /** Applied checkpoints are also written to the lease store (etcd's checkpoint persistence). */
  checkpointPersist?: boolean;
}

export interface GrantedLease {
  id: LeaseId;
  /** The TTL actually granted (seconds): the request raised to the minimum. */
  ttl: number;
}

export interface LeaseTimeToLive {
  id: LeaseId;
  /** Seconds left, truncated toward zero as etcd does; -1 for an unknown lease. */
  ttl: number;
  /** The granted TTL in seconds; 0 for an unknown lease. */
  grantedTtl: number;
  /** The attached keys in byte order, when asked for (and the lease exists). */
  keys: Uint8Array[];
}

export interface RestoreSummary {
  leases: number;
  keys: number;
  /** Keys whose lease has no record (left detached, as etcd does after logging). */
  orphanKeys: number;
}

interface Lease {
  readonly id: LeaseId;
  readonly ttl: number;
  /** The last checkpointed remaining TTL in seconds; 0: none, the full TTL applies. */
  remainingTtl: number;
  /** Deadline in clock ms; Infinity while this member is not the leader. */
  expiry: number;
  readonly keys: KeySet;
  /** When the leader looks at this lease next (its expiry, or a retry after signalling it). */
  at: number;
  /** Position in the expiry queue (managed by ExpiryQueue; -1 when not queued). */
  heapIndex: number;
  /** Keep-alives waiting, on this expired lease, for its revocation or a demotion. */
  waiters?: Array<(outcome: ExpiredLeaseOutcome) => void>;
}

const newLease = (id: LeaseId, ttl: number, remainingTtl = 0): Lease => ({
  id,
  ttl,
  remainingTtl,
  expiry: FOREVER,
  keys: new KeySet(),
  at: FOREVER,
  heapIndex: -1,
});

export class Lessor implements LeaseRegistry {
  private readonly clock: Clock;
  private readonly minTtl: number;
  private readonly retryMs: number;
  private store: LeaseStore;
  private leasesById = new Map<LeaseId, Lease>();
  private readonly queue = new ExpiryQueue<Lease>();
  private primary = false;
  private readonly checkpointMs: number | undefined;
  private readonly checkpointPersist: boolean;
  private readonly checkpoints = new CheckpointQueue();
  /** Leases renewed while checkpointed: their checkpoint is to be cleared through raft. */
  private readonly clears = new Set<LeaseId>();

  constructor(opts: LessorOptions) {
    this.store = opts.store;
    this.clock = opts.clock ?? systemClock;
    this.minTtl = opts.minTtlSeconds ?? DEFAULT_MIN_TTL_SECONDS;
    this.retryMs = opts.expiredRetryMs ?? DEFAULT_EXPIRED_RETRY_MS;
    if (!(this.retryMs > 0)) throw new RangeError("expiredRetryMs must be positive");
    this.checkpointMs = opts.checkpointIntervalMs;
    this.checkpointPersist = opts.checkpointPersist === true;
    if (this.checkpointMs !== undefined && !(this.checkpointMs > 0))
      throw new RangeError("checkpointIntervalMs must be positive");
  }

  /** The minimum TTL in seconds this lessor grants. */
  get minTtlSeconds(): number {
    return this.minTtl;
  }

  /** True between promote() and demote(). */
  get isPrimary(): boolean {
    return this.primary;
  }

  /**
   * Replaces the whole lease table with what `store` holds (on start, or after a snapshot replaced
   * the backend) and re-attaches `leasedKeys` (the MVCC store's lease index). TTLs below the
   * minimum are raised, as etcd does. On a leader every lease restarts at its remaining TTL (its
   * last checkpoint, else its full TTL).
   */
  restore(store: LeaseStore, leasedKeys: Iterable<readonly [LeaseId, Uint8Array]>): RestoreSummary {
    const previous = this.leasesById;
    this.store = store;
    this.leasesById = new Map();
    this.queue.clear();
    this.checkpoints.clear();
    this.clears.clear();
    for (const rec of store.loadAll()) {
      const ttl = Math.max(rec.ttl, this.minTtl);
      this.leasesById.set(rec.id, newLease(rec.id, ttl, rec.remainingTtl ?? 0));
    }
    let keys = 0;
    let orphanKeys = 0;
    for (const [id, key] of leasedKeys) {
      const lease = this.leasesById.get(id);
      if (lease === undefined) orphanKeys++;
      else {
        lease.keys.add(key);
        keys++;
      }
    }
    if (this.primary) {
      this.armAll(0);
      for (const lease of this.leasesById.values()) this.scheduleCheckpoint(lease);
    }
    // Waiting keep-alives: a lease gone from the new table was revoked; for one still there the
    // expiry was reset, so the keep-alive is asked again (as after a leader change).
    for (const lease of previous.values()) {
      settle(lease, this.leasesById.has(lease.id) ? "demoted" : "revoked");
    }
    return { leases: this.leasesById.size, keys, orphanKeys };
  }

  /**
   * Creates lease `id` (chosen by the server before proposing; 0 is refused as etcd's lessor does).
   * Throws Errors.leaseTtlTooLarge or Errors.leaseExists.
   */
  grant(id: LeaseId, ttlSeconds: number): GrantedLease {
    if (id === NO_LEASE) throw Errors.leaseNotFound();
    if (!Number.isSafeInteger(ttlSeconds))
      throw new RangeError(`lease TTL must be an integer: ${ttlSeconds}`);
    if (ttlSeconds > MAX_LEASE_TTL_SECONDS) throw Errors.leaseTtlTooLarge();
    if (this.leasesById.has(id)) throw Errors.leaseExists();
    const ttl = Math.max(ttlSeconds, this.minTtl);
    const lease = newLease(id, ttl);
    this.store.put({ id, ttl });
    this.leasesById.set(id, lease);
    if (this.primary) {
      this.arm(lease, this.clock.now(), 0);
      this.scheduleCheckpoint(lease);
    }
    counts.leasesGranted++;
    observe.leaseTtl(ttl);
    return { id, ttl };
  }

  /**
   * Forgets lease `id` and returns its attached keys in byte order. It does not delete the keys:
   * use revokeLease() (revoke.ts), which deletes them in one revision first. Throws
   * Errors.leaseNotFound for an unknown lease.
   */
  revoke(id: LeaseId): Uint8Array[] {
    const lease = this.mustGet(id);
    this.store.delete(id);
    this.leasesById.delete(id);
    this.queue.remove(lease);
    settle(lease, "revoked");
    counts.leasesRevoked++;
    return lease.keys.sorted();
  }

  /** The keys attached to `id` in byte order. Throws Errors.leaseNotFound for an unknown lease. */
  keys(id: LeaseId): Uint8Array[] {
    return this.mustGet(id).keys.sorted();
  }

  /**
   * A keep-alive: restarts the lease's countdown and returns its granted TTL. Leader only (throws
   * LeaseNotPrimaryError elsewhere). Throws Errors.leaseNotFound for an unknown lease. A lease past
   * its expiry is not renewed: LeaseExpiredError is thrown, whose outcome settles when the lease's
   * revocation is applied ("revoked") or this member stops leading first ("demoted"), as etcd's
   * lessor waits for either before it answers (see renewLease in renew.ts).
   */
  renew(id: LeaseId): number {
    if (!this.primary) throw new LeaseNotPrimaryError();
    const lease = this.mustGet(id);
    const now = this.clock.now();
    if (lease.expiry <= now) {
      const waiters = (lease.waiters ??= []);
      throw new LeaseExpiredError(new Promise((resolve) => waiters.push(resolve)));
    }
    // The countdown restarts from the full TTL; a checkpoint still recorded for the lease is cleared
    // through raft (etcd proposes the clear before it refreshes the lease).
    if (lease.remainingTtl > 0 && this.checkpointMs !== undefined) this.clears.add(id);
    lease.expiry = now + lease.ttl * 1000;
    this.queue.upsert(lease, lease.expiry);
    counts.leasesRenewed++;
    return lease.ttl;
  }

  /**
   * etcd's LeaseTimeToLive. An unknown lease reports ttl -1. On a follower, which keeps no expiry
   * clock, the remaining TTL reads as the granted TTL: like etcd, serve this from the leader.
   */
  timeToLive(id: LeaseId, opts: { keys?: boolean } = {}): LeaseTimeToLive {
    const lease = this.leasesById.get(id);
    if (lease === undefined) return { id, ttl: -1, grantedTtl: 0, keys: [] };
    const ttl =
      lease.expiry === FOREVER ? lease.ttl : Math.trunc((lease.expiry - this.clock.now()) / 1000) + 0;
    return { id, ttl, grantedTtl: lease.ttl, keys: opts.keys === true ? lease.keys.sorted() : [] };
  }

  /** Every lease, in ascending id order. */
  leases(): GrantedLease[] {
    return [...this.leasesById.values()]
      .map((l) => ({ id: l.id, ttl: l.ttl }))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  get size(): number {
    return this.leasesById.size;
  }

  exists(id: LeaseId): boolean {
    return this.leasesById.has(id);
  }

  /**
   * Records that `key` now carries lease `id`. The store calls this after the write committed,
   * having checked exists() before writing; the lease can only be gone since if a revocation later
   * in the same batch took it (and deleted the key), so an unknown lease is ignored.
   */
  attach(id: LeaseId, key: Uint8Array): void {
    this.leasesById.get(id)?.keys.add(key);
  }

  /**
   * Records that `key` no longer carries lease `id` (after commit). A no-op for an unknown lease:
   * revocation forgets the lease before the store reports the key deletions.
   */
  detach(id: LeaseId, key: Uint8Array): void {
    this.leasesById.get(id)?.keys.delete(key);
  }

  /**
   * This member became leader: every lease expires its TTL plus `extendMs` from now (etcd extends by
   * the election timeout so clients can find the new leader), with piled-up expiries spread out.
   */
  promote(extendMs: number): void {
    this.primary = true;
    this.armAll(extendMs);
    for (const lease of this.leasesById.values()) this.scheduleCheckpoint(lease);
  }

  /** This member is no longer leader: no lease expires here until the next promote(). */
  demote(): void {
    this.primary = false;
    this.queue.clear();
    this.checkpoints.clear();
    this.clears.clear();
    for (const lease of this.leasesById.values()) {
      lease.expiry = FOREVER;
      settle(lease, "demoted");
    }
  }

  /**
   * Leases past their expiry that the owner should now revoke through raft, at most `limit` per
   * call. A signalled lease is signalled again after the retry interval if it is still alive (its
   * revocation was lost, e.g. to a leader change). Always empty on a follower.
   */
  expired(limit = DEFAULT_EXPIRED_BATCH): LeaseId[] {
    const out: LeaseId[] = [];
    if (!this.primary) return out;
    const now = this.clock.now();
    while (out.length < limit) {
      const lease = this.queue.peek();
      if (lease === undefined || lease.at > now) break;
      if (lease.expiry > now) {
        this.queue.upsert(lease, lease.expiry); // not due after all: look again at its expiry
        continue;
      }
      this.queue.upsert(lease, now + this.retryMs);
      out.push(lease.id);
    }
    return out;
  }

  /**
   * Applies a checkpoint (a replicated LeaseCheckpoint entry): lease `id` takes `remainingTtl`
   * seconds as its remaining TTL (0 clears it), also written to the lease store with
   * checkpointPersist (else it lives in memory until a restart). It does not move the
   * lease's current expiry: promote() uses it. An unknown lease is ignored, as in etcd.
   */
  checkpoint(id: LeaseId, remainingTtl: number): void {
    const lease = this.leasesById.get(id);
    if (lease === undefined) return;
    lease.remainingTtl = remainingTtl > 0 ? remainingTtl : 0;
    if (this.checkpointPersist)
      this.store.put(
        lease.remainingTtl > 0
          ? { id, ttl: lease.ttl, remainingTtl: lease.remainingTtl }
          : { id, ttl: lease.ttl },
      );
    if (lease.remainingTtl === 0) this.clears.delete(id);
    if (this.primary) this.scheduleCheckpoint(lease);
  }

  /**
   * The checkpoints the leader should now propose, at most `limit`: first the clears of renewed
   * leases, then every scheduled lease whose time has come and which is neither expired nor at
   * its full TTL, with its remaining TTL rounded up to whole seconds (etcd's rules). A lease comes
   * due again once its checkpoint is applied. Always empty on a follower or with checkpointing off.
   */
  dueCheckpoints(limit: number): LeaseCheckpoint[] {
    const out: LeaseCheckpoint[] = [];
    if (!this.primary || this.checkpointMs === undefined) return out;
    for (const id of this.clears) {
      if (out.length >= limit) return out;
      this.clears.delete(id);
      if (this.leasesById.has(id)) out.push({ id, remainingTtl: 0 });
    }
    const now = this.clock.now();
    while (out.length < limit) {
      const id = this.checkpoints.popDue(now);
      if (id === undefined) break;
      const lease = this.leasesById.get(id);
      if (lease === undefined || now >= lease.expiry) continue;
      const remainingTtl = Math.ceil((lease.expiry - now) / 1000);
      if (remainingTtl >= lease.ttl) continue;
      out.push({ id, remainingTtl });
    }
    return out;
  }

  /** When expired() may next return something (clock ms), for the owner's timer; undefined: never. */
  nextCheckAt(): number | undefined {
    return this.primary ? this.queue.peek()?.at : undefined;
  }

  private mustGet(id: LeaseId): Lease {
    const lease = this.leasesById.get(id);
    if (lease === undefined) throw Errors.leaseNotFound();
    return lease;
  }

  /** etcd's scheduleCheckpointIfNeeded: only leases with more left than one interval. */
  private scheduleCheckpoint(lease: Lease): void {
    if (this.checkpointMs === undefined) return;
    if (remainingOrFull(lease) > Math.trunc(this.checkpointMs / 1000))
      this.checkpoints.push(lease.id, this.clock.now() + this.checkpointMs);
  }

  private arm(lease: Lease, now: number, extendMs: number): void {
    lease.expiry = now + extendMs + remainingOrFull(lease) * 1000;
    this.queue.upsert(lease, lease.expiry);
  }

  private armAll(extendMs: number): void {
    const now = this.clock.now();
    const leases = [...this.leasesById.values()];
    for (const lease of leases) lease.expiry = now + extendMs + remainingOrFull(lease) * 1000;
    spreadExpiries(leases);
    for (const lease of leases) lease.at = lease.expiry;
    this.queue.reset(leases);
  }
}

/** The TTL a (re)armed lease counts down from: its checkpoint if it has one (etcd's RemainingTTL). */
const remainingOrFull = (lease: Lease): number => (lease.remainingTtl > 0 ? lease.remainingTtl : lease.ttl);

/** Ends the waits of the keep-alives parked on an expired lease. */
function settle(lease: Lease, outcome: ExpiredLeaseOutcome): void {
  const waiters = lease.waiters;
  if (waiters === undefined) return;
  lease.waiters = undefined;
  for (const resolve of waiters) resolve(outcome);
}
