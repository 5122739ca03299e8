// The cluster's alarms (NOSPACE, CORRUPT), part of the replicated state: changed only by applied
// Alarm entries, kept in the backend's "alarm" table (key: member ID 8 bytes BE + alarm type byte)
// so they survive restarts, mirrored in memory for the checks on every write.
import type { Backend, BackendTable } from "../mvcc/backend.js";
import { AlarmType, type AlarmMember } from "./member-api.js";

export const ALARM_TABLE = "alarm";

function alarmKey(memberId: bigint, alarm: AlarmType): Uint8Array {
  const key = new Uint8Array(9);
  new DataView(key.buffer).setBigUint64(0, BigInt.asUintN(64, memberId));
  key[8] = alarm;
  return key;
}

export class AlarmTable {
  private readonly table: BackendTable;
  private active: AlarmMember[] = [];

  constructor(private readonly backend: Backend) {
    this.table = backend.table(ALARM_TABLE);
    for (const { key } of this.table.range(undefined, undefined)) {
      const view = new DataView(key.buffer, key.byteOffset, key.byteLength);
      this.active.push({ memberId: view.getBigUint64(0), alarm: key[8] as AlarmType });
    }
  }

  /** Active alarms of one type, or all for AlarmType.NONE. */
  list(alarm: AlarmType = AlarmType.NONE): AlarmMember[] {
    return this.active.filter((a) => alarm === AlarmType.NONE || a.alarm === alarm).map((a) => ({ ...a }));
  }

  has(alarm: AlarmType): boolean {
    return this.active.some((a) => a.alarm === alarm);
  }

  /** Inside the apply transaction. */
  activate(memberId: bigint, alarm: AlarmType): void {
    if (alarm === AlarmType.NONE) return;
    if (this.active.some((a) => a.memberId === memberId && a.alarm === alarm)) return;
    this.backend.writeTxn(() => this.table.put(alarmKey(memberId, alarm), new Uint8Array(0)));
    this.active.push({ memberId, alarm });
  }

  deactivate(memberId: bigint, alarm: AlarmType): void {
    const before = this.active.length;
    this.active = this.active.filter((a) => !(a.memberId === memberId && a.alarm === alarm));
    if (this.active.length !== before) this.backend.writeTxn(() => this.table.del(alarmKey(memberId, alarm)));
  }
}
