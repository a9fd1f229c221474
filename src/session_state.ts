/**
 * One session in one update: loads it (under the per-key lock), hands it to
 * handlers, and saves it once when the handlers are done, only if it changed.
 *
 * @module
 */

import { cloneValue, setOwn } from "./clone.ts";
import {
  SessionConflictError,
  SessionDataError,
  SessionError,
  SessionStorageError,
} from "./errors.ts";
import { changedFields, hasChanged, type Snapshot, takeSnapshot } from "./fingerprint.ts";
import type { KeyedLock, Release } from "./lock.ts";
import { log, since } from "./log.ts";
import { serialize } from "node:v8";
import { decodeRecord, encodeRecord, type SessionRecord } from "./record.ts";
import { isVersionedStorage, type SetOptions, type Storage } from "./storage.ts";

/** What to do when another process saved the session while this update ran. */
export type ConflictPolicy = "merge" | "error" | "overwrite";

/** Settings shared by every update of one session plugin. */
export interface SessionRuntime {
  /** The context property (the `key` option). */
  readonly property: string;
  readonly storage: Storage;
  readonly lock: KeyedLock;
  readonly initial: (ctx: object) => unknown;
  readonly ttl: number | undefined;
  readonly clock: () => number;
  readonly onConflict: ConflictPolicy;
  readonly resetInvalid: boolean;
  /** Upgrades stored data to the current version; see migrations.ts. */
  readonly migrate:
    | ((record: SessionRecord, sessionKey: string) => MigrationResult)
    | undefined;
  /** The `migrations` version new data is saved at. */
  readonly dataVersion: number | undefined;
}

/** Data after migrations, and whether any ran (then it is saved even if handlers change nothing). */
export interface MigrationResult {
  data: unknown;
  migrated: boolean;
}

const MAX_MERGE_ATTEMPTS = 10;

/** A random pause that grows with each attempt, so two instances stop colliding in lockstep. */
function backoff(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.random() * 4 * attempt));
}

export class SessionState {
  /** The session object handlers see; set once loaded. */
  data: object | undefined;
  #loading: Promise<object> | undefined;
  #base: Snapshot | undefined;
  /** Storage version the data was read at: `undefined` without compare-and-set, `null` when absent. */
  #version: string | null | undefined;
  #mustSave = false;
  #existed = false;
  /** `$clear()` was called: at commit the record is deleted, or replaced if changed since. */
  #cleared = false;
  /** The update is over: a first load now would take a lock nobody releases. */
  #closed = false;
  /** The `migrations` version the stored data was at, kept when this plugin has none. */
  #storedVersion: number | undefined;
  #release: Release | undefined;
  readonly #runtime: SessionRuntime;
  readonly #key: string;
  readonly #ctx: object;
  readonly #owner: object;

  /**
   * `ctx` is what `initial()` receives; `owner` is who holds the lock (the
   * update's context, or a sessionStore call's own token).
   */
  constructor(runtime: SessionRuntime, sessionKey: string, ctx: object, owner: object = ctx) {
    this.#runtime = runtime;
    this.#key = sessionKey;
    this.#ctx = ctx;
    this.#owner = owner;
  }

  /** Whether the loaded session came from storage (not `initial()`). */
  get existed(): boolean {
    return this.#existed;
  }

  /** Whether the session was asked for (always in eager mode). */
  get touched(): boolean {
    return this.#loading !== undefined;
  }

  /** Loads the session once; every call returns the same promise. */
  load(): Promise<object> {
    if (!this.#loading && this.#closed) {
      return Promise.reject(
        new SessionError(
          `ctx.${this.#runtime.property} was first used after its update had finished (a handler started work ` +
            "it did not await). The session was not loaded, so nothing could be saved: await that work in the handler.",
          this.#key,
        ),
      );
    }
    if (!this.#loading) {
      this.#loading = this.#load();
      // A lazy handler may touch the session without awaiting it; its failure
      // must not become an unhandled rejection (awaiting callers still see it).
      this.#loading.catch(() => {});
    }
    return this.#loading;
  }

  async #load(): Promise<object> {
    const { lock, storage } = this.#runtime;
    const acquired = lock.acquire(this.#key, this.#owner);
    if (typeof acquired === "function") this.#release = acquired;
    else {
      const waitStart = performance.now();
      this.#release = await acquired;
      if (log.enabled) {
        this.#log(
          "waited %sms for an earlier update of this key",
          since(waitStart),
        );
      }
    }
    const start = log.enabled ? performance.now() : 0;
    try {
      let stored: unknown;
      try {
        if (isVersionedStorage(storage)) {
          const pending = storage.getVersioned(this.#key);
          const read = pending instanceof Promise ? await pending : pending;
          stored = read.value;
          this.#version = read.version;
        } else {
          const pending = storage.get(this.#key);
          stored = pending instanceof Promise ? await pending : pending;
        }
      } catch (cause) {
        if (!(cause instanceof SessionDataError)) {
          throw new SessionStorageError("read", this.#key, cause);
        }
        // The storage could not decode the stored value.
        if (!this.#runtime.resetInvalid) throw cause;
        stored = undefined;
        this.#version = undefined; // start afresh: the save overwrites the bad value
      }
      const adopted = this.#fromStored(stored);
      const data = adopted instanceof Promise ? await adopted : adopted;
      this.data = data;
      if (log.enabled) {
        this.#log(
          "load %s %s %sms",
          storageName(storage),
          this.#existed ? "hit" : "miss",
          since(start),
        );
      }
      return data;
    } catch (error) {
      this.#unlock();
      throw error;
    }
  }

  #fromStored(stored: unknown): object | Promise<object> {
    if (stored === undefined || stored === null) return this.#fresh();
    const record = decodeRecord(stored);
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
    this.#existed = true;
    return this.#adopt(data);
  }

  /** A session from `initial()`: saved only if handlers change it. */
  async #fresh(): Promise<object> {
    return this.#adopt(await this.#initial());
  }

  async #initial(): Promise<object> {
    const value = await this.#runtime.initial(this.#ctx);
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
    return cloneValue(value);
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

  /** Replaces the session (`ctx.session = value`); saved like any change. */
  replace(value: unknown): void {
    if (!this.data) {
      throw new SessionError("The session is not loaded yet.", this.#key);
    }
    if (typeof value !== "object" || value === null) {
      throw new TypeError(
        `ctx.${this.#runtime.property} must be assigned an object (got ${
          value === null ? "null" : typeof value
        }). To delete the session, call ctx.${this.#runtime.property}.$clear().`,
      );
    }
    if (!Object.isExtensible(value)) {
      throw new TypeError(
        `ctx.${this.#runtime.property} must be assigned an object that can be changed (this one is frozen or ` +
          "sealed): the session carries $clear() and handlers change it in place. Assign a copy, e.g. { ...value }.",
      );
    }
    this.data = value;
    Object.defineProperty(value, "$clear", {
      value: () => this.clear(),
      enumerable: false,
      configurable: true,
      writable: true,
    });
  }

  /**
   * `$clear()`: resets the object in place to `initial()`. The stored record
   * is deleted when the update's handlers succeed (or replaced, if the
   * session changes again before that), so a handler that throws after
   * `$clear()` leaves storage untouched like any other failed update.
   */
  async clear(): Promise<void> {
    const data = this.data;
    if (!data) return;
    if (this.#existed) this.#cleared = true;
    if (log.enabled) this.#log("clear");
    this.#mustSave = false;
    this.#existed = false;
    const initial = await this.#initial();
    for (const key of Object.keys(data)) {
      delete (data as Record<string, unknown>)[key];
    }
    for (const [key, value] of Object.entries(initial)) {
      setOwn(data as Record<string, unknown>, key, value);
    }
    this.#base = takeSnapshot(data);
  }

  /** After the handlers succeeded: saves the session if it changed, then unlocks. */
  async commit(): Promise<void> {
    if (!this.#loading) return;
    try {
      const data = this.data ?? await this.#loading.catch(() => undefined);
      if (!data || !this.data || !this.#base) return;
      if (this.#mustSave || hasChanged(this.#base, this.data)) {
        await this.#save(this.data);
      } else if (this.#cleared) {
        await this.#delete();
      } else if (log.enabled) this.#log("skip save (unchanged)");
    } finally {
      this.#unlock();
    }
  }

  async #delete(): Promise<void> {
    try {
      await this.#runtime.storage.delete(this.#key);
    } catch (cause) {
      throw new SessionStorageError("delete", this.#key, cause);
    }
    if (log.enabled) this.#log("clear (record deleted)");
  }

  /** The update is over: a session not loaded by now must not be loaded later. */
  close(): void {
    this.#closed = true;
  }

  /** After a handler threw: saves nothing and unlocks. */
  async abort(): Promise<void> {
    if (!this.#loading) return;
    await this.#loading.catch(() => undefined);
    this.#unlock();
  }

  #unlock(): void {
    this.#release?.();
    this.#release = undefined;
  }

  #encode(data: object): unknown {
    const { ttl, clock, dataVersion } = this.#runtime;
    return encodeRecord({
      data,
      expiresAt: ttl === undefined ? undefined : clock() + ttl,
      // Without migrations here, keep the version the data is at, so adding
      // migrations back later does not run old ones again.
      version: dataVersion ?? this.#storedVersion,
    });
  }

  async #save(data: object): Promise<void> {
    const { storage, ttl } = this.#runtime;
    const options: SetOptions | undefined = ttl === undefined ? undefined : { ttl };
    const start = log.enabled ? performance.now() : 0;
    const saved = (attempt: number) => {
      // After a merge, what was stored is the merged object.
      this.data = data;
      if (log.enabled) {
        this.#log(
          "save %s %d bytes %sms%s",
          storageName(storage),
          byteSize(data),
          since(start),
          attempt ? ` after ${attempt} conflict(s)` : "",
        );
      }
    };
    try {
      if (this.#version === undefined || !isVersionedStorage(storage)) {
        const pending = storage.set(this.#key, this.#encode(data), options);
        if (pending instanceof Promise) await pending;
        return saved(0);
      }
      let version = this.#version;
      for (let attempt = 0; attempt < MAX_MERGE_ATTEMPTS; attempt++) {
        const pending = storage.setIfVersion(this.#key, this.#encode(data), version, options);
        if (pending instanceof Promise ? await pending : pending) return saved(attempt);
        if (log.enabled) {
          this.#log(
            "conflict: another instance saved this session; re-reading (%s)",
            this.#runtime.onConflict,
          );
        }
        if (attempt > 0) await backoff(attempt);
        const fresh = await storage.getVersioned(this.#key);
        version = fresh.version;
        data = await this.#resolveConflict(data, fresh.value);
      }
    } catch (cause) {
      if (cause instanceof SessionError) throw cause;
      throw new SessionStorageError("write", this.#key, cause);
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

  /** The other process's session as data: a deleted or expired one is `initial()`. */
  async #theirData(stored: unknown): Promise<object> {
    if (stored === undefined || stored === null) return await this.#initial();
    const record = decodeRecord(stored);
    if (
      record.expiresAt !== undefined &&
      record.expiresAt <= this.#runtime.clock()
    ) {
      return await this.#initial();
    }
    const data = this.#runtime.migrate?.(record, this.#key).data ?? record.data;
    if (typeof data !== "object" || data === null) return await this.#initial();
    return data;
  }
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
