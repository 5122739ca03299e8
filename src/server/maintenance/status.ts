// Status.errors as etcd 3.4 fills it (v3rpc/maintenance.go): "etcdserver: no leader" when the
// member knows no leader, then one entry per active alarm in AlarmMember's text form.
import type { AlarmStore } from "./alarms.js";

export const NO_LEADER_ERROR = "etcdserver: no leader";

export function statusErrors(leaderId: bigint, alarms: Pick<AlarmStore, "statusErrors">): string[] {
  const errors = leaderId === 0n ? [NO_LEADER_ERROR] : [];
  return [...errors, ...alarms.statusErrors()];
}
