/**
 * Keeping the event loop free during long in-memory work (a million records): a worker runs
 * other workflows' activities, heartbeats and timers on the same loop, so no step may hold it
 * for long. `pacer(sliceMs)` returns a function to await often (cheap when the slice has not
 * run out): once `sliceMs` have passed since the last pause, it lets the loop run (setImmediate)
 * and starts a new slice.
 */
export type Pause = () => Promise<void>;

/** The longest a step runs without letting the loop through, by default. */
export const SLICE_MS = 40;

export function pacer(sliceMs = SLICE_MS): Pause {
  let last = Date.now();
  return async () => {
    if (Date.now() - last < sliceMs) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    last = Date.now();
  };
}

/** Never pauses: for callers (tests, the quality bench) that own the process. */
export const noPause: Pause = async () => undefined;
