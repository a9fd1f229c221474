/**
 * Loading one session in one update: takes the per-key lock
 * (session_lock.ts), reads the stored value (session_io.ts), decodes it
 * (stored_value.ts) and hands the session out, or a fresh one from
 * `initial()` when there is none to use. A lazy session assigned before it
 * was loaded is adopted instead (then nothing is read).
 *
 * The load is where sync and async part: a free key, a storage that answers
 * synchronously (memory) and a stored session give the session without a
 * promise, so the update takes no extra tick; anything else continues on a
 * promise, in {@linkcode SessionLoad.start} alone.
 *
 * @module
 */

import { DepthError } from "./depth_limit.ts";
import { log, logSession, since } from "./log.ts";
import type { SessionRuntime } from "./options.ts";
import { attachClear, initialSession } from "./session_data.ts";
import { readStored, type StoredRead } from "./session_io.ts";
import type { SessionLock } from "./session_lock.ts";
import type { SessionSave } from "./session_save.ts";
import type { StoredShape } from "./storages/memory.ts";
import { decodeSession, tooDeep } from "./stored_value.ts";

/** The session being loaded: `data` is set to what the handlers get. */
export interface LoadTarget {
  data: object | undefined;
  /** The update's context: what `initial()` receives. */
  readonly context: object;
  /** What the session object's `$clear()` calls. */
  clear(): Promise<void>;
}

/** Loads one session, once. */
export class SessionLoad {
  /**
   * A lazy session assigned before it was loaded: adopted instead of the
   * stored one when the lock is taken (then nothing is read), or when a read
   * already in flight ends.
   */
  #assigned: object | undefined;
  readonly #runtime: SessionRuntime;
  readonly #key: string;
  readonly #target: LoadTarget;
  readonly #save: SessionSave;
  /** `undefined` for a read-only look after the update ended: no lock. */
  readonly #lock: SessionLock | undefined;

  constructor(
    runtime: SessionRuntime,
    key: string,
    target: LoadTarget,
    save: SessionSave,
    lock: SessionLock | undefined,
  ) {
    this.#runtime = runtime;
    this.#key = key;
    this.#target = target;
    this.#save = save;
    this.#lock = lock;
  }

  /** Adopts `data` (a copy) instead of the stored session: before the read, or when it ends. */
  assign(data: object): void {
    this.#assigned = data;
  }

  /** Takes the lock, reads and adopts the session; unlocks again if that fails. */
  start(): object | Promise<object> {
    const taken = this.#lock?.take();
    if (taken !== undefined) return taken.then(() => this.#readLocked());
    return this.#readLocked();
  }

  #readLocked(): object | Promise<object> {
    if (this.#assigned) return this.#adoptAssigned();
    const start = log.enabled ? performance.now() : 0;
    let loaded: object | Promise<object>;
    try {
      const read = readStored(this.#runtime, this.#key);
      loaded = read instanceof Promise
        ? read.then((stored) => this.#fromStored(stored))
        : this.#fromStored(read);
      if (!(loaded instanceof Promise)) return this.#loaded(loaded, start);
    } catch (error) {
      this.#lock?.release();
      throw error;
    }
    return loaded.then((data) => this.#loaded(data, start), (error) => {
      this.#lock?.release();
      throw error;
    });
  }

  /** The stored session, adopted; `initial()` when there is none to use. */
  #fromStored(read: StoredRead): object | Promise<object> {
    const decoded = decodeSession(read.value, this.#key, this.#runtime, read.shared !== undefined);
    this.#save.read(read.version, decoded);
    if (log.enabled && decoded.expired) this.#log("expire (saved ttl ran out)");
    if (log.enabled && decoded.migrated) {
      this.#log("migrate %s -> %s", decoded.version ?? 0, this.#runtime.dataVersion);
    }
    const { data } = decoded;
    if (data === undefined) return this.#fresh();
    let session: object;
    try {
      session = this.#adopt(data, decoded.shared ? read.shared : undefined);
    } catch (error) {
      // Nested too deep to read back (written by something else): unusable data.
      if (!(error instanceof DepthError)) throw error;
      if (!this.#runtime.resetInvalid) throw tooDeep(this.#key);
      this.#save.discarded();
      return this.#fresh();
    }
    this.#save.existed = true;
    return session;
  }

  #loaded(data: object, start: number): object {
    const target = this.#target;
    target.data = data;
    if (this.#assigned) {
      // Assigned while the read was in flight: replaces what was read.
      target.data = this.#assigned;
      attachClear(this.#assigned, () => target.clear());
      this.#assigned = undefined;
    }
    if (log.enabled) {
      const storage = this.#runtime.storage.name ?? "storage";
      this.#log("load %s %s %sms", storage, this.#save.existed ? "hit" : "miss", since(start));
    }
    return target.data;
  }

  /** A session from `initial()`: saved only if handlers change it. */
  async #fresh(): Promise<object> {
    return this.#adopt(await initialSession(this.#runtime, this.#target.context));
  }

  /**
   * The session object handed out for `data` (`shared`: the stored object
   * itself): changes are measured from here.
   */
  #adopt(data: object, shared?: { shape: StoredShape }): object {
    const target = this.#target;
    const session = this.#save.adopted(data, undefined, shared);
    attachClear(session, () => target.clear());
    return session;
  }

  /**
   * A lazy session assigned before anything was read: the lock is held and
   * nothing is read. The save is a plain set, since there is no version to
   * compare with; `$clear()` after it deletes whatever is stored.
   */
  #adoptAssigned(): object {
    const session = this.#save.assignedBlind(this.#assigned!);
    this.#assigned = undefined;
    attachClear(session, () => this.#target.clear());
    this.#target.data = session;
    if (log.enabled) this.#log("assigned without reading");
    return session;
  }

  #log(format: string, ...args: unknown[]): void {
    logSession(this.#runtime.property, this.#key, format, ...args);
  }
}
