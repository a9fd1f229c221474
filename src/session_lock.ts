/**
 * The per-key lock one session holds in one update (lock.ts keeps the
 * table): taken before the read and kept until the save, so updates of one
 * user never interleave. It is given up early in two cases, after which the
 * save checks for saves made meanwhile: taken away after `lockTimeout`, and
 * let go while a handler waits for a later update of the same user (then
 * taken again before the handler goes on).
 *
 * @module
 */

import { describeOwner, type LockTenant, type Release } from "./lock.ts";
import { log, logSession, since } from "./log.ts";
import type { SessionRuntime } from "./options.ts";

/** One session's hold on its key. */
export class SessionLock implements LockTenant {
  #release: Release | undefined;
  /** Let go of while the handler waits for a later update; taken again after. */
  #parked = false;
  readonly #runtime: SessionRuntime;
  readonly #key: string;
  /** Who holds the key: the update's context, or a sessionStore call's own token. */
  readonly #owner: object;
  /** Told when the key was given up before the save (the save then checks first). */
  readonly #save: { lockLost(): void };

  constructor(runtime: SessionRuntime, key: string, owner: object, save: { lockLost(): void }) {
    this.#runtime = runtime;
    this.#key = key;
    this.#owner = owner;
    this.#save = save;
  }

  /** Whether the key is held now. */
  get held(): boolean {
    return this.#release !== undefined;
  }

  /** Takes the key: at once when it is free (no promise), else after the wait. */
  take(): void | Promise<void> {
    const { lock, lockTimeout } = this.#runtime;
    const acquired = lock.acquire(this.#key, this.#owner, this, lockTimeout);
    if (typeof acquired !== "function") return this.#waited(acquired);
    this.#release = acquired;
  }

  /** Gives the key back (once; later calls do nothing). */
  release(): void {
    this.#release?.();
    this.#release = undefined;
  }

  /** The key was handed to a waiter after `lockTimeout` (see lock.ts). */
  evicted(): void {
    this.#release = undefined;
    this.#save.lockLost();
    if (log.enabled) this.#log("lost the lock after %sms (lockTimeout)", this.#runtime.lockTimeout);
  }

  /** Lets go of the key while the handler waits for a later update. */
  park(): void {
    this.release();
    this.#parked = true;
    this.#save.lockLost();
    if (log.enabled) this.#log("lets go of the lock while the handler waits for a later update");
  }

  /**
   * The wait is over: takes the key again before the handler goes on, unless
   * the update has ended by then (`ended`).
   */
  resume(ended: () => boolean): void | Promise<void> {
    if (!this.#parked) return;
    this.#parked = false;
    if (ended()) return;
    const taken = this.take();
    if (taken === undefined) return;
    return taken.then(() => {
      // The update ended while waiting (the handler did not await the prompt).
      if (ended()) this.release();
    });
  }

  /** Waits for the key, logging who holds it when the wait starts and how long it took. */
  #waited(acquired: Promise<Release>): Promise<void> {
    const waitStart = log.enabled ? performance.now() : 0;
    if (log.enabled) {
      const holder = this.#runtime.lock.holderOf(this.#key);
      this.#log(
        "waits for %s, which holds this session (at most %sms)",
        holder ? describeOwner(holder) : "an earlier update",
        this.#runtime.lockTimeout,
      );
    }
    return acquired.then((release) => {
      this.#release = release;
      if (log.enabled) {
        this.#log("waited %sms for an earlier update of this key", since(waitStart));
      }
    });
  }

  #log(format: string, ...args: unknown[]): void {
    logSession(this.#runtime.property, this.#key, format, ...args);
  }
}
