/**
 * Sessions outside updates: admin commands, cron jobs, a web dashboard. The
 * store shares the plugin's storage (and so its key prefix), `ttl`,
 * `migrations` and in-process lock, so a change made here never overwrites a
 * concurrent update of the same session in this process, and vice versa.
 *
 * @module
 */

import { SessionError } from "./errors.ts";
import { createRuntime, type Session, type SessionOptions } from "./options.ts";
import { deleteStored } from "./session_io.ts";
import { SessionState } from "./session_state.ts";
import { isListableStorage } from "./storage.ts";
import { isOtherPluginKey, sessionKeyOnly } from "./shared_storage.ts";
import { currentUpdate, needUpdateScope, runAsOwner } from "./update_scope.ts";

/** Reads, changes, deletes and lists sessions by their storage key. */
export interface SessionStore<Data extends object> {
  /**
   * The session stored under `key` (migrated, not expired), or `undefined`.
   * Plain data: a copy, with no `$clear()` (use {@linkcode SessionStore.delete}).
   */
  get(key: string): Promise<Data | undefined>;
  /**
   * Changes the session under `key` in place, like a handler would (starting
   * from `initial()` when there is none), and saves it if it changed.
   * Resolves to the session as saved.
   */
  update(
    key: string,
    change: (session: Session<Data>) => void | Promise<void>,
  ): Promise<Data>;
  /**
   * Deletes the session under `key`, unconditionally: an explicit admin
   * action, it also removes a record another bot instance saved a moment ago
   * (in this process it waits for an update of that key to finish first), and
   * records that cannot be read. To delete only what was read, as a handler's
   * `$clear()` does, use `update(key, (s) => s.$clear())`: it reports a
   * concurrent save from another instance as a `SessionConflictError`.
   */
  delete(key: string): Promise<void>;
  /**
   * Every stored session key (expired ones until they are cleaned up; `get`
   * skips those). Records of GramIO's other plugins sharing the storage
   * (`@gramio/scenes:<userId>`) are not listed.
   */
  keys(): AsyncIterable<string>;
}

/**
 * Opens the sessions of a `session()` configuration outside updates. Pass the
 * same options as to `session()` (at least the same `storage` object). In
 * `initial(ctx)`, `ctx` is an empty object here: there is no update.
 *
 * Do not call it for the session of the update a handler is running in: that
 * session is locked by the update, and `ctx.session` is the way to change it.
 *
 * @example Give every user a bonus from a cron job
 * ```ts
 * import { Bot } from "gramio";
 * import { inMemoryStorage, session, sessionStore } from "@gramio/session";
 *
 * const options = { storage: inMemoryStorage(), initial: () => ({ coins: 0 }) };
 * const bot = new Bot("TOKEN").extend(session(options));
 * const sessions = sessionStore(options);
 *
 * for await (const key of sessions.keys()) {
 *   await sessions.update(key, (s) => {
 *     s.coins += 10;
 *   });
 * }
 * ```
 */
export function sessionStore<Data extends object = Record<string, unknown>>(
  options: SessionOptions<Data, string, boolean> = {},
): SessionStore<Data> {
  const runtime = createRuntime(options);
  needUpdateScope();
  const checked = (key: string): string => {
    if (typeof key !== "string" || key === "") {
      throw new TypeError(
        `sessionStore: a session key is a non-empty string, got ${JSON.stringify(key)}.`,
      );
    }
    return sessionKeyOnly(key, "sessionStore");
  };
  // Called from a handler, the lock is taken on behalf of that update, and
  // from an update() callback on behalf of that call: a wait that would
  // deadlock (with another update, or with the caller itself) is refused, not
  // hung. Otherwise each call is its own owner.
  const owner = (): object => currentUpdate() ?? {};
  const open = (key: string, by = owner()): SessionState =>
    new SessionState(runtime, checked(key), {}, by);

  return {
    async get(key) {
      const state = open(key);
      try {
        const data = await state.load();
        if (!state.existed) return undefined;
        // Detached from the store (its $clear() could change nothing): plain data.
        return plainCopy(data) as Data;
      } finally {
        await state.abort();
      }
    },
    async update(key, change) {
      const by = owner();
      const state = open(key, by);
      const data = await state.load();
      try {
        await runAsOwner(by, () => change(data as Session<Data>));
      } catch (error) {
        await state.abort();
        throw error;
      }
      await state.commit();
      return state.data as Data;
    },
    async delete(key) {
      // No load: a record that cannot be read (bad data, a newer version) can
      // still be deleted, and initial() is not needed.
      const acquired = runtime.lock.acquire(checked(key), owner(), undefined, runtime.lockTimeout);
      const release = typeof acquired === "function" ? acquired : await acquired;
      try {
        await deleteStored(runtime, key);
      } finally {
        release();
      }
    },
    keys() {
      const storage = runtime.storage;
      if (!isListableStorage(storage)) {
        throw new SessionError(
          "sessionStore().keys(): this storage cannot list its keys. denoKvStorage, redisStorage and " +
            "inMemoryStorage can; a custom storage needs a keys() method (see ListableStorage).",
        );
      }
      return sessionKeys(storage.keys());
    },
  };
}

/** The keys of sessions, without the records of other plugins sharing the storage (scenes). */
async function* sessionKeys(keys: AsyncIterable<string>): AsyncIterable<string> {
  for await (const key of keys) if (!isOtherPluginKey(key)) yield key;
}

/** A session object as plain data: fields read lazily are read, `$clear()` is left behind. */
function plainCopy(data: object): object {
  if (!Array.isArray(data)) return { ...data };
  delete (data as { $clear?: unknown }).$clear;
  return data;
}
