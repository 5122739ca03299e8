// The JSON gateway's URL paths (etcd 3.4's google.api.http annotations) and the gRPC method each
// one calls. etcd also accepts /v3beta/... by rewriting it to /v3/... before routing.

const KV = "/etcdserverpb.KV/";
const WATCH = "/etcdserverpb.Watch/";
const LEASE = "/etcdserverpb.Lease/";
const CLUSTER = "/etcdserverpb.Cluster/";
const MAINT = "/etcdserverpb.Maintenance/";
const AUTH = "/etcdserverpb.Auth/";
const LOCK = "/v3lockpb.Lock/";
const ELECTION = "/v3electionpb.Election/";

const ROUTES: ReadonlyArray<readonly [string, string]> = [
  ["/v3/kv/range", KV + "Range"],
  ["/v3/kv/put", KV + "Put"],
  ["/v3/kv/deleterange", KV + "DeleteRange"],
  ["/v3/kv/txn", KV + "Txn"],
  ["/v3/kv/compaction", KV + "Compact"],
  ["/v3/watch", WATCH + "Watch"],
  ["/v3/lease/grant", LEASE + "LeaseGrant"],
  ["/v3/lease/revoke", LEASE + "LeaseRevoke"],
  ["/v3/kv/lease/revoke", LEASE + "LeaseRevoke"],
  ["/v3/lease/keepalive", LEASE + "LeaseKeepAlive"],
  ["/v3/lease/timetolive", LEASE + "LeaseTimeToLive"],
  ["/v3/kv/lease/timetolive", LEASE + "LeaseTimeToLive"],
  ["/v3/lease/leases", LEASE + "LeaseLeases"],
  ["/v3/kv/lease/leases", LEASE + "LeaseLeases"],
  ["/v3/cluster/member/add", CLUSTER + "MemberAdd"],
  ["/v3/cluster/member/remove", CLUSTER + "MemberRemove"],
  ["/v3/cluster/member/update", CLUSTER + "MemberUpdate"],
  ["/v3/cluster/member/list", CLUSTER + "MemberList"],
  ["/v3/cluster/member/promote", CLUSTER + "MemberPromote"],
  ["/v3/maintenance/alarm", MAINT + "Alarm"],
  ["/v3/maintenance/status", MAINT + "Status"],
  ["/v3/maintenance/defragment", MAINT + "Defragment"],
  // etcd 3.4 annotates both Hash and HashKV with this path; the gateway answers with Hash.
  ["/v3/maintenance/hash", MAINT + "Hash"],
  ["/v3/maintenance/snapshot", MAINT + "Snapshot"],
  ["/v3/maintenance/transfer-leadership", MAINT + "MoveLeader"],
  ["/v3/auth/enable", AUTH + "AuthEnable"],
  ["/v3/auth/disable", AUTH + "AuthDisable"],
  ["/v3/auth/status", AUTH + "AuthStatus"],
  ["/v3/auth/authenticate", AUTH + "Authenticate"],
  ["/v3/auth/user/add", AUTH + "UserAdd"],
  ["/v3/auth/user/get", AUTH + "UserGet"],
  ["/v3/auth/user/list", AUTH + "UserList"],
  ["/v3/auth/user/delete", AUTH + "UserDelete"],
  ["/v3/auth/user/changepw", AUTH + "UserChangePassword"],
  ["/v3/auth/user/grant", AUTH + "UserGrantRole"],
  ["/v3/auth/user/revoke", AUTH + "UserRevokeRole"],
  ["/v3/auth/role/add", AUTH + "RoleAdd"],
  ["/v3/auth/role/get", AUTH + "RoleGet"],
  ["/v3/auth/role/list", AUTH + "RoleList"],
  ["/v3/auth/role/delete", AUTH + "RoleDelete"],
  ["/v3/auth/role/grant", AUTH + "RoleGrantPermission"],
  ["/v3/auth/role/revoke", AUTH + "RoleRevokePermission"],
  ["/v3/lock/lock", LOCK + "Lock"],
  ["/v3/lock/unlock", LOCK + "Unlock"],
  ["/v3/election/campaign", ELECTION + "Campaign"],
  ["/v3/election/proclaim", ELECTION + "Proclaim"],
  ["/v3/election/leader", ELECTION + "Leader"],
  ["/v3/election/observe", ELECTION + "Observe"],
  ["/v3/election/resign", ELECTION + "Resign"],
];

/** Gateway path (after the /v3beta rewrite) → gRPC method path. */
export const GATEWAY_ROUTES: ReadonlyMap<string, string> = new Map(ROUTES);

/** The /v3 path a request targets: /v3beta/x becomes /v3/x as in etcd; the query is dropped. */
export function gatewayPath(url: string): string {
  const q = url.indexOf("?");
  const path = q >= 0 ? url.slice(0, q) : url;
  return path.startsWith("/v3beta/") ? "/v3/" + path.slice("/v3beta/".length) : path;
}

/** "/etcdserverpb.KV/Range" → service "etcdserverpb.KV", method "Range". */
export function splitMethodPath(path: string): { service: string; method: string } {
  const slash = path.lastIndexOf("/");
  return { service: path.slice(1, slash), method: path.slice(slash + 1) };
}
