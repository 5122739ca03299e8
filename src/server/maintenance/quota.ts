// etcd's backend space quota (etcdserver/quota.go, v3rpc/quota.go, the capped and corrupt appliers
// in apply.go / corrupt.go), as checks the member calls:
// - at the front door (before proposing): admit(); when it says "exceeded" the member proposes
//   ACTIVATE NOSPACE for itself and answers Errors.noSpace() without proposing the request;
// - when applying an entry: applyVerdict() before applying it. `reject` means do not apply, answer
//   with that error; `overQuota` means apply it anyway but answer Errors.noSpace() and, if no
//   NOSPACE alarm is active yet, propose one (etcd's quotaApplierV3 + applyEntryNormal).
// A request's cost: put = 256 + key + value bytes; txn = the larger of its success and failure
// branches, each the sum of its top-level puts' costs (nested txns count 0, as in etcd); lease
// grant = 64; everything else 0 and never blocked by the quota.
import { Errors, type EtcdError } from "../../mvcc/errors.js";
import type { PutRequest, RequestOp, TxnRequest } from "../../mvcc/types.js";
import { ServerErrors } from "../errors.js";
import { AlarmType } from "../member-api.js";

/** etcd's DefaultQuotaBytes, used when --quota-backend-bytes is 0. */
export const DEFAULT_QUOTA_BYTES = 2 * 1024 * 1024 * 1024;
/** etcd's kvOverhead: the estimated metadata cost of one stored key. */
export const KV_OVERHEAD = 256;
/** etcd's leaseOverhead: the estimated cost of one stored lease. */
export const LEASE_OVERHEAD = 64;

/** The requests the quota looks at; others cost nothing. */
export type QuotaRequest =
  | { kind: "put"; req: PutRequest }
  | { kind: "txn"; req: TxnRequest }
  | { kind: "leaseGrant" }
  | { kind: "deleteRange" }
  | { kind: "compaction" }
  | { kind: "leaseRevoke" };

const putCost = (req: PutRequest): number => KV_OVERHEAD + req.key.length + req.value.length;

function branchCost(ops: RequestOp[]): number {
  let cost = 0;
  for (const op of ops) if ("requestPut" in op) cost += putCost(op.requestPut);
  return cost;
}

/** etcd's Quota.Cost. */
export function requestCost(r: QuotaRequest): number {
  switch (r.kind) {
    case "put":
      return putCost(r.req);
    case "txn":
      return Math.max(branchCost(r.req.success), branchCost(r.req.failure));
    case "leaseGrant":
      return LEASE_OVERHEAD;
    default:
      return 0;
  }
}

export interface QuotaOptions {
  /** --quota-backend-bytes: 0 means the 2 GiB default; negative disables the quota (as in etcd). */
  quotaBackendBytes: number;
  /**
   * The backend size compared with the quota. etcd uses its file size, which its defrag shrinks;
   * Kvorum's defrag cannot shrink LMDB's file while it is open, so the member passes the in-use size
   * (cachedDbSize(backend)().dbSizeInUse): then compact + defrag + alarm disarm recovers from
   * NOSPACE as operators expect, because compaction frees pages LMDB reuses.
   */
  backendSize: () => number;
  /** Whether an alarm of this type is active (AlarmStore.has). */
  alarmActive: (alarm: AlarmType) => boolean;
}

export interface ApplyVerdict {
  /** Do not apply the request; answer with this error. */
  reject?: EtcdError;
  /** Apply it, then answer Errors.noSpace() (and raise NOSPACE if it is not active yet). */
  overQuota: boolean;
}

export class QuotaChecker {
  /** The effective quota in bytes; Infinity when disabled. */
  readonly quotaBytes: number;

  constructor(private readonly opts: QuotaOptions) {
    const q = opts.quotaBackendBytes;
    this.quotaBytes = q < 0 ? Infinity : q === 0 ? DEFAULT_QUOTA_BYTES : q;
  }

  /** etcd's Quota.Available: a request that writes nothing always fits. */
  available(r: QuotaRequest): boolean {
    const cost = requestCost(r);
    if (cost === 0) return true;
    return this.opts.backendSize() + cost < this.quotaBytes;
  }

  /** Bytes left before the quota (etcd's Remaining; may be negative). */
  remaining(): number {
    return this.quotaBytes - this.opts.backendSize();
  }

  /**
   * The front-door check (v3rpc quota layer, only for Put, Txn and LeaseGrant): "exceeded" means
   * raise NOSPACE and refuse with Errors.noSpace().
   */
  admit(r: QuotaRequest): "ok" | "exceeded" {
    if (r.kind !== "put" && r.kind !== "txn" && r.kind !== "leaseGrant") return "ok";
    return this.available(r) ? "ok" : "exceeded";
  }

  /** The error to answer right away at the front door, when admit() said "exceeded". */
  static noSpaceError(): EtcdError {
    return Errors.noSpace();
  }

  /** What the applier does with a request taken from a raft entry (see the file comment). */
  applyVerdict(r: QuotaRequest): ApplyVerdict {
    // CORRUPT: every write-path request is refused (ranges are served outside raft).
    if (this.opts.alarmActive(AlarmType.CORRUPT)) return { reject: ServerErrors.corrupt(), overQuota: false };
    if (this.opts.alarmActive(AlarmType.NOSPACE)) {
      const blocked = r.kind === "put" || r.kind === "leaseGrant" || (r.kind === "txn" && requestCost(r) > 0);
      if (blocked) return { reject: Errors.noSpace(), overQuota: false };
      return { overQuota: false };
    }
    if (r.kind !== "put" && r.kind !== "txn" && r.kind !== "leaseGrant") return { overQuota: false };
    return { overQuota: !this.available(r) };
  }
}
