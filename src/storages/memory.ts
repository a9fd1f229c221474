import { cloneValue } from "../clone.ts";
import type { ListableStorage, SetOptions, VersionedStorage, VersionedValue } from "../storage.ts";

/**
 * An in-memory {@linkcode Storage} for tests and throwaway bots. Data is lost
 * when the process ends.
 *
 * Stored values are deep copies (with Deno KV's structured-clone rules), so a
 * handler that keeps a reference to its session after the update cannot change
 * what is stored. It supports compare-and-set and listing like Deno KV.
 */
export interface InMemoryStorage extends VersionedStorage, ListableStorage {
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
export function inMemoryStorage(
  options: { clock?: () => number } = {},
): InMemoryStorage {
  const clock = options.clock ?? Date.now;
  const entries = new Map<string, Entry>();
  let versions = 0;

  const live = (key: string): Entry | undefined => {
    const entry = entries.get(key);
    if (entry?.expiresAt !== undefined && entry.expiresAt <= clock()) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  };
  const write = (key: string, value: unknown, options?: SetOptions): void => {
    entries.set(key, {
      value: cloneValue(value),
      version: String(++versions),
      expiresAt: options?.ttl === undefined ? undefined : clock() + options.ttl,
    });
  };

  return {
    name: "memory",
    get: (key) => {
      const entry = live(key);
      return entry && cloneValue(entry.value);
    },
    set: (key, value, options) => write(key, value, options),
    has: (key) => live(key) !== undefined,
    delete: (key) => entries.delete(key),
    // Synchronous, like get and set: the plugin skips a microtask per call.
    getVersioned(key): VersionedValue {
      const entry = live(key);
      return entry
        ? { value: cloneValue(entry.value), version: entry.version }
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
}
