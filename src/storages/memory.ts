/**
 * The in-memory storage: sessions in a `Map` of this process, for tests and
 * throwaway bots, with the same compare-and-set, ttl and listing as Deno KV.
 *
 * @module
 */

import { cloneValue, markReturnsCopies } from "../clone.ts";
import {
  type ListableStorage,
  type SetOptions,
  ttlOf,
  type VersionedStorage,
  type VersionedValue,
} from "../storage.ts";

/**
 * An in-memory {@linkcode Storage} for tests and throwaway bots. Data is lost
 * when the process ends.
 *
 * Stored values are deep copies (with Deno KV's structured-clone rules), so a
 * handler that keeps a reference to its session after the update cannot change
 * what is stored. It supports compare-and-set and listing like Deno KV. It is
 * synchronous, and fits `@gramio/storage`'s `Storage` (for `@gramio/scenes`
 * and other plugins that take a storage) as it is.
 */
export interface InMemoryStorage<Value = unknown>
  extends VersionedStorage<Value>, ListableStorage<Value> {
  /** Values are structured clones: `Date`, `Map`, `Set`... are kept. */
  readonly richValues: true;
  /** A copy of the stored value, `undefined` when there is none. */
  get(key: string): Value | undefined;
  /** Stores a copy of `value`; `options.ttl` drops it after that many milliseconds. */
  set(key: string, value: Value, options?: SetOptions): void;
  /** Whether a value is stored under `key`. */
  has(key: string): boolean;
  /** Removes the value; `true` when there was one. */
  delete(key: string): boolean;
  /** A copy of the stored value with its version. */
  getVersioned(key: string): VersionedValue<Value>;
  /** Writes only if the stored version is still `version`; whether it wrote. */
  setIfVersion(key: string, value: Value, version: string | null, options?: SetOptions): boolean;
  /** Deletes only if the stored version is still `version` (`null`: nothing stored). */
  deleteIfVersion(key: string, version: string | null): boolean;
}

interface Entry {
  value: unknown;
  /** A string, as versions are compared and returned as strings. */
  version: string;
  expiresAt: number | undefined;
}

/**
 * Creates an in-memory storage.
 *
 * @example
 * ```ts
 * import { Bot } from "gramio";
 * import { inMemoryStorage, session } from "@gramio/session";
 *
 * const bot = new Bot("TOKEN").extend(
 *   session({ storage: inMemoryStorage(), initial: () => ({ count: 0 }) }),
 * );
 * ```
 *
 * @param options.clock Milliseconds since the epoch, for `SetOptions.ttl`
 * housekeeping; tests inject one. Defaults to `Date.now`.
 */
export function inMemoryStorage<Value = unknown>(
  options: { clock?: () => number } = {},
): InMemoryStorage<Value> {
  const clock = options.clock ?? Date.now;
  const entries = new Map<string, Entry>();
  let versions = 0;
  // Expired entries nobody reads again are released by a sweep that checks a
  // few entries per write (more than a write adds), resuming where it stopped,
  // so memory stays bounded without a timer. Off until a write has a ttl.
  let sweep: Iterator<[string, Entry]> | undefined;
  let expiring = false;
  const sweepSome = (now: number): void => {
    for (let i = 0; i < SWEEP_PER_WRITE; i++) {
      sweep ??= entries.entries();
      const next = sweep.next();
      if (next.done) {
        sweep = undefined;
        return;
      }
      const [key, entry] = next.value;
      if (entry.expiresAt !== undefined && entry.expiresAt <= now) entries.delete(key);
    }
  };

  const live = (key: string): Entry | undefined => {
    const entry = entries.get(key);
    if (entry?.expiresAt !== undefined && entry.expiresAt <= clock()) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  };
  const write = (key: string, value: unknown, options?: SetOptions): void => {
    const ttl = ttlOf(options, "inMemoryStorage");
    const now = ttl === undefined && !expiring ? 0 : clock();
    entries.set(key, {
      value: cloneValue(value),
      version: String(++versions),
      expiresAt: ttl === undefined ? undefined : now + ttl,
    });
    if (ttl !== undefined) expiring = true;
    if (expiring) sweepSome(now);
  };

  const storage: InMemoryStorage<Value> = {
    name: "memory",
    richValues: true,
    get: (key) => {
      const entry = live(key);
      return entry && cloneValue(entry.value as Value);
    },
    set: (key, value, options) => write(key, value, options),
    has: (key) => live(key) !== undefined,
    delete: (key) => {
      const existed = live(key) !== undefined;
      entries.delete(key);
      return existed;
    },
    // Synchronous, like get and set: the plugin skips a microtask per call.
    getVersioned(key): VersionedValue<Value> {
      const entry = live(key);
      return entry
        ? { value: cloneValue(entry.value as Value), version: entry.version }
        : { value: undefined, version: null };
    },
    setIfVersion(key, value, version, options): boolean {
      const current = live(key);
      if ((current ? current.version : null) !== version) return false;
      write(key, value, options);
      return true;
    },
    deleteIfVersion(key, version): boolean {
      const current = live(key);
      if ((current ? current.version : null) !== version) return false;
      entries.delete(key);
      return true;
    },
    async *keys(): AsyncIterable<string> {
      for (const key of [...entries.keys()]) {
        if (live(key)) yield key;
      }
    },
  };
  heldEntries.set(storage, entries);
  // get returns a copy and set keeps one: the plugin need not copy again.
  return markReturnsCopies(storage);
}

/** Entries checked for expiry per write. */
const SWEEP_PER_WRITE = 2;

const heldEntries = new WeakMap<object, Map<string, unknown>>();

/** How many entries `storage` holds, expired ones not released yet included (for tests). */
export function entryCount(storage: InMemoryStorage<unknown>): number {
  return heldEntries.get(storage)?.size ?? 0;
}
