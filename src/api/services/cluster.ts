// etcdserverpb.Cluster: MemberList. Adding, removing, updating and promoting members needs the
// peer transport and membership changes of the cluster milestone; until then they say so.
import type { MemberApi } from "../../server/member-api.js";
import { plainHeader, type ApiOptions } from "../convert.js";
import { GRPC_CODES } from "../errors.js";
import { RpcError, type HandlerTable } from "../handler-types.js";
import { addMethods, unary } from "./unary.js";

const notYet = (rpc: string) =>
  unary(`etcdserverpb.${rpc}Request`, `etcdserverpb.${rpc}Response`, () =>
    Promise.reject(
      new RpcError(
        GRPC_CODES.UNIMPLEMENTED,
        `kvorum: ${rpc} is not supported yet (membership changes arrive with multi-member clusters)`,
      ),
    ),
  );

export function clusterHandlers(member: MemberApi, _opts: ApiOptions): HandlerTable {
  return addMethods(new Map(), "etcdserverpb.Cluster", {
    MemberList: unary(
      "etcdserverpb.MemberListRequest",
      "etcdserverpb.MemberListResponse",
      async (_req, o) => {
        const members = await member.memberList(o);
        return {
          // etcd's cluster service fills identity and term only, never the revision.
          header: plainHeader(member, { revision: 0 }),
          members: members.map((m) => ({
            ID: m.id.toString(),
            name: m.name,
            peerURLs: m.peerUrls,
            clientURLs: m.clientUrls,
            isLearner: m.isLearner,
          })),
        };
      },
    ),
    MemberAdd: notYet("MemberAdd"),
    MemberRemove: notYet("MemberRemove"),
    MemberUpdate: notYet("MemberUpdate"),
    MemberPromote: notYet("MemberPromote"),
  });
}
