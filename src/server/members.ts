// The cluster's members as the replicated state knows them: ID, name, peer URLs, client URLs and
// whether each is a learner. Kept in the backend's "members" table (key: member ID, 8 bytes BE;
// value: JSON) so it survives restarts and travels in snapshots, changed only by applied
// entries (a member's Publish now; membership changes with the Cluster API). A new cluster's table
// starts from --initial-cluster, which every member of it was given identically.
import type { Backend, BackendTable } from "../mvcc/backend.js";
import type { MemberInfo } from "./member-api.js";

export const MEMBERS_TABLE = "members";
/** IDs of removed members (key: ID, 8 bytes BE; empty value): they are refused for good. */
export const REMOVED_MEMBERS_TABLE = "members_removed";

interface StoredMember {
  name: string;
  peerUrls: string[];
  clientUrls: string[];
  isLearner: boolean;
}

function idKey(id: bigint): Uint8Array {
  const key = new Uint8Array(8);
  new DataView(key.buffer).setBigUint64(0, BigInt.asUintN(64, id));
  return key;
}

const utf8 = new TextEncoder();
const utf8d = new TextDecoder();

export class MemberTable {
  private readonly table: BackendTable;
  private readonly members = new Map<bigint, MemberInfo>();
  private readonly removedTable: BackendTable;
  private readonly removed = new Set<bigint>();

  constructor(private readonly backend: Backend) {
    this.table = backend.table(MEMBERS_TABLE);
    this.removedTable = backend.table(REMOVED_MEMBERS_TABLE);
    for (const { key } of this.removedTable.range(undefined, undefined)) {
      this.removed.add(new DataView(key.buffer, key.byteOffset, key.byteLength).getBigUint64(0));
    }
    for (const { key, value } of this.table.range(undefined, undefined)) {
      const id = new DataView(key.buffer, key.byteOffset, key.byteLength).getBigUint64(0);
      const stored = JSON.parse(utf8d.decode(value)) as StoredMember;
      this.members.set(id, { id, ...stored });
    }
  }

  get size(): number {
    return this.members.size;
  }

  /** Every member, ordered by ID. */
  list(): MemberInfo[] {
    return [...this.members.values()]
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((m) => ({ ...m, peerUrls: [...m.peerUrls], clientUrls: [...m.clientUrls] }));
  }

  get(id: bigint): MemberInfo | undefined {
    const m = this.members.get(id);
    return m === undefined ? undefined : { ...m, peerUrls: [...m.peerUrls], clientUrls: [...m.clientUrls] };
  }

  /** Adds or replaces a member (inside the apply transaction, or at bootstrap). */
  set(member: MemberInfo): void {
    const stored: StoredMember = {
      name: member.name,
      peerUrls: [...member.peerUrls],
      clientUrls: [...member.clientUrls],
      isLearner: member.isLearner,
    };
    this.backend.writeTxn(() => this.table.put(idKey(member.id), utf8.encode(JSON.stringify(stored))));
    this.members.set(member.id, { id: member.id, ...stored });
  }

  remove(id: bigint): void {
    if (!this.members.delete(id)) return;
    this.removed.add(id);
    this.backend.writeTxn(() => {
      this.table.del(idKey(id));
      this.removedTable.put(idKey(id), new Uint8Array(0));
    });
  }

  /** Was this member removed from the cluster (its traffic is refused for good)? */
  isRemoved(id: bigint): boolean {
    return this.removed.has(id);
  }

  /** A member's published attributes; ignored for a member that is not (or no longer) in the table. */
  publish(id: bigint, name: string, clientUrls: readonly string[]): void {
    const m = this.members.get(id);
    if (m === undefined) return;
    this.set({ ...m, name, clientUrls: [...clientUrls] });
  }
}
