// Wires the corruption checks of corruption-check.ts to a Member: the periodic monitor (started
// by the member itself when --experimental-corrupt-check-time is set and it can reach its peers)
// and the start-up check (run by the server between opening storage and starting raft).
import type { Member } from "./member.js";
import type { PeerCaller } from "../transport/types.js";
import { AlarmAction, AlarmType } from "./member-api.js";
import { nodeIdOf } from "./identity.js";
import {
  initialCorruptCheck,
  startCorruptionMonitor,
  type CorruptionLogger,
  type CorruptionMonitor,
  type CorruptionMonitorHost,
} from "./corruption-check.js";

/** etcd's ReqTimeout(): 5 s plus twice the election timeout. */
function requestTimeoutMs(member: Member): number {
  return 5000 + 2 * member.config.electionTimeoutMs;
}

export function corruptionHostOf(
  member: Member,
  caller: PeerCaller,
  logger: CorruptionLogger,
): CorruptionMonitorHost {
  const self = nodeIdOf(member.header().memberId);
  return {
    self,
    isLeader: () => member.leaderId() === member.header().memberId,
    hashKV: (rev) => member.hashKV(rev),
    peers: () => member.peerUrls(),
    caller,
    barrier: () => member.linearizableRead(),
    // etcd 3.4.23 raises CORRUPT for member 0: a mismatch does not tell which member is damaged.
    raiseCorrupt: () =>
      member.alarm({ action: AlarmAction.ACTIVATE, memberId: 0n, alarm: AlarmType.CORRUPT }),
    timeoutMs: requestTimeoutMs(member),
    logger,
  };
}

/** The periodic check, when configured and the member has a way to ask its peers. */
export function startMemberCorruptionMonitor(
  member: Member,
  caller: PeerCaller | undefined,
  logger: CorruptionLogger,
): CorruptionMonitor | undefined {
  const every = member.config.experimentalCorruptCheckTimeMs;
  if (!(every > 0) || caller === undefined) return undefined;
  return startCorruptionMonitor(corruptionHostOf(member, caller, logger), every);
}

/** The start-up check on a member whose storage is open and whose raft has not started. */
export async function runInitialCorruptCheck(
  member: Member,
  caller: PeerCaller,
  logger: CorruptionLogger,
): Promise<void> {
  await initialCorruptCheck({
    self: nodeIdOf(member.header().memberId),
    local: await member.hashKV(0),
    peers: member.peerUrls(),
    caller,
    timeoutMs: requestTimeoutMs(member),
    logger,
  });
}
