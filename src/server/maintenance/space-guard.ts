// The member's side of etcd's space quota and alarms, in one object the member calls at three
// places (etcd 3.4: v3rpc/quota.go, etcdserver/quota.go, apply.go's quotaApplierV3 and
// applierV3Capped, applyEntryNormal in server.go):
// - admit(): before proposing a Put, a Txn or a LeaseGrant. When the request does not fit it
//   proposes ACTIVATE NOSPACE for this member, waits for that to be applied (or to fail) and
//   refuses with etcd's "database space exceeded" (RESOURCE_EXHAUSTED); nothing is proposed.
// - verdict(): when applying an entry. While NOSPACE is active, puts, txns with puts and lease
//   grants are refused (deletes, compactions, reads, revokes still apply); while CORRUPT is active,
//   every write is refused. With no alarm, a request that no longer fits is applied anyway and
//   answered with the error, after this member raised NOSPACE (overQuota; see raise()).
// - applyAlarm(): an applied Alarm entry, with etcd's response and log lines.
// The size compared with the quota is the backend's in-use size (db-size.ts): LMDB cannot give
// freed pages back to the file system while it is open, but reuses them, so the pages reachable
// from the current tree are what a defragmented copy would occupy and what bolt's file size
// measures after etcd's defrag. Compaction (and defrag, which waits for it) lowers it.
import type { Backend } from "../../mvcc/backend.js";
import type { EtcdError } from "../../mvcc/errors.js";
import { RequestKind, type InternalRequest } from "../envelope.js";
import { AlarmAction, AlarmType, type AlarmMember } from "../member-api.js";
import { AlarmStore, type AlarmApplyResult } from "./alarms.js";
import { backendDbSize, cachedDbSize, type DbSize } from "./db-size.js";
import { QuotaChecker, type ApplyVerdict, type QuotaRequest } from "./quota.js";

/** The quota's view of a replicated request; undefined for those it never refuses. */
export function quotaRequestOf(r: InternalRequest): QuotaRequest | undefined {
  switch (r.kind) {
    case RequestKind.Put:
      return { kind: "put", req: r.req };
    case RequestKind.Txn:
      return { kind: "txn", req: r.req };
    case RequestKind.LeaseGrant:
      return { kind: "leaseGrant" };
    case RequestKind.DeleteRange:
      return { kind: "deleteRange" };
    case RequestKind.Compact:
      return { kind: "compaction" };
    case RequestKind.LeaseRevoke:
      return { kind: "leaseRevoke" };
    default:
      return undefined;
  }
}

export interface AlarmProposal {
  action: AlarmAction;
  memberId: bigint;
  alarm: AlarmType;
}

export interface SpaceGuardLogger {
  warn(obj: object, msg: string): void;
}

export interface SpaceGuardOptions {
  backend: Backend;
  /** The effective --quota-backend-bytes (0: etcd's 2 GiB default; negative: no quota). */
  quotaBackendBytes: number;
  /** This member (the alarms it raises name it). */
  memberId: bigint;
  logger: SpaceGuardLogger;
  /** Proposes an Alarm request through raft; settles when it is applied or has failed. */
  proposeAlarm: (req: AlarmProposal) => Promise<unknown>;
  /** Whether the member is stopping (then nothing is refused here: the member answers "stopped"). */
  stopping?: () => boolean;
  /** How long a measured size is reused, ms (the measurement stats every table). */
  sizeMaxAgeMs?: number;
}

export class SpaceGuard {
  private store: AlarmStore;
  private size: () => DbSize;
  private readonly quota: QuotaChecker;
  private raising: Promise<void> | undefined;

  constructor(private readonly opts: SpaceGuardOptions) {
    this.store = new AlarmStore(opts.backend);
    this.size = cachedDbSize(opts.backend, opts.sizeMaxAgeMs ?? 100);
    this.quota = new QuotaChecker({
      quotaBackendBytes: opts.quotaBackendBytes,
      backendSize: () => this.size().dbSizeInUse,
      alarmActive: (a) => this.store.has(a),
    });
  }

  /** After a snapshot install replaced the backend: the alarms and sizes are the new one's. */
  rebind(backend: Backend): void {
    this.store = new AlarmStore(backend);
    this.size = cachedDbSize(backend, this.opts.sizeMaxAgeMs ?? 100);
  }

  /** The active alarms of one type, or all of them for AlarmType.NONE. */
  list(alarm: AlarmType = AlarmType.NONE): AlarmMember[] {
    return this.store.list(alarm);
  }

  /** Status.errors' alarm entries. */
  statusErrors(): string[] {
    return this.store.statusErrors();
  }

  /** Both size figures, measured now (Status). */
  static dbSize(backend: Backend): DbSize {
    return backendDbSize(backend);
  }

  /** The front-door check; throws etcd's "database space exceeded" after raising NOSPACE. */
  async admit(r: QuotaRequest): Promise<void> {
    if (this.opts.stopping?.() === true) return;
    if (this.quota.admit(r) === "ok") return;
    await this.raise();
    throw QuotaChecker.noSpaceError();
  }

  /** What applying `r` must do (see the file comment); undefined: an entry no alarm affects. */
  verdict(r: QuotaRequest | undefined): ApplyVerdict {
    if (r === undefined) return { overQuota: false };
    return this.quota.applyVerdict(r);
  }

  /** The error an over-quota request is answered with. */
  static noSpace(): EtcdError {
    return QuotaChecker.noSpaceError();
  }

  /**
   * Proposes ACTIVATE NOSPACE for this member (once at a time) and settles when it is applied or
   * failed; never rejects (etcd ignores the outcome and answers the request with NOSPACE).
   */
  raise(): Promise<void> {
    if (this.store.list(AlarmType.NOSPACE).some((a) => a.memberId === this.opts.memberId)) {
      return Promise.resolve();
    }
    if (this.raising !== undefined) return this.raising;
    this.opts.logger.warn(
      { "quota-size-bytes": this.quota.quotaBytes, "in-use-bytes": this.size().dbSizeInUse },
      "database space exceeded; raising NOSPACE alarm",
    );
    const raising = this.opts
      .proposeAlarm({ action: AlarmAction.ACTIVATE, memberId: this.opts.memberId, alarm: AlarmType.NOSPACE })
      .then(
        () => undefined,
        () => undefined,
      )
      .finally(() => {
        if (this.raising === raising) this.raising = undefined;
      });
    this.raising = raising;
    return raising;
  }

  /** Applies one Alarm entry (inside the apply write transaction) with etcd's log lines. */
  applyAlarm(req: AlarmProposal): AlarmApplyResult {
    const result = this.store.apply(req);
    const from = (m: AlarmMember | undefined) => (m === undefined ? "" : m.memberId.toString(16));
    if (result.raised !== undefined) {
      this.opts.logger.warn(
        { alarm: AlarmType[result.raised], from: from(result.alarms[0]) },
        "alarm raised",
      );
    }
    if (result.cleared !== undefined) {
      this.opts.logger.warn(
        { alarm: AlarmType[result.cleared], from: from(result.alarms[0]) },
        "alarm disarmed",
      );
    }
    return result;
  }
}
