/**
 * One writer at a time for a workflow's entity (a deal, an order), in the order the requests
 * arrived. Update handlers run concurrently; each that writes Postgres holds this lock from its
 * re-check of the rules until its write is applied, so no two handlers decide from the same state.
 *
 * Why not `await condition(() => !busy)`: the SDK resolves every blocked condition whose predicate
 * is true in one pass before any continuation runs (and evaluates a new condition eagerly), so when
 * the lock frees — or when several Updates arrive in one activation while it is free — every waiter
 * sees `!busy` and they all enter together. Here the holder hands the lock straight to the next
 * waiter instead: plain promises in a queue, deterministic, nothing else to wake.
 *
 * Histories recorded before this lock replay on the old path (guarded by `patched()`): a replayed
 * waiter wakes as it did then; from the first acquisition that runs live, the queue decides.
 */
import { condition, patched } from '@temporalio/workflow';

/** Shipped once: the marker in every history that took turns through the queue. */
export const ENTITY_LOCK_PATCH = 'entity-lock-fifo';

export class EntityLock {
  private held = false;
  private readonly waiting: Array<() => void> = [];

  /**
   * Whether callers take turns in the queue: false only while replaying a history recorded before
   * it, where the caller must also keep what it did then.
   */
  takesTurns(): boolean {
    return patched(ENTITY_LOCK_PATCH);
  }

  /** Runs `work` once every earlier caller has finished, then hands over to the next. */
  async exclusive<T>(work: () => Promise<T>): Promise<T> {
    if (this.takesTurns()) {
      if (this.held) await new Promise<void>((resolve) => this.waiting.push(resolve));
      else this.held = true;
    } else {
      // The path histories recorded before the queue took, step for step (same awaits, same order).
      await condition(() => !this.held);
      // Woken after the run went live: another may have entered in the same pass; take a turn.
      if (this.takesTurns() && this.held) await new Promise<void>((resolve) => this.waiting.push(resolve));
      else this.held = true;
    }
    try {
      return await work();
    } finally {
      this.release();
    }
  }

  private release(): void {
    const next = this.waiting.shift();
    // The lock passes to the next waiter without ever being free, so no one can slip in between.
    if (next) next();
    else this.held = false;
  }
}
