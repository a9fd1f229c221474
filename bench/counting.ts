/**
 * Counts the calls a session plugin makes to its storage, for the untimed
 * counting pass. The storage's methods are wrapped in place, on the same
 * object: whatever the plugin knows about the storage by its identity or its
 * own marks stays true, so it takes the same path as on the bare storage.
 * Works on our storages and on grammY's adapters alike.
 *
 * @module
 */

import { storedObjectsOf } from "../src/storages/memory.ts";

/** Calls seen by {@linkcode countCalls}. */
export interface Calls {
  reads: number;
  writes: number;
  deletes: number;
}

/** A fresh, zeroed counter. */
export function calls(): Calls {
  return { reads: 0, writes: 0, deletes: 0 };
}

/** Storage methods by what they cost: a read, a write or a delete. */
const KINDS: Record<string, keyof Calls> = {
  get: "reads",
  getVersioned: "reads",
  has: "reads",
  read: "reads", // grammY
  set: "writes",
  setIfVersion: "writes",
  write: "writes", // grammY
  delete: "deletes",
  deleteIfVersion: "deletes",
};

/**
 * Wraps the storage methods of `storage` in place to count into `seen`, and
 * those of the in-memory storage's stored-objects access (the plugin's way
 * to its values without copies); returns `storage`.
 */
export function countCalls<T extends object>(storage: T, seen: Calls): T {
  const objects = storedObjectsOf(storage);
  if (objects) countCalls(objects, seen);
  const methods = storage as unknown as Record<string, unknown>;
  for (const [name, kind] of Object.entries(KINDS)) {
    const method = methods[name];
    if (typeof method !== "function") continue;
    methods[name] = function (this: unknown, ...args: unknown[]) {
      seen[kind]++;
      return method.apply(this, args);
    };
  }
  return storage;
}
