/**
 * The in-memory storage: sessions in a `Map` of this process, for tests and
 * throwaway bots, with the same compare-and-set, ttl and listing as Deno KV.
 *
 * @module
 */

import { cloneTelling, cloneValue } from "../clone.ts";
import { markReturnsCopies } from "../returns_copies.ts";
import { storableShape } from "../storable_depth.ts";
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

/*
 * Entry layout. A stored session costs its Map entry and its copy, nothing
 * more: the version (a write counter, for compare-and-set) and, only when it
 * was written with a ttl, the expiry are hidden symbol-keyed fields of the
 * copy itself, which nobody else ever sees (reads copy it again, and copies
 * skip symbol keys). A small object copy has spare in-object room for them;
 * a value that cannot hold fields (a primitive) or is not a plain object
 * (an array, a Map) is kept in a Box.
 */
const VERSION = Symbol("version");
const EXPIRES = Symbol("expires at");
const SHAPE = Symbol("shape");

/**
 * How the objects in a stored value are linked: `"tree"`, no object is
 * reached twice; `"shares"`, some are, only within top-level fields (each
 * field can be copied on its own, remembering what it copied);
 * `"tangled"`, top-level fields share objects or the value contains itself.
 */
export type StoredShape = "tree" | "shares" | "tangled";

interface Entry {
  [VERSION]: number;
  /** Milliseconds since the epoch; set only when written with a ttl. */
  [EXPIRES]?: number;
  /** Set only when the value is not a tree. */
  [SHAPE]?: "shares" | "tangled";
}

/** An entry for a value that is not a plain object. */
class Box implements Entry {
  [VERSION]: number;
  [EXPIRES]?: number;
  [SHAPE]?: "shares" | "tangled";
  constructor(readonly value: unknown, version: number) {
    this[VERSION] = version;
  }
}

/** The entry that stores `copy` (a copy nobody else holds) at `version`. */
function entryOf(copy: unknown, version: number): Entry {
  if (
    typeof copy !== "object" || copy === null || Object.getPrototypeOf(copy) !== Object.prototype
  ) return new Box(copy, version);
  (copy as Entry)[VERSION] = version;
  return copy as Entry;
}

/** A copy of the stored value of `entry` (a tree is copied without remembering what was copied). */
function copyOut(entry: Entry): unknown {
  return cloneValue(valueOf(entry), entry[SHAPE] === undefined);
}

/** The stored value of `entry` (the caller copies it). */
function valueOf(entry: Entry): unknown {
  return entry instanceof Box ? entry.value : entry;
}

/**
 * The session plugin's way to the stored values themselves (internal, not
 * API): a read without a copy, on the promise never to change what it
 * reads, and a write of an object handed over (nobody changes it after), so
 * that an update copies what its handlers read and changed, not the whole
 * session twice. The public methods copy as before.
 */
export interface StoredObjects {
  /** The stored value itself, its version, and how its objects are linked. */
  read(key: string): { value: unknown; version: string | null; shape: StoredShape };
  /**
   * Stores `value` itself, if the stored version is still `version`
   * (`undefined`: whatever it is); whether it wrote. `shape`: as `read`
   * reports it.
   */
  write(
    key: string,
    value: unknown,
    version: string | null | undefined,
    options: SetOptions | undefined,
    shape: StoredShape,
  ): boolean;
}

const STORED_OBJECTS: unique symbol = Symbol("@gramio/session stored objects");

/** The stored-objects access of an in-memory storage (`undefined` for any other). */
export function storedObjectsOf(storage: object): StoredObjects | undefined {
  return (storage as { [STORED_OBJECTS]?: StoredObjects })[STORED_OBJECTS];
}

/** How the objects of a copy are linked (`tree`: the copy found no object twice). */
function shapeOf(copy: unknown, tree: boolean): StoredShape {
  if (tree) return "tree";
  if (typeof copy !== "object" || copy === null || Array.isArray(copy)) return "shares";
  const shape = storableShape(copy);
  return shape.fieldsShare || shape.containsItself ? "tangled" : "shares";
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
  // Past 2^31 writes a version no longer fits a small integer: each entry
  // written after that holds a heap number too (16 bytes), never a repeat.
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
      const expires = entry[EXPIRES];
      if (expires !== undefined && expires <= now) entries.delete(key);
    }
  };

  const live = (key: string): Entry | undefined => {
    const entry = entries.get(key);
    const expires = entry?.[EXPIRES];
    if (expires !== undefined && expires <= clock()) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  };
  const versionOf = (entry: Entry | undefined): string | null =>
    entry ? String(entry[VERSION]) : null;
  const write = (key: string, value: unknown, options?: SetOptions): void => {
    const { copy, tree } = cloneTelling(value);
    store(key, copy, options, shapeOf(copy, tree));
  };
  /** Stores `copy`, an object nobody else holds or changes. */
  const store = (
    key: string,
    copy: unknown,
    options: SetOptions | undefined,
    shape: StoredShape,
  ): void => {
    const ttl = ttlOf(options, "inMemoryStorage");
    const entry = entryOf(copy, ++versions);
    if (shape !== "tree") entry[SHAPE] = shape;
    const now = ttl === undefined && !expiring ? 0 : clock();
    if (ttl !== undefined) {
      entry[EXPIRES] = now + ttl;
      expiring = true;
    }
    entries.set(key, entry);
    if (expiring) sweepSome(now);
  };

  const storage: InMemoryStorage<Value> = {
    name: "memory",
    richValues: true,
    get: (key) => {
      const entry = live(key);
      return entry && copyOut(entry) as Value;
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
        ? { value: copyOut(entry) as Value, version: versionOf(entry) }
        : { value: undefined, version: null };
    },
    setIfVersion(key, value, version, options): boolean {
      if (versionOf(live(key)) !== version) return false;
      write(key, value, options);
      return true;
    },
    deleteIfVersion(key, version): boolean {
      if (versionOf(live(key)) !== version) return false;
      entries.delete(key);
      return true;
    },
    async *keys(): AsyncIterable<string> {
      for (const key of [...entries.keys()]) {
        if (live(key)) yield key;
      }
    },
  };
  const objects: StoredObjects = {
    read(key) {
      const entry = live(key);
      return entry
        ? { value: valueOf(entry), version: versionOf(entry), shape: entry[SHAPE] ?? "tree" }
        : { value: undefined, version: null, shape: "tree" };
    },
    write(key, value, version, options, shape) {
      if (version !== undefined && versionOf(live(key)) !== version) return false;
      store(key, value, options, shape);
      return true;
    },
  };
  Object.defineProperty(storage, STORED_OBJECTS, { value: objects });
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
