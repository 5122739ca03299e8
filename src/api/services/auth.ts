// etcdserverpb.Auth while authentication does not exist yet in Kvorum: it is disabled, there are
// no users or roles, and every answer is what etcd 3.4 gives on a fresh cluster with auth
// disabled (checked against etcd). Creating users or roles needs the auth milestone and says so.
import type { MemberApi } from "../../server/member-api.js";
import { plainHeader, type ApiOptions } from "../convert.js";
import { GRPC_CODES } from "../errors.js";
import { RpcError, type HandlerTable, type PlainMessage } from "../handler-types.js";
import { addMethods, unary } from "./unary.js";

const fail = (code: number, message: string) => (): Promise<PlainMessage> =>
  Promise.reject(new RpcError(code, message));

const userNotFound = fail(GRPC_CODES.FAILED_PRECONDITION, "etcdserver: user name not found");
const roleNotFound = fail(GRPC_CODES.FAILED_PRECONDITION, "etcdserver: role name not found");
const notYet = fail(
  GRPC_CODES.UNIMPLEMENTED,
  "kvorum: users and roles are not supported yet (authentication is disabled)",
);

export function authHandlers(member: MemberApi, _opts: ApiOptions): HandlerTable {
  const header = async (): Promise<PlainMessage> => plainHeader(member, await member.status());
  const rpc = (name: string, handle: () => Promise<PlainMessage>, type = `Auth${name}`) =>
    unary(`etcdserverpb.${type}Request`, `etcdserverpb.${type}Response`, handle);
  return addMethods(new Map(), "etcdserverpb.Auth", {
    AuthStatus: rpc("Status", async () => ({ header: await header(), enabled: false, authRevision: "0" })),
    AuthEnable: rpc(
      "Enable",
      fail(GRPC_CODES.FAILED_PRECONDITION, "etcdserver: root user does not exist"),
      "AuthEnable",
    ),
    AuthDisable: rpc("Disable", async () => ({ header: await header() }), "AuthDisable"),
    Authenticate: rpc(
      "Authenticate",
      fail(GRPC_CODES.FAILED_PRECONDITION, "etcdserver: authentication is not enabled"),
      "Authenticate",
    ),
    UserAdd: rpc("UserAdd", notYet),
    UserGet: rpc("UserGet", userNotFound),
    UserList: rpc("UserList", async () => ({ header: await header(), users: [] })),
    UserDelete: rpc("UserDelete", userNotFound),
    UserChangePassword: rpc("UserChangePassword", userNotFound),
    UserGrantRole: rpc("UserGrantRole", userNotFound),
    UserRevokeRole: rpc("UserRevokeRole", userNotFound),
    RoleAdd: rpc("RoleAdd", notYet),
    RoleGet: rpc("RoleGet", roleNotFound),
    RoleList: rpc("RoleList", async () => ({ header: await header(), roles: [] })),
    RoleDelete: rpc("RoleDelete", roleNotFound),
    RoleGrantPermission: rpc("RoleGrantPermission", roleNotFound),
    RoleRevokePermission: rpc("RoleRevokePermission", roleNotFound),
  });
}
