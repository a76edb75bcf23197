/**
 * Cooperative time slices: a long loop asks {@link TimeSlice.due} as it goes and, once it has run for a slice
 * without letting go, awaits {@link TimeSlice.turn} — a full turn of the event loop (`setImmediate`, after pending
 * I/O), not a microtask — so other requests and `/healthz` are answered while it works. Asking is cheap (one clock
 * read); the turn costs a few microseconds and happens at most once per slice.
 */
import { performance } from 'node:perf_hooks';

/** How long a loop may run before it lets other work in (ms). */
export const SLICE_MS = 5;

/** The time slice of one piece of work. */
export class TimeSlice {
  private since = performance.now();

  /** @param sliceMs - the slice length */
  constructor(private readonly sliceMs = SLICE_MS) {}

  /**
   * Whether the work has run for a whole slice since it last let go.
   * @returns true when it should await {@link TimeSlice.turn}
   */
  due(): boolean {
    return performance.now() - this.since >= this.sliceMs;
  }

  /**
   * Lets the event loop turn once, then starts a new slice.
   * @returns a promise settled on the next turn
   */
  turn(): Promise<void> {
    return new Promise((resolve) => {
      setImmediate(() => {
        this.since = performance.now();
        resolve();
      });
    });
  }

  /**
   * {@link TimeSlice.turn} when due, else nothing to wait for.
   * @returns a promise to await, or undefined
   */
  breathe(): Promise<void> | undefined {
    return this.due() ? this.turn() : undefined;
  }
}
