/**
 * Replay protection across restarts (docs/protocol.md section 6): for every replay window, a
 * *floor* is kept durably: every COUNT below it may have been accepted by this receiver, none at
 * or above it has been. It is moved ahead of what is accepted, in steps, like the sender's PTK ID
 * marks: a COUNT at or above the durable floor is accepted only after the floor has been saved
 * past it. After a restart (crash included), a new window starts at the floor, so nothing accepted
 * before is accepted again.
 *
 * The floor is kept `step` COUNTs ahead of the highest accepted one: the receiver raises the
 * floors of every sender that came within half a step of its floor in one batched write from a
 * timer (`extendReplayFloors`), so that in steady traffic no PDU waits for a disk write; a PDU
 * that reaches its floor anyway (a burst) waits for its own write.
 *
 * The cost of a crash: the COUNTs between the last one accepted and the floor (at most
 * `step - 1` per sender and PGK) are dropped as replays after the restart; a live sender crosses
 * them within `step` PDUs, at once when it restarts too (it resumes at a new PTK ID). A clean stop
 * costs nothing: the exact floors are written then (`settleFloors`).
 *
 * No I/O here: the durable store is in bridge/state/.
 */

/** One window's identity: (group, sender GMI, PGK), the PGK named by ID and value tag. */
export interface ReplayMarkKey {
  readonly groupId: number;
  readonly senderGmi: number;
  readonly pgkId: number;
  /** src/keys/pgk-tag.ts */
  readonly pgkTag: string;
}

export interface ReplayMarkStore {
  /** The durable floor of a window, or undefined when none was ever saved. */
  loadFloor(key: ReplayMarkKey): number | undefined;
  /**
   * Makes these floors durable before returning, in one write; a floor below the stored one
   * leaves the stored one. Throws when it cannot (a PDU that needed it is then not delivered).
   */
  raiseFloors(floors: readonly { key: ReplayMarkKey; floor: number }[]): void;
  /**
   * The same without blocking the caller's event loop for the disk, where the store can:
   * resolves true once the floors are durable, false when it wrote nothing (nothing raised: ask
   * again later); rejects when it cannot write. One at a time.
   */
  raiseFloorsInBackground?(floors: readonly { key: ReplayMarkKey; floor: number }[]): Promise<boolean>;
  /**
   * On a clean stop: makes these exact floors durable in one write, lower ones included (the
   * receiver knows the highest COUNT it accepted, so nothing accepted lies at or above them). A
   * clean restart then costs no PDU at all; only a crash costs up to `step - 1` per sender.
   */
  settleFloors(floors: readonly { key: ReplayMarkKey; floor: number }[]): void;
}

/** One past the largest COUNT. */
export const COUNT_SPACE = 0x1_0000_0000;

export function replayMarkKey(key: ReplayMarkKey): string {
  return `${key.groupId}:${key.senderGmi}:${key.pgkId}:${key.pgkTag}`;
}

export function parseReplayMarkKey(text: string): ReplayMarkKey | undefined {
  const m = /^(\d{1,8}):(\d{1,8}):(\d{1,10}):([0-9a-f]{16})$/.exec(text);
  if (!m) return undefined;
  const [groupId, senderGmi, pgkId] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (groupId > 0xffffff || senderGmi > 0xffffff || pgkId > 0xffffffff) return undefined;
  return { groupId, senderGmi, pgkId, pgkTag: m[4]! };
}

/** Checks a floor read from a store or about to be saved. */
export function checkReplayFloor(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > COUNT_SPACE) {
    throw new RangeError(`${what}: expected a COUNT floor 0..${COUNT_SPACE}, got ${String(value)}`);
  }
  return value;
}

/** In memory only: for tests and one-shot tools (it forgets on exit, which is what it protects against). */
export class MemoryReplayMarkStore implements ReplayMarkStore {
  readonly floors = new Map<string, number>();
  saves = 0;
  loadFloor(key: ReplayMarkKey): number | undefined {
    return this.floors.get(replayMarkKey(key));
  }
  raiseFloors(floors: readonly { key: ReplayMarkKey; floor: number }[]): void {
    for (const { floor } of floors) checkReplayFloor(floor, 'floor');
    for (const { key, floor } of floors) {
      const k = replayMarkKey(key);
      this.floors.set(k, Math.max(floor, this.floors.get(k) ?? 0));
    }
    this.saves++;
  }
  settleFloors(floors: readonly { key: ReplayMarkKey; floor: number }[]): void {
    for (const { key, floor } of floors) this.floors.set(replayMarkKey(key), checkReplayFloor(floor, 'floor'));
  }
}
