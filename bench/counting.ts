/**
 * Call counters around the storages of each framework, used only in the
 * separate counting pass so that the timed pass runs on the bare storages.
 *
 * @module
 */

import {
  isVersionedStorage,
  type SetOptions,
  type Storage,
  type VersionedStorage,
} from "../mod.ts";
import { markReturnsCopies, returnsCopies } from "../src/clone.ts";

/** Reads and writes seen by a counting wrapper. */
export interface Calls {
  reads: number;
  writes: number;
  deletes: number;
}

/** A fresh, zeroed counter. */
export function calls(): Calls {
  return { reads: 0, writes: 0, deletes: 0 };
}

/**
 * Wraps one of our storages. Keeps its compare-and-set support, so the plugin
 * takes the same path (getVersioned/setIfVersion) as on the bare storage.
 */
export function countedStorage(inner: Storage, seen: Calls): Storage {
  const counted: Storage = {
    richValues: inner.richValues,
    get: (key) => (seen.reads++, inner.get(key)),
    set: (
      key,
      value,
      options?: SetOptions,
    ) => (seen.writes++, inner.set(key, value, options)),
    has: (key) => (seen.reads++, inner.has(key)),
    delete: (key) => (seen.deletes++, inner.delete(key)),
  };
  // Passes values through unchanged: the plugin may skip its copies as on the bare storage.
  const keepMark = <T extends Storage>(wrapper: T): T =>
    returnsCopies(inner) ? markReturnsCopies(wrapper) : wrapper;
  if (!isVersionedStorage(inner)) return keepMark(counted);
  const versioned: VersionedStorage = {
    ...counted,
    getVersioned: (key) => (seen.reads++, inner.getVersioned(key)),
    setIfVersion: (key, value, version, options) => (
      seen.writes++, inner.setIfVersion(key, value, version, options)
    ),
  };
  return keepMark(versioned);
}

/** grammY's `StorageAdapter` shape (read/write/delete). */
export interface GrammyStorage<T> {
  read(key: string): T | undefined | Promise<T | undefined>;
  write(key: string, value: T): void | Promise<void>;
  delete(key: string): void | Promise<void>;
}

/** Wraps a grammY storage adapter. */
export function countedGrammyStorage<T>(
  inner: GrammyStorage<T>,
  seen: Calls,
): GrammyStorage<T> {
  return {
    read: (key) => (seen.reads++, inner.read(key)),
    write: (key, value) => (seen.writes++, inner.write(key, value)),
    delete: (key) => (seen.deletes++, inner.delete(key)),
  };
}

/** Telegraf's synchronous `SessionStore` shape (get/set/delete). */
export interface TelegrafStore<T> {
  get(name: string): T | undefined;
  set(name: string, value: T): void;
  delete(name: string): void;
}

/** Wraps a Telegraf session store. */
export function countedTelegrafStore<T>(
  inner: TelegrafStore<T>,
  seen: Calls,
): TelegrafStore<T> {
  return {
    get: (name) => (seen.reads++, inner.get(name)),
    set: (name, value) => (seen.writes++, inner.set(name, value)),
    delete: (name) => (seen.deletes++, inner.delete(name)),
  };
}
