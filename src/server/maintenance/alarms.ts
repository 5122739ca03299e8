// The cluster's alarms (etcd's v3alarm store): part of the replicated state, changed only by
// applied Alarm entries. Persisted in the backend table "alarm" (key: member ID as 8 bytes
// big-endian + the alarm type byte, empty value; the same layout src/server/alarms.ts used, so
// existing data dirs stay readable) and mirrored in memory for the checks on every request.
import type { Backend, BackendTable } from "../../mvcc/backend.js";
import { AlarmAction, AlarmType, type AlarmMember } from "../member-api.js";

export const ALARM_TABLE = "alarm";

/** The part of the backend the alarm store uses. */
export type AlarmBackend = Pick<Backend, "table" | "writeTxn">;

function alarmKey(memberId: bigint, alarm: AlarmType): Uint8Array {
  const key = new Uint8Array(9);
  new DataView(key.buffer).setBigUint64(0, BigInt.asUintN(64, memberId));
  key[8] = alarm;
  return key;
}

/** What applying one AlarmRequest did, with etcd's response alarms. */
export interface AlarmApplyResult {
  /** GET: the matching alarms; ACTIVATE/DEACTIVATE: the alarm acted on, or none. */
  alarms: AlarmMember[];
  /** The first alarm of its type was raised (etcd switches to the capped/corrupt applier). */
  raised?: AlarmType;
  /** The last alarm of its type was cleared (etcd switches back to the normal applier). */
  cleared?: AlarmType;
}

const byTypeThenMember = (a: AlarmMember, b: AlarmMember): number =>
  a.alarm - b.alarm || (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0);

export class AlarmStore {
  private readonly table: BackendTable;
  private active: AlarmMember[] = [];

  constructor(private readonly backend: AlarmBackend) {
    this.table = backend.table(ALARM_TABLE);
    this.reload();
  }

  /**
   * Re-reads the table. The mirror is updated as soon as activate/deactivate run (later entries
   * of the same apply transaction must see them); call this if that transaction aborted.
   */
  reload(): void {
    const loaded: AlarmMember[] = [];
    for (const { key } of this.table.range(undefined, undefined)) {
      if (key.length !== 9) continue;
      const view = new DataView(key.buffer, key.byteOffset, key.byteLength);
      loaded.push({ memberId: view.getBigUint64(0), alarm: key[8] as AlarmType });
    }
    this.active = loaded.sort(byTypeThenMember);
  }

  /** Active alarms of one type, or all of them for AlarmType.NONE (etcd's Get). */
  list(alarm: AlarmType = AlarmType.NONE): AlarmMember[] {
    return this.active.filter((a) => alarm === AlarmType.NONE || a.alarm === alarm).map((a) => ({ ...a }));
  }

  has(alarm: AlarmType): boolean {
    return this.active.some((a) => a.alarm === alarm);
  }

  /**
   * Raises an alarm (inside the caller's write transaction; a nested writeTxn joins it). Returns
   * the alarm, already active or new, as etcd does. Like etcd, any type is stored, even NONE.
   */
  activate(memberId: bigint, alarm: AlarmType): AlarmMember {
    const id = BigInt.asUintN(64, memberId);
    const existing = this.active.find((a) => a.memberId === id && a.alarm === alarm);
    if (existing !== undefined) return { ...existing };
    this.backend.writeTxn(() => this.table.put(alarmKey(id, alarm), new Uint8Array(0)));
    const added = { memberId: id, alarm };
    this.active = [...this.active, added].sort(byTypeThenMember);
    return { ...added };
  }

  /** Clears an alarm; returns it, or undefined when it was not active. */
  deactivate(memberId: bigint, alarm: AlarmType): AlarmMember | undefined {
    const id = BigInt.asUintN(64, memberId);
    const existing = this.active.find((a) => a.memberId === id && a.alarm === alarm);
    if (existing === undefined) return undefined;
    this.backend.writeTxn(() => this.table.del(alarmKey(id, alarm)));
    this.active = this.active.filter((a) => a !== existing);
    return { ...existing };
  }

  /** Applies one AlarmRequest from a raft entry with etcd's semantics and response. */
  apply(req: { action: AlarmAction; memberId: bigint; alarm: AlarmType }): AlarmApplyResult {
    const before = this.list(req.alarm).length;
    switch (req.action) {
      case AlarmAction.GET:
        return { alarms: this.list(req.alarm) };
      case AlarmAction.ACTIVATE: {
        const m = this.activate(req.memberId, req.alarm);
        const raised = before === 0 && this.list(req.alarm).length === 1;
        return raised ? { alarms: [m], raised: req.alarm } : { alarms: [m] };
      }
      case AlarmAction.DEACTIVATE: {
        const m = this.deactivate(req.memberId, req.alarm);
        if (m === undefined) return { alarms: [] };
        const cleared = before > 0 && this.list(req.alarm).length === 0;
        return cleared ? { alarms: [m], cleared: req.alarm } : { alarms: [m] };
      }
      default:
        return { alarms: [] };
    }
  }

  /**
   * Status.errors entries, in the text form etcd prints an AlarmMember (its protobuf text form:
   * "memberID:<decimal> alarm:<NAME> ").
   */
  statusErrors(): string[] {
    return this.active.map((a) => `memberID:${a.memberId} alarm:${AlarmType[a.alarm] ?? a.alarm} `);
  }
}
