// v3lockpb.Lock service handlers (stub; filled in by the LOCK helper).
import type { HandlerTable } from "../handler-types.js";
import type { MemberApi } from "../../server/member-api.js";

/** Handlers for /v3lockpb.Lock/Lock and /v3lockpb.Lock/Unlock. */
export function lockHandlers(member: MemberApi): HandlerTable {
  void member;
  return new Map();
}
