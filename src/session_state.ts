/**
 * One session in one update: loads it (under the per-key lock), hands it to
 * handlers, and saves it once when the handlers are done, only if it changed.
 *
 * @module
 */

import { cloneValue, DepthError, MAX_DEPTH, returnsCopies, setOwn } from "./clone.ts";
import { assertStorableDepth } from "./storable_depth.ts";
import {
  SessionConflictError,
  SessionDataError,
  SessionError,
  SessionStorageError,
} from "./errors.ts";
import { changedFields, hasChanged, type Snapshot, takeSnapshot } from "./change_detection.ts";
import { describeOwner, type LockTenant, type Release } from "./lock.ts";
import { log, since } from "./log.ts";
import { serialize } from "node:v8";
import { decodeRecord, encodeRecord, type SessionRecord } from "./record.ts";
import {
  isVersionedStorage,
  type SetOptions,
  type Storage,
  type VersionedStorage,
  type VersionedValue,
} from "./storage.ts";
import type { SessionSlot } from "./context_property.ts";
import { LateUse, notLoaded } from "./session_unavailable.ts";
import type { SessionRuntime } from "./options.ts";
import { isThenable } from "./thenable.ts";
import { bounded } from "./storage_timeout.ts";

const MAX_MERGE_ATTEMPTS = 10;

/** A random pause that grows with each attempt, so two instances stop colliding in lockstep. */
function backoff(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.random() * 4 * attempt));
}

export class SessionState implements SessionSlot, LockTenant {
  /** The session object handlers see; set once loaded. */
  data: object | undefined;
  /** The load as a promise, for lazy reads and for waiting on a load in flight. */
  #loading: Promise<object> | undefined;
  /** Whether loading started: what is not loaded is neither saved nor unlocked. */
  #started = false;
  #base: Snapshot | undefined;
  /** Storage version the data was read at: `undefined` without compare-and-set, `null` when absent. */
  #version: string | null | undefined;
  #mustSave = false;
  #existed = false;
  /** `$clear()` was called on a stored session: at commit the record is deleted, or replaced if changed since. */
  #cleared = false;
  /**
   * The session as read, kept by the first `$clear()`: another process's save
   * is judged against it, so a clear never erases that save nor merges it back.
   */
  #clearedBase: Snapshot | undefined;
  /** The update is over: a first load now would take a lock nobody releases. */
  #closed = false;
  /**
   * A lazy session assigned before it was loaded: adopted instead of the
   * stored one when the lock is taken (then nothing is read), or when a read
   * already in flight ends.
   */
  #assigned: object | undefined;
  /** A `$clear()` started by assigning `null`: the commit waits for it. */
  #clearing: Promise<unknown> | undefined;
  /** The `migrations` version the stored data was at, kept when this plugin has none. */
  #storedVersion: number | undefined;
  #release: Release | undefined;
  /**
   * The lock was given up before the save (taken away after `lockTimeout`,
   * or let go while the handler waited for a later update): others may have
   * saved meanwhile, so the save checks for that even without compare-and-set.
   */
  #lockLost = false;
  /** Assigned without reading (lazy): saved with a plain write, whatever was stored. */
  #blind = false;
  /** Let go of the lock while the handler waits for a later update; taken again after. */
  #parked = false;
  /** `false` for a read-only look after the update ended: no lock, never saved. */
  readonly #locking: boolean;
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
    this.#locking = locking;
    this.#runtime = runtime;
    this.#key = sessionKey;
    this.context = ctx;
    this.#owner = owner;
  }

  /** Whether the loaded session came from storage (not `initial()`). */
  get existed(): boolean {
    return this.#existed;
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
    const { lazy } = this.#runtime;
    if (this.#clearing) {
      // After `= null` in this update: replaces the cleared session, once cleared.
      const copy = this.#ownCopy(value);
      const replaced = this.#clearing.then(() => (this.#install(copy), copy));
      replaced.catch(() => {}); // the commit reports it
      this.#clearing = replaced;
      if (lazy) this.#loading = replaced;
      return;
    }
    if (!lazy) return this.replace(value);
    const copy = this.#ownCopy(value);
    if (this.data) {
      this.#install(copy);
      this.#loading = Promise.resolve(copy);
      return;
    }
    // Not loaded yet: the lock (then nothing is read) or the read in flight adopts it.
    this.#assigned = copy;
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

  /**
   * The stand-in once the update is over: late use gets the session as it
   * was when the update ended (a lazy one never loaded: a fresh read that
   * takes no lock), is reported, and is never saved.
   */
  finished(): SessionSlot {
    return new LateUse(
      this.context,
      this.#runtime.lazy,
      this.#runtime.property,
      this.#key,
      this.data,
      this.data === undefined ? this : undefined,
    );
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

  /** Takes the lock, reads and adopts the session; unlocks again if that fails. */
  #start(): object | Promise<object> {
    this.#started = true;
    if (!this.#locking) return this.#readLocked();
    const { lock, lockTimeout } = this.#runtime;
    const acquired = lock.acquire(this.#key, this.#owner, this, lockTimeout);
    if (typeof acquired === "function") {
      this.#release = acquired;
      return this.#readLocked();
    }
    return this.#waited(acquired).then(() => this.#readLocked());
  }

  /** Waits for the lock, logging who holds it when the wait starts and how long it took. */
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

  /** The lock was handed to a waiter after `lockTimeout` (see lock.ts). */
  evicted(): void {
    this.#release = undefined;
    this.#lockLost = true;
    if (log.enabled) this.#log("lost the lock after %sms (lockTimeout)", this.#runtime.lockTimeout);
  }

  /**
   * The handler waits for a later update of this user (a prompt): saves what
   * it changed so far, so the answer sees it, and lets go of the lock so the
   * answer can arrive. `false` when no lock is held. A failed save still lets
   * go (and rejects with the error).
   */
  park(): boolean | Promise<boolean> {
    const live = this.data;
    if (this.#release === undefined || this.#closed || live === undefined) return false;
    let saved: void | Promise<void>;
    try {
      saved = this.#saveIfChanged();
    } catch (error) {
      this.#letGo(false, live);
      throw error;
    }
    if (!(saved instanceof Promise)) return this.#letGo(true, live);
    return saved.then(() => this.#letGo(true, live), (error) => {
      this.#letGo(false, live);
      throw error;
    });
  }

  #letGo(saved: boolean, live: object): true {
    if (this.data !== live) {
      // The save merged another update's changes into a new object; the
      // handler goes on with its own, so bring the merge into that one.
      adoptInPlace(live, this.data!);
      this.data = live;
    }
    if (saved) {
      // What is stored now is the base the final save compares against.
      this.#base = takeSnapshot(this.data!);
      this.#mustSave = false;
      this.#cleared = false;
      this.#clearedBase = undefined;
      this.#blind = false;
    }
    this.#unlock();
    this.#parked = true;
    this.#lockLost = true;
    if (log.enabled) this.#log("lets go of the lock while the handler waits for a later update");
    return true;
  }

  /** The wait is over: takes the lock again before the handler goes on. */
  resume(): void | Promise<void> {
    if (!this.#parked) return;
    this.#parked = false;
    if (this.#closed) return;
    const acquired = this.#runtime.lock.acquire(
      this.#key,
      this.#owner,
      this,
      this.#runtime.lockTimeout,
    );
    if (typeof acquired === "function") {
      this.#release = acquired;
      return;
    }
    return this.#waited(acquired).then(() => {
      // The update ended while waiting (the handler did not await the prompt).
      if (this.#closed) this.#unlock();
    });
  }

  #readLocked(): object | Promise<object> {
    if (this.#assigned) return this.#adoptAssigned();
    const start = log.enabled ? performance.now() : 0;
    let loaded: object | Promise<object>;
    try {
      loaded = this.#read(start);
    } catch (error) {
      this.#unlock();
      throw error;
    }
    if (!(loaded instanceof Promise)) return loaded;
    return loaded.catch((error) => {
      this.#unlock();
      throw error;
    });
  }

  #read(start: number): object | Promise<object> {
    const { storage } = this.#runtime;
    const versioned = isVersionedStorage(storage);
    let pending: unknown;
    try {
      pending = versioned ? storage.getVersioned(this.#key) : storage.get(this.#key);
    } catch (cause) {
      return this.#adoptRead(this.#readFailed(cause), start);
    }
    if (isThenable(pending)) {
      return bounded(pending, this.#runtime.storageTimeout).then(
        (read) =>
          this.#adoptRead(
            versioned ? read as VersionedValue : { value: read, version: undefined },
            start,
          ),
        (cause) => this.#adoptRead(this.#readFailed(cause), start),
      );
    }
    return this.#adoptRead(
      versioned ? pending as VersionedValue : { value: pending, version: undefined },
      start,
    );
  }

  /** A failed read: an undecodable value reads as absent with `onInvalidData: "reset"`; else it throws. */
  #readFailed(cause: unknown): { value: undefined; version: undefined } {
    if (!(cause instanceof SessionDataError)) {
      throw new SessionStorageError("read", this.#key, cause);
    }
    if (!this.#runtime.resetInvalid) throw cause;
    // Start afresh: the save overwrites the bad value.
    return { value: undefined, version: undefined };
  }

  #adoptRead(
    read: { value: unknown; version: string | null | undefined },
    start: number,
  ): object | Promise<object> {
    this.#version = read.version;
    let adopted: object | Promise<object>;
    try {
      adopted = this.#fromStored(read.value);
    } catch (error) {
      // Nested too deep to copy or compare (written by something else): unusable data.
      if (!(error instanceof DepthError)) throw error;
      if (!this.#runtime.resetInvalid) {
        throw new SessionDataError(this.#key, `nested more than ${MAX_DEPTH} levels deep`);
      }
      this.#mustSave = false;
      adopted = this.#fresh();
    }
    if (adopted instanceof Promise) return adopted.then((data) => this.#loaded(data, start));
    return this.#loaded(adopted, start);
  }

  #loaded(data: object, start: number): object {
    this.data = data;
    if (this.#assigned) {
      // Assigned while the read was in flight: replaces what was read.
      this.#install(this.#assigned);
      this.#assigned = undefined;
    }
    if (log.enabled) {
      this.#log(
        "load %s %s %sms",
        storageName(this.#runtime.storage),
        this.#existed ? "hit" : "miss",
        since(start),
      );
    }
    return this.data;
  }

  #fromStored(stored: unknown): object | Promise<object> {
    if (stored === undefined || stored === null) return this.#fresh();
    let record: SessionRecord;
    try {
      // A storage that may hand out its live object (a Map) gets a copy, so that
      // a failed update or late work cannot change what it holds.
      // (Only objects: anything else is not a session, and says so below.)
      record = decodeRecord(
        returnsCopies(this.#runtime.storage) || typeof stored !== "object"
          ? stored
          : cloneValue(stored),
        this.#key,
      );
    } catch (error) {
      // An encoded record that cannot be decoded: like any bad stored value.
      if (!(error instanceof SessionDataError) || !this.#runtime.resetInvalid) throw error;
      return this.#fresh();
    }
    if (
      record.expiresAt !== undefined &&
      record.expiresAt <= this.#runtime.clock()
    ) {
      if (log.enabled) this.#log("expire (saved ttl ran out)");
      return this.#fresh();
    }
    let data = record.data;
    this.#storedVersion = record.version;
    if (this.#runtime.migrate) {
      const result = this.#runtime.migrate(record, this.#key);
      data = result.data;
      this.#mustSave = result.migrated;
      if (result.migrated && log.enabled) {
        this.#log(
          "migrate %s -> %s",
          record.version ?? 0,
          this.#runtime.dataVersion,
        );
      }
    }
    if (typeof data !== "object" || data === null) {
      if (!this.#runtime.resetInvalid) {
        throw new SessionDataError(
          this.#key,
          data === null ? "null" : `a ${typeof data}`,
        );
      }
      return this.#fresh();
    }
    this.#adopt(data);
    this.#existed = true;
    return data;
  }

  /** A session from `initial()`: saved only if handlers change it. */
  async #fresh(): Promise<object> {
    return this.#adopt(await this.#initial());
  }

  async #initial(): Promise<object> {
    const value = await this.#runtime.initial(this.context);
    if (typeof value !== "object" || value === null) {
      throw new TypeError(
        `initial() of session "${this.#runtime.property}" returned ${
          value === null ? "null" : `a ${typeof value}`
        }: a session is an object, so that it can carry $clear() and be changed in place. ` +
          `Wrap the value, e.g. initial: () => ({ value: 0 }).`,
      );
    }
    // A copy, so that an initial() returning a shared constant cannot leak
    // one user's changes into another user's session.
    return this.#plainRoot(cloneValue(value), "initial() returned");
  }

  /**
   * Changes are seen field by field, so a session that is itself a Map, Set
   * or Date would never be saved: refused with the fix instead.
   */
  #plainRoot(data: object, what: string): object {
    if (Array.isArray(data) || Object.getPrototypeOf(data) === Object.prototype) return data;
    const kind = (data as { constructor?: { name?: string } }).constructor?.name ?? "object";
    throw new TypeError(
      `Session "${this.#runtime.property}": ${what} a ${kind}. A session is a plain object, saved ` +
        `field by field, so changes inside a ${kind} at its top level would never be saved. Put it ` +
        `in a field, e.g. initial: () => ({ items: new ${kind}() }).`,
    );
  }

  #adopt(data: object): object {
    Object.defineProperty(data, "$clear", {
      value: () => this.clear(),
      enumerable: false,
      configurable: true,
      writable: true,
    });
    this.#base = takeSnapshot(data);
    return data;
  }

  /** Replaces the session (`ctx.session = value`) with a copy of `value`; saved like any change. */
  replace(value: unknown): void {
    if (!this.data) {
      throw notLoaded(this.#key);
    }
    this.#install(this.#ownCopy(value));
  }

  /**
   * A copy of an assigned value, by the storages' cloning rules: the session
   * never shares objects with a constant or with another user's session.
   */
  #ownCopy(value: unknown): object {
    if (typeof value !== "object" || value === null) {
      throw new TypeError(
        `ctx.${this.#runtime.property} must be assigned an object (got ${typeof value}). ` +
          `To delete the session, assign null or call ctx.${this.#runtime.property}.$clear().`,
      );
    }
    // A copy of a Promise is `{}`: refuse it rather than store an empty session.
    if (isThenable(value)) {
      throw new TypeError(
        `ctx.${this.#runtime.property} was assigned a Promise: assign the data it resolves to, ` +
          `ctx.${this.#runtime.property} = await value.`,
      );
    }
    // A `$clear` copied over from a session (`{ count: 1, $clear: ctx.session.$clear }`,
    // the old way to satisfy the type) is not data: the copy gets its own.
    const own = value as Record<string, unknown>;
    if (typeof own.$clear === "function" && Object.hasOwn(own, "$clear")) {
      const { $clear: _, ...data } = own;
      return cloneValue(data);
    }
    return this.#plainRoot(cloneValue(value), `ctx.${this.#runtime.property} was assigned`);
  }

  #install(data: object): void {
    this.data = data;
    Object.defineProperty(data, "$clear", {
      value: () => this.clear(),
      enumerable: false,
      configurable: true,
      writable: true,
    });
  }

  /**
   * A lazy session assigned before anything was read: the lock is held and
   * nothing is read. The save is a plain set, since there is no version to
   * compare with; `$clear()` after it deletes whatever is stored.
   */
  #adoptAssigned(): object {
    const data = this.#assigned!;
    this.#assigned = undefined;
    this.#version = undefined;
    this.#existed = true;
    this.#mustSave = true;
    this.#blind = true;
    this.data = this.#adopt(data);
    if (log.enabled) this.#log("assigned without reading");
    return data;
  }

  /**
   * `$clear()`: resets the object in place to `initial()`. The stored record
   * is deleted when the update's handlers succeed (or replaced, if the
   * session changes again before that), so a handler that throws after
   * `$clear()` leaves storage untouched like any other failed update. Like a
   * save, the delete is compare-and-set: see `#clearConflict`.
   */
  async clear(): Promise<void> {
    const data = this.data;
    if (!data) return;
    // First: an initial() that fails leaves the session and its record as they were.
    const initial = await this.#initial();
    if (this.#existed) this.#cleared = true;
    this.#clearedBase ??= this.#base;
    if (log.enabled) this.#log("clear");
    this.#mustSave = false;
    this.#existed = false;
    for (const key of Object.keys(data)) {
      delete (data as Record<string, unknown>)[key];
    }
    // A session that is itself an array: no holes where its items were.
    if (Array.isArray(data)) data.length = 0;
    for (const [key, value] of Object.entries(initial)) {
      setOwn(data as Record<string, unknown>, key, value);
    }
    this.#base = takeSnapshot(data);
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
    let pending: void | Promise<void>;
    try {
      pending = this.#saveIfChanged();
    } catch (error) {
      this.#unlock();
      throw error;
    }
    if (!(pending instanceof Promise)) return this.#unlock();
    return pending.finally(() => this.#unlock());
  }

  #saveIfChanged(): void | Promise<void> {
    const data = this.data;
    if (!data || !this.#base) return;
    if (this.#mustSave || hasChanged(this.#base, data)) return this.#save(data);
    if (this.#cleared) return this.#delete();
    if (log.enabled) this.#log("skip save (unchanged)");
  }

  /** Deletes the cleared record, unless another process saved it since it was read. */
  #delete(): void | Promise<void> {
    const storage = this.#runtime.storage;
    if (this.#version !== undefined && isVersionedStorage(storage)) {
      // A storage without a versioned delete: storing initial() (what the
      // cleared object holds) conditionally erases the data just as safely.
      if (!storage.deleteIfVersion) return this.#save(this.data!);
      return this.#deleteIfVersion(storage);
    }
    return this.#deleteUnconditionally();
  }

  async #deleteUnconditionally(): Promise<void> {
    const start = log.enabled ? performance.now() : 0;
    try {
      await bounded(this.#runtime.storage.delete(this.#key), this.#runtime.storageTimeout);
    } catch (cause) {
      throw new SessionStorageError("delete", this.#key, cause);
    }
    this.#deleted(start, 0);
  }

  async #deleteIfVersion(storage: VersionedStorage): Promise<void> {
    const start = log.enabled ? performance.now() : 0;
    try {
      const deleting = storage.deleteIfVersion!(this.#key, this.#version!);
      if (await bounded(deleting, this.#runtime.storageTimeout)) return this.#deleted(start, 0);
      await this.#saveAfterConflicts(this.data!, undefined, start, true);
    } catch (cause) {
      if (cause instanceof SessionError) throw cause;
      throw new SessionStorageError("delete", this.#key, cause);
    }
  }

  #deleted(start: number, conflicts: number): void {
    if (log.enabled) {
      this.#log(
        "clear (record deleted) %sms%s",
        since(start),
        conflicts ? ` after ${conflicts} conflict(s)` : "",
      );
    }
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
    this.#release?.();
    this.#release = undefined;
  }

  #encode(data: object): unknown {
    const { ttl, clock, dataVersion, storage } = this.#runtime;
    try {
      assertStorableDepth(data);
    } catch (error) {
      // Refused before any storage call: deeper data saves but cannot be read back.
      if (!(error instanceof DepthError)) throw error;
      throw new SessionError(`Session "${this.#key}": ${error.message}`, this.#key, {
        cause: error,
      });
    }
    const record = encodeRecord(
      {
        data,
        expiresAt: ttl === undefined ? undefined : clock() + ttl,
        // Without migrations here, keep the version the data is at, so adding
        // migrations back later does not run old ones again.
        version: dataVersion ?? this.#storedVersion,
      },
      // A storage that does not say it keeps rich values may keep JSON only.
      storage.richValues !== true,
      this.#key,
    );
    // A storage that may keep the object it is given (a Map) gets a copy.
    return returnsCopies(storage) ? record : cloneValue(record);
  }

  /** Writes `data`; without a promise when the storage answers synchronously and nothing conflicts. */
  #save(data: object): void | Promise<void> {
    const { storage, ttl, storageTimeout } = this.#runtime;
    const options: SetOptions | undefined = ttl === undefined ? undefined : { ttl };
    const start = log.enabled ? performance.now() : 0;
    let written: boolean | Promise<boolean>;
    if (this.#lockLost && !this.#blind) {
      return this.#saveChecked(data, options, start).catch((cause) => this.#writeFailed(cause));
    }
    try {
      if (this.#version === undefined || !isVersionedStorage(storage)) {
        const pending = storage.set(this.#key, this.#encode(data), options);
        written = isThenable(pending) ? bounded(pending, storageTimeout).then(() => true) : true;
      } else {
        const pending = storage.setIfVersion(this.#key, this.#encode(data), this.#version, options);
        written = isThenable(pending) ? bounded(pending, storageTimeout) : pending;
      }
    } catch (cause) {
      return this.#writeFailed(cause);
    }
    if (written instanceof Promise) {
      return written.then(
        (ok) => this.#afterWrite(ok, data, options, start),
        (cause) => this.#writeFailed(cause),
      );
    }
    return this.#afterWrite(written, data, options, start);
  }

  #afterWrite(
    ok: boolean,
    data: object,
    options: SetOptions | undefined,
    start: number,
  ): void | Promise<void> {
    if (ok) return this.#saved(data, start, 0);
    return this.#saveAfterConflicts(data, options, start).catch((cause) =>
      this.#writeFailed(cause)
    );
  }

  #saved(stored: object, start: number, conflicts: number): void {
    // After a merge, what was stored is the merged object.
    this.data = stored;
    if (log.enabled) {
      this.#log(
        "save %s %d bytes %sms%s",
        storageName(this.#runtime.storage),
        byteSize(stored),
        since(start),
        conflicts ? ` after ${conflicts} conflict(s)` : "",
      );
    }
  }

  #writeFailed(cause: unknown): never {
    if (cause instanceof SessionError) throw cause;
    throw new SessionStorageError("write", this.#key, cause);
  }

  /**
   * The first write (or, `deleting`, the delete of a cleared session) found
   * another process's save: merge (or not, per `onConflict`) and retry.
   */
  async #saveAfterConflicts(
    data: object,
    options: SetOptions | undefined,
    start: number,
    deleting = false,
  ): Promise<void> {
    // Only versioned storages report a conflict.
    const storage = this.#runtime.storage as VersionedStorage;
    for (let conflicts = 1; conflicts < MAX_MERGE_ATTEMPTS; conflicts++) {
      if (log.enabled) {
        this.#log(
          "conflict: another instance saved this session; re-reading (%s)",
          this.#runtime.onConflict,
        );
      }
      if (conflicts > 1) await backoff(conflicts - 1);
      const fresh = await bounded(storage.getVersioned(this.#key), this.#runtime.storageTimeout);
      data = await this.#resolveConflict(data, fresh.value);
      const pending = deleting
        ? storage.deleteIfVersion!(this.#key, fresh.version)
        : storage.setIfVersion(this.#key, this.#encode(data), fresh.version, options);
      if (isThenable(pending) ? await bounded(pending, this.#runtime.storageTimeout) : pending) {
        return deleting ? this.#deleted(start, conflicts) : this.#saved(data, start, conflicts);
      }
    }
    throw new SessionConflictError(
      this.#key,
      [],
      `Gave up after ${MAX_MERGE_ATTEMPTS} attempts: the session is being written constantly.`,
    );
  }

  /**
   * A save after the lock was given up (taken away after `lockTimeout`, or
   * let go while the handler waited for a later update): re-reads, and if
   * another update saved meanwhile, resolves it like a conflict (merge, or
   * `SessionConflictError`) instead of overwriting it. With compare-and-set
   * the write is conditional on that read; without, this process's updates
   * are what it guards against.
   */
  async #saveChecked(data: object, options: SetOptions | undefined, start: number): Promise<void> {
    const { storage, storageTimeout } = this.#runtime;
    const versioned = isVersionedStorage(storage);
    let conflicts = 0;
    for (let attempt = 0; attempt < MAX_MERGE_ATTEMPTS; attempt++) {
      if (attempt > 0) await backoff(attempt);
      const fresh: { value: unknown; version: string | null } = versioned
        ? await bounded(storage.getVersioned(this.#key), storageTimeout)
        : { value: await bounded(storage.get(this.#key), storageTimeout), version: null };
      const theirs = await this.#theirData(fresh.value);
      let toWrite = data;
      if (changedFields(this.#base!, takeSnapshot(theirs)).size > 0) {
        conflicts++;
        if (log.enabled) {
          this.#log("saved by another update meanwhile; %s", this.#runtime.onConflict);
        }
        toWrite = await this.#resolveConflict(data, fresh.value);
      }
      const encoded = this.#encode(toWrite);
      if (!versioned) {
        await bounded(storage.set(this.#key, encoded, options), storageTimeout);
      } else if (
        !await bounded(
          storage.setIfVersion(this.#key, encoded, fresh.version, options),
          storageTimeout,
        )
      ) {
        continue;
      }
      return this.#saved(toWrite, start, conflicts);
    }
    throw new SessionConflictError(
      this.#key,
      [],
      `Gave up after ${MAX_MERGE_ATTEMPTS} attempts: the session is being written constantly.`,
    );
  }

  #log(format: string, ...args: unknown[]): void {
    log(`%s key=%s ${format}`, this.#runtime.property, this.#key, ...args);
  }

  /** What to write after another process saved `stored` over our base. */
  async #resolveConflict(ours: object, stored: unknown): Promise<object> {
    const policy = this.#runtime.onConflict;
    if (policy === "overwrite") return ours;
    if (policy === "error") throw new SessionConflictError(this.#key, []);
    if (this.#clearedBase) return this.#clearConflict(ours, this.#clearedBase, stored);
    const theirs = await this.#theirData(stored);
    const theirSnapshot = takeSnapshot(theirs);
    const mine = changedFields(this.#base!, takeSnapshot(ours));
    const their = changedFields(this.#base!, theirSnapshot);
    const both = [...mine].filter((field) => their.has(field));
    if (both.length) throw new SessionConflictError(this.#key, both);
    const merged: Record<string, unknown> = { ...theirs };
    const source = ours as Record<string, unknown>;
    for (const field of mine) {
      if (Object.hasOwn(source, field)) setOwn(merged, field, source[field]);
      else delete merged[field];
    }
    // The merge now builds on their version: if the next save conflicts
    // too, only changes made after it count as theirs.
    this.#base = theirSnapshot;
    return merged;
  }

  /**
   * A clear is never merged: a field merged back from the other process's
   * save would bring back what the clear erased (a "/forget_me" that leaves
   * data behind), and erasing that save would lose it silently. So the clear
   * (and what was set after it) goes ahead only if the other process changed
   * nothing this update read, or deleted the session too; otherwise the other
   * save is kept and `SessionConflictError` names the fields it changed.
   */
  #clearConflict(ours: object, read: Snapshot, stored: unknown): object {
    const theirs = this.#storedData(stored);
    if (theirs === undefined) return ours;
    const fields = changedFields(read, takeSnapshot(theirs));
    if (fields.size === 0) return ours;
    throw new SessionConflictError(
      this.#key,
      [...fields],
      `$clear() was not applied: the other instance's save was kept, not erased or merged with the cleared session. ` +
        "Clear it again (e.g. ask the user to repeat the command) to delete it.",
    );
  }

  /** The other process's session as data: a deleted or expired one is `initial()`. */
  async #theirData(stored: unknown): Promise<object> {
    return this.#storedData(stored) ?? await this.#initial();
  }

  /** A stored value as session data; `undefined` when absent, expired or not an object. */
  #storedData(stored: unknown): object | undefined {
    if (stored === undefined || stored === null) return undefined;
    const record = decodeRecord(stored, this.#key);
    if (
      record.expiresAt !== undefined &&
      record.expiresAt <= this.#runtime.clock()
    ) {
      return undefined;
    }
    const data = this.#runtime.migrate?.(record, this.#key).data ?? record.data;
    if (typeof data !== "object" || data === null) return undefined;
    return data;
  }
}

/** Makes `target`'s own fields those of `source` (the object handlers hold stays the same). */
function adoptInPlace(target: object, source: object): void {
  const into = target as Record<string, unknown>;
  for (const key of Object.keys(into)) {
    if (!Object.hasOwn(source, key)) delete into[key];
  }
  for (const [key, value] of Object.entries(source)) setOwn(into, key, value);
}

function storageName(storage: Storage): string {
  return storage.name ?? "storage";
}

/** The session's size for logs; never fails the save it describes. */
function byteSize(data: object): number | string {
  try {
    return serialize(data).byteLength;
  } catch {
    return "?";
  }
}
