// etcdserverpb.Cluster: MemberAdd (voter or learner), MemberRemove, MemberUpdate, MemberList and
// MemberPromote. The member runs changes on the leader and answers once they are applied
// locally; responses carry the whole member list as etcd's do.
import type { MemberApi, MemberInfo } from "../../server/member-api.js";
import { boolField, int64Field, plainHeader, type ApiOptions } from "../convert.js";
import type { HandlerTable, PlainMessage } from "../handler-types.js";
import { addMethods, unary } from "./unary.js";

function plainMember(m: MemberInfo): PlainMessage {
  return {
    ID: m.id.toString(),
    name: m.name,
    peerURLs: m.peerUrls,
    clientURLs: m.clientUrls,
    isLearner: m.isLearner,
  };
}

function stringList(req: PlainMessage, field: string): string[] {
  const v = req[field];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

export function clusterHandlers(member: MemberApi, _opts: ApiOptions): HandlerTable {
  // etcd's cluster service fills identity and term only, never the revision.
  const header = () => plainHeader(member, { revision: 0 });
  return addMethods(new Map(), "etcdserverpb.Cluster", {
    MemberList: unary(
      "etcdserverpb.MemberListRequest",
      "etcdserverpb.MemberListResponse",
      async (_req, o) => {
        const members = await member.memberList(o);
        return { header: header(), members: members.map(plainMember) };
      },
    ),
    MemberAdd: unary("etcdserverpb.MemberAddRequest", "etcdserverpb.MemberAddResponse", async (req, o) => {
      const r = await member.memberAdd(stringList(req, "peerURLs"), boolField(req, "isLearner"), o);
      return { header: header(), member: plainMember(r.member), members: r.members.map(plainMember) };
    }),
    MemberRemove: unary(
      "etcdserverpb.MemberRemoveRequest",
      "etcdserverpb.MemberRemoveResponse",
      async (req, o) => {
        const members = await member.memberRemove(BigInt.asUintN(64, int64Field(req, "ID")), o);
        return { header: header(), members: members.map(plainMember) };
      },
    ),
    MemberUpdate: unary(
      "etcdserverpb.MemberUpdateRequest",
      "etcdserverpb.MemberUpdateResponse",
      async (req, o) => {
        const members = await member.memberUpdate(
          BigInt.asUintN(64, int64Field(req, "ID")),
          stringList(req, "peerURLs"),
          o,
        );
        return { header: header(), members: members.map(plainMember) };
      },
    ),
    MemberPromote: unary(
      "etcdserverpb.MemberPromoteRequest",
      "etcdserverpb.MemberPromoteResponse",
      async (req, o) => {
        const members = await member.memberPromote(BigInt.asUintN(64, int64Field(req, "ID")), o);
        return { header: header(), members: members.map(plainMember) };
      },
    ),
  });
}
