// Watch IDs are int64 in etcd, and a client may pick its own (WatchCreateRequest.watch_id). The
// watch layer keys watchers by JS number, exact only up to 2^53. An ID a client picks beyond that
// is given a stand-in number here, for as long as its watcher lives, and answers carry the
// client's exact ID again. Stand-ins are non-integers (2^51 + 0.5, + 1.5, ...), so they can never
// equal an ID a client sends or one the watch stream picks itself.

const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);
const SAFE_MIN = BigInt(Number.MIN_SAFE_INTEGER);
const FIRST_STAND_IN = 2 ** 51 + 0.5;

const isSafe = (id: bigint): boolean => id >= SAFE_MIN && id <= SAFE_MAX;

export class WatchIdMap {
  private readonly standIns = new Map<bigint, number>();
  private readonly clientIds = new Map<number, bigint>();
  private nextStandIn = FIRST_STAND_IN;

  /** The number to create a watcher with for the client's `id`; `fresh` if allocated now. */
  forCreate(id: bigint): { id: number; fresh: boolean } {
    if (isSafe(id)) return { id: Number(id), fresh: false };
    const known = this.standIns.get(id);
    if (known !== undefined) return { id: known, fresh: false };
    const standIn = this.nextStandIn++;
    this.standIns.set(id, standIn);
    this.clientIds.set(standIn, id);
    return { id: standIn, fresh: true };
  }

  /** The number of the client's watcher `id`, or undefined if it has none. */
  lookup(id: bigint): number | undefined {
    return isSafe(id) ? Number(id) : this.standIns.get(id);
  }

  /** The client's decimal ID for a watcher number. */
  clientId(id: number): string {
    return (this.clientIds.get(id) ?? id).toString();
  }

  /** Forgets a stand-in once its watcher is gone. */
  release(id: number): void {
    const clientId = this.clientIds.get(id);
    if (clientId === undefined) return;
    this.clientIds.delete(id);
    this.standIns.delete(clientId);
  }
}
