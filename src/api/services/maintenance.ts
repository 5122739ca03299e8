// etcdserverpb.Maintenance: Alarm, Status, Defragment, Hash, HashKV, Snapshot (server stream),
// MoveLeader.
import { snapshotResponses } from "../../server/maintenance/backend-snapshot.js";
import type { MemberApi } from "../../server/member-api.js";
import { int64Field, intField, numberField, plainHeader, type ApiOptions } from "../convert.js";
import { toRpcError } from "../errors.js";
import type { HandlerTable, ServerStreamHandler } from "../handler-types.js";
import { addMethods, unary } from "./unary.js";

export function maintenanceHandlers(member: MemberApi, _opts: ApiOptions): HandlerTable {
  const snapshot: ServerStreamHandler = {
    kind: "server-stream",
    requestType: "etcdserverpb.SnapshotRequest",
    responseType: "etcdserverpb.SnapshotResponse",
    async *handle() {
      let stream;
      try {
        stream = await member.snapshot();
      } catch (err) {
        throw toRpcError(err);
      }
      // Every chunk carries the same header: identity, term and the revision when the copy began.
      const header = plainHeader(member, await member.status());
      for await (const chunk of snapshotResponses(stream)) {
        yield { header, remaining_bytes: String(chunk.remainingBytes), blob: chunk.blob };
      }
    },
  };

  return addMethods(new Map(), "etcdserverpb.Maintenance", {
    Alarm: unary("etcdserverpb.AlarmRequest", "etcdserverpb.AlarmResponse", async (req, o) => {
      const result = await member.alarm(
        {
          action: intField(req, "action"),
          memberId: int64Field(req, "memberID"),
          alarm: intField(req, "alarm"),
        },
        o,
      );
      return {
        header: plainHeader(member, result),
        alarms: result.alarms.map((a) => ({ memberID: a.memberId.toString(), alarm: a.alarm })),
      };
    }),
    Status: unary("etcdserverpb.StatusRequest", "etcdserverpb.StatusResponse", async () => {
      const s = await member.status();
      return {
        header: plainHeader(member, s),
        version: s.version,
        dbSize: String(s.dbSize),
        leader: s.leader.toString(),
        raftIndex: String(s.raftIndex),
        raftTerm: String(s.raftTerm),
        raftAppliedIndex: String(s.raftAppliedIndex),
        errors: s.errors,
        dbSizeInUse: String(s.dbSizeInUse),
        isLearner: s.isLearner,
      };
    }),
    Defragment: unary("etcdserverpb.DefragmentRequest", "etcdserverpb.DefragmentResponse", async () => {
      await member.defragment();
      return {}; // etcd 3.4 answers without a header
    }),
    Hash: unary("etcdserverpb.HashRequest", "etcdserverpb.HashResponse", async () => {
      const h = await member.hash();
      return { header: plainHeader(member, h), hash: h.hash };
    }),
    HashKV: unary("etcdserverpb.HashKVRequest", "etcdserverpb.HashKVResponse", async (req) => {
      const h = await member.hashKV(numberField(req, "revision"));
      return { header: plainHeader(member, h), hash: h.hash, compact_revision: String(h.compactRevision) };
    }),
    Snapshot: snapshot,
    MoveLeader: unary("etcdserverpb.MoveLeaderRequest", "etcdserverpb.MoveLeaderResponse", async (req, o) => {
      await member.moveLeader(int64Field(req, "targetID"), o);
      return {}; // etcd 3.4 answers without a header
    }),
  });
}
