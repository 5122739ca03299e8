// v3electionpb.Election service handlers (stub; filled in by the LOCK helper).
import type { HandlerTable } from "../handler-types.js";
import type { MemberApi } from "../../server/member-api.js";

/** Handlers for /v3electionpb.Election/{Campaign,Proclaim,Leader,Observe,Resign}. */
export function electionHandlers(member: MemberApi): HandlerTable {
  void member;
  return new Map();
}
