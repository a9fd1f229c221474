/**
 * Per-key mutual exclusion inside one process. Updates that share a session
 * key take turns (in the order they asked), so a handler that reads, awaits
 * and writes never loses another update's change; different keys never wait
 * for each other. One lock table per storage object, shared by every session
 * plugin and by the sessions API that use that storage.
 *
 * Each acquisition names its owner (the update, or a sessionStore call
 * outside updates). An owner that asks for a key it already holds, or whose
 * wait would close a cycle (update A holds "1" and waits for "2" while update
 * B holds "2" and waits for "1"), gets an error at once instead of hanging
 * forever.
 *
 * @module
 */

import { SessionError } from "./errors.ts";

/** Releases a held key; calling it twice is harmless. */
export type Release = () => void;

/** A held key: its holder, and the owners waiting for it (created on the first wait). */
interface Held {
  holder: object;
  queue: { owner: object; grant: (release: Release) => void }[] | undefined;
}

/** A table of per-key FIFO locks. */
export class KeyedLock {
  /** Per held key: who holds it and who waits for it, in order. */
  #keys = new Map<string, Held>();
  /** The keys each owner is waiting for (several at once with `Promise.all`). */
  #waiting = new Map<object, Set<string>>();

  /**
   * Takes the lock for `key` on behalf of `owner`. Returns the release
   * function at once when the key is free (no promise, no extra tick on the
   * hot path), otherwise a promise of it that resolves when the previous
   * holders release. Throws a {@linkcode SessionError} when `owner` already
   * holds `key` or when waiting would deadlock.
   */
  acquire(key: string, owner: object): Release | Promise<Release> {
    const held = this.#keys.get(key);
    if (held === undefined) {
      const entry: Held = { holder: owner, queue: undefined };
      this.#keys.set(key, entry);
      return this.#releaser(key, entry);
    }
    this.#assertCanWait(key, held, owner);
    const waits = this.#waiting.get(owner);
    if (waits) waits.add(key);
    else this.#waiting.set(owner, new Set([key]));
    return new Promise<Release>((grant) => (held.queue ??= []).push({ owner, grant }));
  }

  /** Hands the key to the next in line, or frees it. */
  #releaser(key: string, entry: Held): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = entry.queue?.shift();
      if (next === undefined) {
        this.#keys.delete(key);
        return;
      }
      const waits = this.#waiting.get(next.owner);
      waits?.delete(key);
      if (waits?.size === 0) this.#waiting.delete(next.owner);
      entry.holder = next.owner;
      next.grant(this.#releaser(key, entry));
    };
  }

  #assertCanWait(key: string, held: Held, owner: object): void {
    if (held.holder === owner || held.queue?.some((turn) => turn.owner === owner)) {
      throw new SessionError(
        `The session under the same storage key "${key}" is already held by this update, and waiting for it ` +
          "would never end. Two sessions of one update resolve to that key, or sessionStore() was used on the " +
          "session of the update that is running: use ctx.session there, or give the sessions different keys " +
          "(e.g. perUser and perChat, which prefix chat keys) or different storages.",
        key,
      );
    }
    const cycle = this.#pathBackTo(owner, key, new Set());
    if (cycle) {
      throw new SessionError(
        `Deadlock avoided: this update would wait for session "${key}" while holding one that the holder of ` +
          `"${key}" is waiting for (cycle: ${
            cycle.join(" -> ")
          }). It was stopped instead of hanging. ` +
          "Take sessions of several keys in one fixed order (for example sorted by key), or change another " +
          "user's session outside the handler.",
        key,
      );
    }
  }

  /**
   * The keys from `key` to one that `owner` holds, following "held by an
   * owner who waits for": waiting for `key` would then close a cycle.
   */
  #pathBackTo(owner: object, key: string, seen: Set<string>): string[] | undefined {
    if (seen.has(key)) return undefined;
    seen.add(key);
    const holder = this.#keys.get(key)?.holder;
    if (holder === undefined) return undefined;
    if (holder === owner) return [key];
    for (const next of this.#waiting.get(holder) ?? []) {
      const path = this.#pathBackTo(owner, next, seen);
      if (path) return [key, ...path];
    }
    return undefined;
  }
}

const locksByStorage = new WeakMap<object, KeyedLock>();

/** The lock table of a storage object. */
export function lockFor(storage: object): KeyedLock {
  let lock = locksByStorage.get(storage);
  if (!lock) locksByStorage.set(storage, lock = new KeyedLock());
  return lock;
}
