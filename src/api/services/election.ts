// v3electionpb.Election: Campaign, Proclaim, Leader, Observe and Resign over the election recipe
// in src/server/concurrency, in the plain message convention of handler-types.ts.
import {
  campaign,
  ConcurrencyErrors,
  currentLeader,
  observe,
  proclaim,
  resign,
  type LeaderKey,
  type LeaderObservation,
} from "../../server/concurrency/index.js";
import type { MemberApi } from "../../server/member-api.js";
import { numberField } from "../convert.js";
import type { HandlerTable, PlainMessage, ServerStreamHandler } from "../handler-types.js";
import {
  bytesField,
  concurrencyRpcError,
  concurrencyUnary,
  int64Field,
  plainHeader,
  plainKeyValue,
} from "./lock.js";

const SERVICE = "/v3electionpb.Election/";

/** The request's `leader` (LeaderKey); etcd rejects a request without one. */
function leaderKeyField(req: PlainMessage): LeaderKey {
  const v = req["leader"];
  if (v === null || v === undefined || typeof v !== "object") throw ConcurrencyErrors.missingLeaderKey();
  const msg = v as PlainMessage;
  return {
    name: bytesField(msg, "name"),
    key: bytesField(msg, "key"),
    // Clamped to the safe range like every revision a request carries: no stored key has a
    // larger one, so a compare against it fails as in etcd instead of failing to encode.
    rev: numberField(msg, "rev"),
    lease: int64Field(msg, "lease"),
  };
}

function plainLeaderKey(leader: LeaderKey): PlainMessage {
  return { name: leader.name, key: leader.key, rev: String(leader.rev), lease: leader.lease.toString() };
}

function leaderResponse(member: MemberApi, obs: LeaderObservation): PlainMessage {
  return { header: plainHeader(member, obs.header), kv: plainKeyValue(obs.kv) };
}

/** Handlers for /v3electionpb.Election/{Campaign,Proclaim,Leader,Observe,Resign}. */
export function electionHandlers(member: MemberApi): HandlerTable {
  const table: HandlerTable = new Map();
  table.set(
    SERVICE + "Campaign",
    concurrencyUnary("v3electionpb.CampaignRequest", "v3electionpb.CampaignResponse", async (req, signal) => {
      const won = await campaign(
        member,
        bytesField(req, "name"),
        int64Field(req, "lease"),
        bytesField(req, "value"),
        signal,
      );
      return { header: plainHeader(member, won.header), leader: plainLeaderKey(won.leader) };
    }),
  );
  table.set(
    SERVICE + "Proclaim",
    concurrencyUnary("v3electionpb.ProclaimRequest", "v3electionpb.ProclaimResponse", async (req, signal) => {
      const header = await proclaim(member, leaderKeyField(req), bytesField(req, "value"), signal);
      return { header: plainHeader(member, header) };
    }),
  );
  table.set(
    SERVICE + "Leader",
    concurrencyUnary("v3electionpb.LeaderRequest", "v3electionpb.LeaderResponse", async (req, signal) =>
      leaderResponse(member, await currentLeader(member, bytesField(req, "name"), signal)),
    ),
  );
  table.set(
    SERVICE + "Resign",
    concurrencyUnary("v3electionpb.ResignRequest", "v3electionpb.ResignResponse", async (req, signal) => {
      const header = await resign(member, leaderKeyField(req), signal);
      return { header: plainHeader(member, header) };
    }),
  );
  const observeHandler: ServerStreamHandler = {
    kind: "server-stream",
    requestType: "v3electionpb.LeaderRequest",
    responseType: "v3electionpb.LeaderResponse",
    async *handle(req, ctx) {
      try {
        for await (const obs of observe(member, bytesField(req, "name"), ctx.signal)) {
          yield leaderResponse(member, obs);
        }
      } catch (err) {
        throw concurrencyRpcError(err);
      }
    },
  };
  table.set(SERVICE + "Observe", observeHandler);
  return table;
}
