/**
 * A JSON-only storage that behaves like `@gramio/storage-redis` and the other
 * `@gramio/storage-*` adapters: every value goes through `JSON.stringify` on
 * the way in and `JSON.parse` on the way out, so a `Date` comes back as a
 * string and a `Set` as `{}`. It declares no `richValues`, as those adapters
 * do not. The stored strings are visible in `raw`, for tests that check what
 * another program reading the same store would see.
 *
 * @module
 */

import type { Storage } from "../../src/storage.ts";

/** The storage and its backing map of JSON strings. */
export interface JsonStorage extends Storage {
  /** Stored JSON text by key. */
  readonly raw: Map<string, string>;
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown): Promise<void>;
  has(key: string): Promise<boolean>;
  delete(key: string): Promise<boolean>;
}

/** A new, empty JSON-only storage. */
export function jsonStorage(): JsonStorage {
  const raw = new Map<string, string>();
  return {
    raw,
    async get(key) {
      await Promise.resolve(); // a network round trip: never synchronous
      const text = raw.get(key);
      return text === undefined ? undefined : JSON.parse(text);
    },
    async set(key, value) {
      await Promise.resolve();
      raw.set(key, JSON.stringify(value));
    },
    async has(key) {
      await Promise.resolve();
      return raw.has(key);
    },
    async delete(key) {
      await Promise.resolve();
      return raw.delete(key);
    },
  };
}
