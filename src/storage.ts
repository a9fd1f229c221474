/**
 * The storage contract. It is the `@gramio/storage` shape, so adapters written
 * for the original plugin (`@gramio/storage-redis`, `-sqlite`, `-cloudflare`)
 * plug in unchanged. The optional members let a storage do more: keep its own
 * expiry, and refuse a write whose base changed in another process.
 *
 * The error rule every storage of this package follows is here too
 * ({@linkcode storageError}), once.
 *
 * @module
 */

import { SessionError, SessionStorageError } from "./errors.ts";
import { isThenable } from "./thenable.ts";

/** A value, or a Promise of it: storages may be synchronous or asynchronous. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * Options the plugin passes as the third argument of {@linkcode Storage.set}.
 * Storages that do not know them ignore them.
 */
export interface SetOptions {
  /**
   * Milliseconds after which the storage may drop the value on its own
   * (Deno KV `expireIn`, Redis `PX`). The plugin enforces the session `ttl` on
   * read itself, so this is only housekeeping.
   */
  ttl?: number;
}

/**
 * A key-value store of sessions, keyed by the session key string.
 *
 * @example A storage backed by a `Map`
 * ```ts
 * import type { Storage } from "@gramio/session";
 *
 * const map = new Map<string, unknown>();
 * const storage: Storage = {
 *   get: (key) => map.get(key),
 *   set: (key, value) => void map.set(key, value),
 *   has: (key) => map.has(key),
 *   delete: (key) => map.delete(key),
 * };
 * ```
 */
export interface Storage<Value = unknown> {
  /** A short name for debug logs (`"deno-kv"`, `"redis"`, `"memory"`). */
  readonly name?: string;
  /**
   * `true` when the storage keeps `Date`, `Map`, `Set`, `BigInt`, `undefined`
   * and repeated references as they are (this package's Deno KV, Redis and
   * in-memory storages). A storage that does not say so is treated as
   * JSON-only, like the `@gramio/storage-*` adapters: sessions that JSON would
   * change are stored in an encoded form, and values nothing can encode
   * (class instances, functions) are refused at save.
   */
  readonly richValues?: boolean;
  /** The stored value, or `undefined` when there is none. */
  get(key: string): MaybePromise<Value | undefined | null>;
  /** Stores `value` under `key`, replacing what was there. */
  set(key: string, value: Value, options?: SetOptions): MaybePromise<unknown>;
  /** Whether a value is stored under `key`. */
  has(key: string): MaybePromise<boolean>;
  /** Removes the value under `key`. */
  delete(key: string): MaybePromise<unknown>;
}

/** A stored value with the version it was read at. */
export interface VersionedValue<Value = unknown> {
  /** The stored value, `undefined` when there is none. */
  value: Value | undefined;
  /** An opaque version; `null` when nothing is stored. */
  version: string | null;
}

/**
 * A storage with compare-and-set. The plugin uses it to notice a session that
 * another process saved while this update was running, instead of silently
 * overwriting it (see "Several bot instances" in the README).
 *
 * @example Checking for compare-and-set support
 * ```ts
 * import { isVersionedStorage, inMemoryStorage } from "@gramio/session";
 *
 * console.log(isVersionedStorage(inMemoryStorage())); // true
 * ```
 */
export interface VersionedStorage<Value = unknown> extends Storage<Value> {
  /** Reads a value together with its current version. */
  getVersioned(key: string): MaybePromise<VersionedValue<Value>>;
  /**
   * Writes `value` only if the stored version is still `version` (`null`:
   * only if nothing is stored). Resolves `false` when it was not written.
   */
  setIfVersion(
    key: string,
    value: Value,
    version: string | null,
    options?: SetOptions,
  ): MaybePromise<boolean>;
  /**
   * Optional: deletes only if the stored version is still `version` (`null`:
   * only if nothing is stored). Resolves `false` when it did not delete.
   * `$clear()` uses it so that a clear never erases another process's save.
   * Without it, a cleared session is stored as `initial()` with
   * {@linkcode VersionedStorage.setIfVersion} instead of being deleted.
   *
   * @example A versioned delete over a `Map` of `{ value, version }`
   * ```ts
   * const map = new Map<string, { value: unknown; version: string }>();
   * const deleteIfVersion = (key: string, version: string | null): boolean => {
   *   if ((map.get(key)?.version ?? null) !== version) return false;
   *   map.delete(key);
   *   return true;
   * };
   * console.log(deleteIfVersion("42", null)); // true: nothing stored, nothing to delete
   * ```
   */
  deleteIfVersion?(key: string, version: string | null): MaybePromise<boolean>;
}

/**
 * Whether `storage` supports compare-and-set ({@linkcode VersionedStorage}).
 *
 * @example
 * ```ts
 * import { isVersionedStorage, inMemoryStorage } from "@gramio/session";
 *
 * if (isVersionedStorage(inMemoryStorage())) console.log("compare-and-set");
 * ```
 */
export function isVersionedStorage<Value>(
  storage: Storage<Value>,
): storage is VersionedStorage<Value> {
  const candidate = storage as Partial<VersionedStorage<Value>>;
  return typeof candidate.getVersioned === "function" &&
    typeof candidate.setIfVersion === "function";
}

/**
 * A storage that can list its session keys, used by the sessions API outside
 * updates (`sessions.list()`): Deno KV through `kv.list`, Redis through SCAN.
 *
 * @example
 * ```ts
 * import { inMemoryStorage, isListableStorage } from "@gramio/session";
 *
 * const storage = inMemoryStorage();
 * if (isListableStorage(storage)) {
 *   for await (const key of storage.keys()) console.log(key);
 * }
 * ```
 */
export interface ListableStorage<Value = unknown> extends Storage<Value> {
  /** Every session key stored, in no particular order. */
  keys(): AsyncIterable<string>;
}

/**
 * Whether `storage` can list its keys ({@linkcode ListableStorage}).
 *
 * @example
 * ```ts
 * import { inMemoryStorage, isListableStorage } from "@gramio/session";
 *
 * console.log(isListableStorage(inMemoryStorage())); // true
 * ```
 */
export function isListableStorage<Value>(
  storage: Storage<Value>,
): storage is ListableStorage<Value> {
  return typeof (storage as Partial<ListableStorage<Value>>).keys ===
    "function";
}

/**
 * A storage whose every call returns a promise, with compare-and-set
 * (versioned delete included) and listing: the shape this package's Deno KV
 * and Redis storages share.
 *
 * @example
 * ```ts
 * import { type AsyncStorage, denoKvStorage } from "@gramio/session";
 *
 * const storage: AsyncStorage<{ count: number }> = denoKvStorage(await Deno.openKv(":memory:"));
 * console.log(await storage.getVersioned("42")); // { value: undefined, version: null }
 * ```
 */
export interface AsyncStorage<Value = unknown>
  extends VersionedStorage<Value>, ListableStorage<Value> {
  /** The stored session, `undefined` when there is none. */
  get(key: string): Promise<Value | undefined>;
  /** Stores `value`; `options.ttl` drops it after that many milliseconds. */
  set(key: string, value: Value, options?: SetOptions): Promise<void>;
  /** Whether a session is stored under `key`. */
  has(key: string): Promise<boolean>;
  /** Removes the session; resolves `true` when there was one. */
  delete(key: string): Promise<boolean>;
  /** Reads the session with its version (treat the version as opaque). */
  getVersioned(key: string): Promise<VersionedValue<Value>>;
  /** Writes only if the stored version is still `version`; resolves whether it wrote. */
  setIfVersion(
    key: string,
    value: Value,
    version: string | null,
    options?: SetOptions,
  ): Promise<boolean>;
  /** Deletes only if the stored version is still `version`; resolves whether it deleted. */
  deleteIfVersion(key: string, version: string | null): Promise<boolean>;
}

/**
 * `options.ttl` checked by the storage `name`: `undefined` when there is
 * none, a `RangeError` unless it is a positive number of milliseconds (the
 * rule of `session({ ttl })`, which never passes another).
 */
export function ttlOf(options: SetOptions | undefined, name: string): number | undefined {
  const ttl = options?.ttl;
  if (ttl === undefined || (ttl > 0 && Number.isFinite(ttl))) return ttl;
  throw new RangeError(
    `${name}: ttl is in milliseconds and must be a positive number, got ${String(ttl)}.`,
  );
}

/** What a storage call does, as {@linkcode SessionStorageError} names it. */
export type StorageOperation = SessionStorageError["operation"];

/**
 * The error rule of this package's storages, in one place. A storage call
 * fails with:
 * - `SessionDataError`: the stored value is unusable (undecodable,
 *   damaged); it is left as it is;
 * - `TypeError` or `RangeError`: misuse no retry fixes (a value, key or ttl
 *   the storage cannot take, a client it does not know); Deno KV's own limit
 *   and clone errors are `TypeError`s too;
 * - {@linkcode SessionStorageError} naming the key and operation, with the
 *   original as `cause`: everything else (the database, the server, the
 *   connection).
 *
 * Returns the error to throw for `error`. The Deno KV and Redis storages
 * apply it with {@linkcode withErrorRule}; the in-memory one follows it by
 * construction (only its copier can fail, with a `TypeError` or `RangeError`),
 * so its synchronous calls stay unwrapped.
 */
export function storageError(
  operation: StorageOperation,
  sessionKey: string,
  error: unknown,
): Error {
  if (error instanceof SessionError || error instanceof TypeError || error instanceof RangeError) {
    return error;
  }
  return new SessionStorageError(operation, sessionKey, error);
}

/** The methods of a storage that take a session key, with what each does. */
const KEYED_METHODS = {
  get: "read",
  getVersioned: "read",
  has: "read",
  set: "write",
  setIfVersion: "write",
  delete: "delete",
  deleteIfVersion: "delete",
} as const satisfies Record<string, StorageOperation>;

/**
 * `storage`, changed in place so that every keyed method follows
 * {@linkcode storageError}'s rule, synchronous or not. `keys()` names no
 * session: what it throws is left as it is.
 */
export function withErrorRule<S extends object>(storage: S): S {
  const methods = storage as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const [name, operation] of Object.entries(KEYED_METHODS)) {
    const method = methods[name];
    if (typeof method !== "function") continue;
    methods[name] = (...args) => {
      const fail = (error: unknown): never => {
        throw storageError(operation, args[0] as string, error);
      };
      try {
        const answer = method.apply(storage, args);
        return isThenable(answer) ? answer.then(undefined, fail) : answer;
      } catch (error) {
        return fail(error);
      }
    };
  }
  return storage;
}
