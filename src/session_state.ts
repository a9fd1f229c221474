/**
 * One session in one update: what `ctx[key]` reads and assigns. Loads the
 * session once (under the per-key lock, session_lock.ts), hands it to the
 * handlers, and when they are done saves it (session_save.ts) and unlocks.
 * Decoding the stored value is stored_value.ts's job; building session
 * objects from `initial()` or an assignment is session_data.ts's.
 *
 * @module
 */

import type { SessionSlot } from "./context_property.ts";
import { log, logSession } from "./log.ts";
import type { SessionRuntime } from "./options.ts";
import { adoptInPlace, assignedSession, attachClear, initialSession } from "./session_data.ts";
import { SessionLoad } from "./session_load.ts";
import { SessionLock } from "./session_lock.ts";
import { SessionSave } from "./session_save.ts";
import { LateUse, notLoaded } from "./session_unavailable.ts";
import { whenSettled } from "./thenable.ts";

export class SessionState implements SessionSlot {
  /** The session object handlers see; set once loaded. */
  data: object | undefined;
  /** The load as a promise, for lazy reads and for waiting on a load in flight. */
  #loading: Promise<object> | undefined;
  /** Whether loading started: what is not loaded is neither saved nor unlocked. */
  #started = false;
  /** The update is over: a first load now would take a lock nobody releases. */
  #closed = false;
  /** A `$clear()` started by assigning `null`: the commit waits for it. */
  #clearing: Promise<unknown> | undefined;
  /** `undefined` for a read-only look after the update ended: no lock, never saved. */
  readonly #lock: SessionLock | undefined;
  readonly #save: SessionSave;
  readonly #load: SessionLoad;
  readonly #runtime: SessionRuntime;
  readonly #key: string;
  /** The update's context: what `initial()` receives and where `ctx[key]` points here. */
  readonly context: object;
  readonly #owner: object;

  /**
   * `ctx` is what `initial()` receives; `owner` is who holds the lock (the
   * update's context, or a sessionStore call's own token).
   */
  constructor(
    runtime: SessionRuntime,
    sessionKey: string,
    ctx: object,
    owner: object = ctx,
    locking = true,
  ) {
    this.#runtime = runtime;
    this.#key = sessionKey;
    this.context = ctx;
    this.#owner = owner;
    this.#save = new SessionSave(runtime, sessionKey, this);
    this.#lock = locking ? new SessionLock(runtime, sessionKey, owner, this.#save) : undefined;
    this.#load = new SessionLoad(runtime, sessionKey, this, this.#save, this.#lock);
  }

  /** Whether the loaded session came from storage (not `initial()`). */
  get existed(): boolean {
    return this.#save.existed;
  }

  /** Whether the session was asked for (always in eager mode). */
  get touched(): boolean {
    return this.#started;
  }

  /** What `ctx[key]` reads: the session, or in lazy mode a Promise of it. */
  read(): unknown {
    const { lazy } = this.#runtime;
    // Work a handler did not await: nothing it reads or changes can be saved.
    // A lazy session never loaded gets load()'s own explanation.
    if (this.#closed && (!lazy || this.#loading)) return this.finished().read();
    return lazy ? this.load() : this.data;
  }

  /**
   * What assigning `ctx[key]` does: an object replaces the session with a copy
   * of it (in lazy mode without reading the stored one); `null` or
   * `undefined` clears it like `$clear()`.
   */
  write(value: unknown): void {
    if (this.#closed) return this.finished().write(value);
    if (value === null || value === undefined) return this.#clearByAssignment();
    const { lazy, property } = this.#runtime;
    if (this.#clearing) {
      // After `= null` in this update: replaces the cleared session, once cleared.
      const copy = assignedSession(value, property);
      const replaced = this.#clearing.then(() => (this.#install(copy), copy));
      replaced.catch(() => {}); // the commit reports it
      this.#clearing = replaced;
      if (lazy) this.#loading = replaced;
      return;
    }
    if (!lazy) return this.replace(value);
    const copy = assignedSession(value, property);
    if (this.data) {
      this.#install(copy);
      this.#loading = Promise.resolve(copy);
      return;
    }
    // Not loaded yet: the lock (then nothing is read) or the read in flight adopts it.
    this.#load.assign(copy);
    if (!this.#loading) this.load();
  }

  /**
   * `ctx[key] = null`: `$clear()`, which the commit waits for (a setter cannot
   * be awaited). Lazy: after the load, and reads wait for it too.
   */
  #clearByAssignment(): void {
    const { lazy } = this.#runtime;
    const before = this.#clearing ?? (lazy ? this.load() : undefined);
    const clearing = before === undefined ? this.clear() : before.then(() => this.clear());
    clearing.catch(() => {}); // the commit reports it
    this.#clearing = clearing;
    if (lazy) {
      const cleared = clearing.then(() => this.data!);
      cleared.catch(() => {}); // as in load()
      this.#loading = cleared;
    }
  }

  /** Replaces the session (`ctx.session = value`) with a copy of `value`; saved like any change. */
  replace(value: unknown): void {
    if (!this.data) throw notLoaded(this.#key);
    this.#install(assignedSession(value, this.#runtime.property));
  }

  /**
   * The stand-in once the update is over: late use gets the session as it
   * was when the update ended (a lazy one never loaded: a fresh read that
   * takes no lock), is reported, and is never saved.
   */
  finished(): SessionSlot {
    const { lazy, property } = this.#runtime;
    const source = this.data === undefined ? this : undefined;
    return new LateUse(this.context, lazy, property, this.#key, this.data, source);
  }

  /** A lazy session first used after its update: read without a lock, never saved. */
  lookAfterTheEnd(): Promise<object> {
    return new SessionState(this.#runtime, this.#key, this.context, this.#owner, false).load();
  }

  /** Loads the session once; every call returns the same promise. */
  load(): Promise<object> {
    if (!this.#loading && this.#closed) return this.finished().read() as Promise<object>;
    if (!this.#loading) {
      let loaded: object | Promise<object>;
      try {
        loaded = this.#start();
      } catch (error) {
        loaded = Promise.reject(error);
      }
      this.#loading = loaded instanceof Promise ? loaded : Promise.resolve(loaded);
      // A lazy handler may touch the session without awaiting it; its failure
      // must not become an unhandled rejection (awaiting callers still see it).
      this.#loading.catch(() => {});
    }
    return this.#loading;
  }

  /**
   * Eager mode: loads the session now. Without a promise (no extra tick) when
   * the key is free and the storage answers synchronously, as in memory.
   * Called once, instead of load() (which would take the lock again).
   */
  open(): object | Promise<object> {
    const loaded = this.#start();
    if (loaded instanceof Promise) this.#loading = loaded;
    return loaded;
  }

  /** Takes the lock, reads and adopts the session. */
  #start(): object | Promise<object> {
    this.#started = true;
    return this.#load.start();
  }

  /** Replaces the session object; the save compares it with what was read. */
  #install(data: object): void {
    this.data = data;
    attachClear(data, () => this.clear());
  }

  /**
   * `$clear()`: resets the object in place to `initial()`. The stored record
   * is deleted when the update's handlers succeed (or replaced, if the
   * session changes again before that), so a handler that throws after
   * `$clear()` leaves storage untouched like any other failed update. Like a
   * save, the delete is compare-and-set (see conflict.ts).
   */
  async clear(): Promise<void> {
    const data = this.data;
    if (!data) return;
    // First: an initial() that fails leaves the session and its record as they were.
    const initial = await initialSession(this.#runtime, this.context);
    if (log.enabled) this.#log("clear");
    this.#save.cleared(data, initial);
  }

  /**
   * The handler waits for a later update of this user (a prompt): saves what
   * it changed so far, so the answer sees it, and lets go of the lock so the
   * answer can arrive. `false` when no lock is held. A failed save still lets
   * go (and rejects with the error).
   */
  park(): boolean | Promise<boolean> {
    const live = this.data;
    if (!this.#lock?.held || this.#closed || live === undefined) return false;
    const saved = whenSettled(
      () => this.#save.saveIfChanged(),
      (failed) => this.#letGo(!failed, live),
    );
    return saved instanceof Promise ? saved.then(() => true) : true;
  }

  #letGo(saved: boolean, live: object): void {
    if (this.data !== live) {
      // The save merged another update's changes into a new object; the
      // handler goes on with its own, so bring the merge into that one.
      adoptInPlace(live, this.data!);
      this.data = live;
    }
    if (saved) this.#save.savedSoFar(live);
    this.#lock!.park();
  }

  /** The wait is over: takes the lock again before the handler goes on. */
  resume(): void | Promise<void> {
    return this.#lock?.resume(() => this.#closed);
  }

  /**
   * After the handlers succeeded: saves the session if it changed, then
   * unlocks. Without a promise when the storage answers synchronously.
   */
  commit(): void | Promise<void> {
    if (!this.#started) return;
    if (this.#clearing) {
      const clearing = this.#clearing;
      this.#clearing = undefined;
      return clearing.then(() => this.commit(), (error) => {
        this.#unlock();
        throw error;
      });
    }
    if (this.data === undefined && this.#loading) {
      // A lazy load the handlers did not await: wait for it; if it failed, there is nothing to save.
      return this.#loading.then(() => this.#commitLoaded(), () => this.#unlock());
    }
    return this.#commitLoaded();
  }

  #commitLoaded(): void | Promise<void> {
    return whenSettled(() => this.#save.saveIfChanged(), () => this.#unlock());
  }

  /** The update is over: a session not loaded by now must not be loaded later. */
  close(): void {
    this.#closed = true;
  }

  /** After a handler threw: saves nothing and unlocks. */
  async abort(): Promise<void> {
    if (!this.#started) return;
    if (this.#loading) await this.#loading.catch(() => undefined);
    this.#unlock();
  }

  #unlock(): void {
    this.#lock?.release();
  }

  #log(format: string, ...args: unknown[]): void {
    logSession(this.#runtime.property, this.#key, format, ...args);
  }
}
