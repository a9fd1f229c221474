/**
 * The storage side of one session in one update: what was read (the storage
 * version to compare-and-set against, the data version, what changes are
 * measured against: session_base.ts), and the save when the handlers are
 * done: a write only if the session changed, the delete of a cleared one, and,
 * when another process saved meanwhile, the `onConflict` policy with its
 * retries (conflict.ts).
 *
 * @module
 */

import { changedFields, takeSnapshot } from "./change_detection/mod.ts";
import { MAX_SAVE_ATTEMPTS, resolveConflict, retryWithBackoff } from "./conflict.ts";
import { SessionError, SessionStorageError } from "./errors.ts";
import { byteSize, log, logSession, since } from "./log.ts";
import type { SessionRuntime } from "./options.ts";
import {
  changedSince,
  handOut,
  type SessionBase,
  snapshotOf,
  writeSession,
} from "./session_base.ts";
import { initialSession } from "./session_data.ts";
import { deleteStored, rereadStored } from "./session_io.ts";
import { isVersionedStorage, type VersionedStorage } from "./storage.ts";
import type { StoredShape } from "./storages/memory.ts";
import { bounded } from "./storage_timeout.ts";
import { type DecodedSession, decodeSession } from "./stored_value.ts";

/** The session a save writes (`data`: after a merge, what was stored; `context`: what `initial()` gets). */
export interface SavedSession {
  data: object | undefined;
  readonly context: object;
}

/** What one update read of its session, and how its changes are written back. */
export class SessionSave {
  /** Whether the session handed out came from storage (not `initial()`). */
  existed = false;
  /** What changes are measured against: the session as read, or as last saved. */
  #base: SessionBase | undefined;
  /** Storage version the data was read at: `undefined` without compare-and-set, `null` when absent. */
  #version: string | null | undefined;
  /** The `migrations` version the stored data was at, kept when this plugin has none. */
  #storedVersion: number | undefined;
  /** Saved even if unchanged: migrated, or assigned without reading. */
  #mustSave = false;
  /** `$clear()` was called on a stored session: at commit the record is deleted, or replaced if changed since. */
  #cleared = false;
  /**
   * The session as read, kept by the first `$clear()`: another process's save
   * is judged against it, so a clear never erases that save nor merges it back.
   */
  #clearedBase: SessionBase | undefined;
  /**
   * The lock was given up before the save (taken away after `lockTimeout`,
   * or let go while the handler waited for a later update): others may have
   * saved meanwhile, so the save checks for that even without compare-and-set.
   */
  #lockLost = false;
  /** Assigned without reading (lazy): saved with a plain write, whatever was stored. */
  #blind = false;
  readonly #runtime: SessionRuntime;
  readonly #key: string;
  readonly #session: SavedSession;

  constructor(runtime: SessionRuntime, key: string, session: SavedSession) {
    this.#runtime = runtime;
    this.#key = key;
    this.#session = session;
  }

  /** The stored session was read at storage version `version`. */
  read(version: string | null | undefined, decoded: DecodedSession): void {
    this.#version = version;
    this.#storedVersion = decoded.version;
    this.#mustSave = decoded.migrated;
  }

  /** A session to hand out (see handOut): the object handlers get; changes are measured from here. */
  adopted(data: object, live?: object, shared?: { shape: StoredShape }): object {
    const { session, base } = handOut(data, live, shared);
    this.#base = base;
    return session;
  }

  /** Stored data could not be used (`onInvalidData: "reset"`): migrated or not, nothing to save yet. */
  discarded(): void {
    this.#mustSave = false;
  }

  /** Assigned without reading: saved with a plain write, changed or not. Returns the session object. */
  assignedBlind(data: object): object {
    this.existed = true;
    this.#version = undefined;
    this.#mustSave = true;
    this.#blind = true;
    return this.adopted(data);
  }

  /** `$clear()`: the session object `data` becomes `initial`; a stored record is to be deleted. */
  cleared(data: object, initial: object): void {
    if (this.existed) this.#cleared = true;
    this.existed = false;
    this.#clearedBase ??= this.#base;
    this.#mustSave = false;
    this.adopted(initial, data);
  }

  /** Others may save before this one does: it checks for that first. */
  lockLost(): void {
    this.#lockLost = true;
  }

  /** Saved before a wait: what is stored now is the base of the next save. */
  savedSoFar(data: object): void {
    this.#base = takeSnapshot(data);
    this.#mustSave = false;
    this.#cleared = false;
    this.#clearedBase = undefined;
    this.#blind = false;
  }

  /** Saves the session if it changed; without a promise when the storage answers synchronously. */
  saveIfChanged(): void | Promise<void> {
    const data = this.#session.data;
    const base = this.#base;
    if (!data || !base) return;
    if (this.#mustSave || changedSince(base, data)) return this.#save(data);
    if (this.#cleared) return this.#delete();
    if (log.enabled) this.#log("skip save (unchanged)");
  }

  #save(data: object): void | Promise<void> {
    const start = log.enabled ? performance.now() : 0;
    if (this.#lockLost && !this.#blind) {
      return this.#saveChecked(data, start).catch((cause) => this.#writeFailed(cause));
    }
    let written: boolean | Promise<boolean>;
    try {
      written = this.#write(data, this.#version);
    } catch (cause) {
      return this.#writeFailed(cause);
    }
    if (written instanceof Promise) {
      return written.then(
        (ok) => this.#afterWrite(ok, data, start),
        (cause) => this.#writeFailed(cause),
      );
    }
    return this.#afterWrite(written, data, start);
  }

  #afterWrite(ok: boolean, data: object, start: number): void | Promise<void> {
    if (ok) return this.#saved(data, start, 0);
    return this.#saveAfterConflicts(data, start).catch((cause) => this.#writeFailed(cause));
  }

  /** Deletes the cleared record, unless another process saved it since it was read. */
  #delete(): void | Promise<void> {
    const storage = this.#runtime.storage;
    if (this.#version !== undefined && isVersionedStorage(storage)) {
      // A storage without a versioned delete: storing initial() (what the
      // cleared object holds) conditionally erases the data just as safely.
      if (!storage.deleteIfVersion) return this.#save(this.#session.data!);
      return this.#deleteIfVersion(storage);
    }
    return this.#deleteUnconditionally();
  }

  async #deleteUnconditionally(): Promise<void> {
    const start = log.enabled ? performance.now() : 0;
    await deleteStored(this.#runtime, this.#key);
    this.#deleted(start, 0);
  }

  async #deleteIfVersion(storage: VersionedStorage): Promise<void> {
    const start = log.enabled ? performance.now() : 0;
    try {
      const deleting = storage.deleteIfVersion!(this.#key, this.#version!);
      if (await bounded(deleting, this.#runtime.storageTimeout)) return this.#deleted(start, 0);
      await this.#saveAfterConflicts(this.#session.data!, start, true);
    } catch (cause) {
      if (cause instanceof SessionError) throw cause;
      throw new SessionStorageError("delete", this.#key, cause);
    }
  }

  /**
   * The first write (or, `deleting`, the delete of a cleared session) found
   * another process's save: merge (or not, per `onConflict`) and retry.
   */
  async #saveAfterConflicts(data: object, start: number, deleting = false): Promise<void> {
    // Only versioned storages report a conflict.
    const storage = this.#runtime.storage as VersionedStorage;
    const { onConflict, storageTimeout } = this.#runtime;
    await retryWithBackoff(this.#key, MAX_SAVE_ATTEMPTS - 1, async (retry) => {
      const conflicts = retry + 1;
      if (log.enabled) {
        this.#log("conflict: another instance saved this session; re-reading (%s)", onConflict);
      }
      const fresh = await rereadStored(this.#runtime, this.#key);
      data = await this.#resolve(data, () => this.#theirs(fresh.value));
      const done = deleting
        ? await bounded(storage.deleteIfVersion!(this.#key, fresh.version), storageTimeout)
        : await this.#write(data, fresh.version);
      if (!done) return false;
      if (deleting) this.#deleted(start, conflicts);
      else this.#saved(data, start, conflicts);
      return true;
    });
  }

  /**
   * A save after the lock was given up (taken away after `lockTimeout`, or
   * let go while the handler waited for a later update): re-reads, and if
   * another update saved meanwhile, resolves it like a conflict (merge, or
   * `SessionConflictError`) instead of overwriting it. With compare-and-set
   * the write is conditional on that read; without, this process's updates
   * are what it guards against.
   */
  async #saveChecked(data: object, start: number): Promise<void> {
    const { onConflict } = this.#runtime;
    let conflicts = 0;
    await retryWithBackoff(this.#key, MAX_SAVE_ATTEMPTS, async () => {
      const fresh = await rereadStored(this.#runtime, this.#key);
      const stored = this.#theirs(fresh.value);
      const theirs = stored ?? await this.#initial();
      let toWrite = data;
      if (changedFields(snapshotOf(this.#base!), takeSnapshot(theirs)).size > 0) {
        conflicts++;
        if (log.enabled) this.#log("saved by another update meanwhile; %s", onConflict);
        toWrite = await this.#resolve(data, () => stored);
      }
      if (!await this.#write(toWrite, fresh.version)) return false;
      this.#saved(toWrite, start, conflicts);
      return true;
    });
  }

  /** What to write after another process saved over our base; a merge moves the base to theirs. */
  async #resolve(data: object, theirs: () => object | undefined): Promise<object> {
    const cleared = this.#clearedBase;
    const ours = {
      base: snapshotOf(this.#base!),
      data,
      clearedBase: cleared && snapshotOf(cleared),
    };
    const initial = () => this.#initial();
    const resolved = await resolveConflict(
      this.#runtime.onConflict,
      this.#key,
      ours,
      theirs,
      initial,
    );
    this.#base = resolved.base;
    return resolved.data;
  }

  /** Another process's save, decoded as the load decodes it (`undefined`: none to use). */
  #theirs(stored: unknown): object | undefined {
    return decodeSession(stored, this.#key, this.#runtime).data;
  }

  #initial(): Promise<object> {
    return initialSession(this.#runtime, this.#session.context);
  }

  #write(data: object, version: string | null | undefined): boolean | Promise<boolean> {
    return writeSession(this.#runtime, this.#key, this.#base, data, version, this.#storedVersion);
  }

  #saved(stored: object, start: number, conflicts: number): void {
    // After a merge, what was stored is the merged object.
    this.#session.data = stored;
    if (!log.enabled) return;
    const storage = this.#runtime.storage.name ?? "storage";
    this.#logDone(`save ${storage} ${byteSize(stored)} bytes`, start, conflicts);
  }

  #deleted(start: number, conflicts: number): void {
    if (log.enabled) this.#logDone("clear (record deleted)", start, conflicts);
  }

  #logDone(what: string, start: number, conflicts: number): void {
    const after = conflicts ? ` after ${conflicts} conflict(s)` : "";
    this.#log("%s %sms%s", what, since(start), after);
  }

  #writeFailed(cause: unknown): never {
    if (cause instanceof SessionError) throw cause;
    throw new SessionStorageError("write", this.#key, cause);
  }

  #log(format: string, ...args: unknown[]): void {
    logSession(this.#runtime.property, this.#key, format, ...args);
  }
}
