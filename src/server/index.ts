// Public surface of the member (src/server): start one, and the contract types it implements.
export { Member, startMember, type MemberLogger, type MemberOptions } from "./member.js";
export { ServerErrors } from "./errors.js";
export { NoPeerTransport, InMemoryTransportHub, type RaftTransport } from "./transport.js";
export { DataDirError } from "./data-dir.js";
export * from "./member-api.js";
