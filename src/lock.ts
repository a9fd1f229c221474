/**
 * Per-key mutual exclusion inside one process. Updates that share a session
 * key take turns (in the order they asked), so a handler that reads, awaits
 * and writes never loses another update's change; different keys never wait
 * for each other. One lock table per storage object, shared by every session
 * plugin and by the sessions API that use that storage.
 *
 * @module
 */

/** Releases a held key; calling it twice is harmless. */
export type Release = () => void;

/** A table of per-key FIFO locks. */
export class KeyedLock {
  #tails = new Map<string, Promise<void>>();

  /**
   * Takes the lock for `key`. Returns the release function at once when the
   * key is free (no promise, no extra tick on the hot path), otherwise a
   * promise of it that resolves when the previous holder releases.
   */
  acquire(key: string): Release | Promise<Release> {
    const previous = this.#tails.get(key);
    let open!: () => void;
    const turn = new Promise<void>((resolve) => (open = resolve));
    const tail = previous ? previous.then(() => turn) : turn;
    this.#tails.set(key, tail);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      open();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    };
    return previous ? previous.then(() => release) : release;
  }

  /** Whether anyone holds or waits for `key`. */
  isBusy(key: string): boolean {
    return this.#tails.has(key);
  }
}

const locksByStorage = new WeakMap<object, KeyedLock>();

/** The lock table of a storage object. */
export function lockFor(storage: object): KeyedLock {
  let lock = locksByStorage.get(storage);
  if (!lock) locksByStorage.set(storage, lock = new KeyedLock());
  return lock;
}
