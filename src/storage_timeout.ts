/**
 * A bound on every storage call. A storage whose promise never settles (a
 * dropped connection with no socket timeout, a stuck file lock) would
 * otherwise hold the session's lock, and with it every later update of that
 * user, forever.
 *
 * Not one timer per call: in Deno, setTimeout plus clearTimeout cost several
 * µs (~20 on a busy machine), and so does reading a clock (`performance.now()`
 * ~0.6 µs). One ticking timer per timeout length serves every call in flight
 * (see `Deadlines`): a call costs a Set entry and the wrapping promise. The
 * timer ticks only while calls are in flight and is unref'd, so it never
 * keeps a process alive on its own.
 *
 * @module
 */

import { setTimeout as setTimer } from "node:timers";
import { isThenable } from "./thenable.ts";

/** The default `storageTimeout`: 10 s, far above any healthy storage call. */
export const DEFAULT_STORAGE_TIMEOUT = 10_000;

/** What a storage call that did not settle in time rejects with (the plugin wraps it in `SessionStorageError`). */
export class StorageTimeoutError extends Error {
  constructor(ms: number) {
    super(
      `timed out after ${ms} ms (storageTimeout): the storage never answered. Check its connection, ` +
        "or raise storageTimeout if it is only slow",
    );
    this.name = "StorageTimeoutError";
  }
}

/**
 * How many slots the timeout is split into: a call fails between `ms` and
 * `ms * SLOTS / (SLOTS - 1)` after it started (10 to 12.5 s by default).
 */
const SLOTS = 5;

/**
 * The calls in flight with one timeout length, by the tick they started in: a
 * ring of slots, one tick (`ms / (SLOTS - 1)`) each. At every tick the oldest
 * slot's calls fail and it takes the new ones. No clock is read per call.
 */
class Deadlines {
  readonly #slots: Set<(error: Error) => void>[] = Array.from({ length: SLOTS }, () => new Set());
  #current = 0;
  #pending = 0;
  #ticking = false;

  constructor(readonly ms: number) {}

  /** Registers a call's `fail`; returns what `remove` needs. */
  add(fail: (error: Error) => void): Set<(error: Error) => void> {
    const slot = this.#slots[this.#current];
    slot.add(fail);
    this.#pending++;
    if (!this.#ticking) this.#tick();
    return slot;
  }

  /** The call settled in time. */
  remove(slot: Set<(error: Error) => void>, fail: (error: Error) => void): void {
    if (slot.delete(fail)) this.#pending--;
  }

  #tick(): void {
    this.#ticking = true;
    setTimer(() => {
      this.#current = (this.#current + 1) % SLOTS;
      const expired = this.#slots[this.#current];
      for (const fail of expired) fail(new StorageTimeoutError(this.ms));
      this.#pending -= expired.size;
      expired.clear();
      this.#ticking = false;
      if (this.#pending > 0) this.#tick();
    }, this.ms / (SLOTS - 1)).unref();
  }
}

const deadlinesByMs = new Map<number, Deadlines>();
/** The last list used: one `storageTimeout` in a process is the usual case. */
let last: Deadlines | undefined;

function deadlinesFor(ms: number): Deadlines {
  if (last?.ms === ms) return last;
  let deadlines = deadlinesByMs.get(ms);
  if (!deadlines) deadlinesByMs.set(ms, deadlines = new Deadlines(ms));
  return last = deadlines;
}

/**
 * A storage call's answer, bounded to `ms`: a synchronous answer is returned
 * as it is (no promise, no timer); a promise is wrapped in one that rejects
 * with {@linkcode StorageTimeoutError} if it has not settled after `ms`.
 * Whatever it settles to later is ignored.
 */
export function bounded<T>(answer: PromiseLike<T>, ms: number): Promise<T>;
export function bounded<T>(answer: T | PromiseLike<T>, ms: number): T | Promise<T>;
export function bounded<T>(answer: T | PromiseLike<T>, ms: number): T | Promise<T> {
  if (!isThenable(answer)) return answer as T;
  const deadlines = deadlinesFor(ms);
  return new Promise<T>((resolve, reject) => {
    const slot = deadlines.add(reject);
    (answer as PromiseLike<T>).then(
      (value) => {
        deadlines.remove(slot, reject);
        resolve(value);
      },
      (error) => {
        deadlines.remove(slot, reject);
        reject(error);
      },
    );
  });
}
