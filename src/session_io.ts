/**
 * The storage calls of one session, each bounded by `storageTimeout`: the
 * read (versioned where the storage has compare-and-set), the re-read after
 * another process saved, the write (compare-and-set when there is a version
 * to compare with) and the delete. Calls that answer synchronously (in
 * memory) get no promise and no timer.
 *
 * @module
 */

import { SessionDataError, SessionStorageError } from "./errors.ts";
import type { SessionRuntime } from "./options.ts";
import {
  isVersionedStorage,
  type SetOptions,
  type StorageOperation,
  type VersionedValue,
} from "./storage.ts";
import { bounded } from "./storage_timeout.ts";
import { storedObjectsOf, type StoredShape } from "./storages/memory.ts";
import { isThenable } from "./thenable.ts";

/** A stored value and the version to compare-and-set against. */
export interface StoredRead {
  readonly value: unknown;
  /** `undefined` for a storage without compare-and-set, `null` when nothing is stored. */
  readonly version: string | null | undefined;
  /**
   * The value is the stored object itself (in memory), never to be changed,
   * with how its objects are linked.
   */
  readonly shared?: { readonly shape: StoredShape };
}

/**
 * Reads the session stored under `key`. A failure is `SessionStorageError`;
 * data the storage itself cannot decode (`SessionDataError`) reads as absent
 * with `onInvalidData: "reset"` (the save overwrites it), else is thrown.
 */
export function readStored(runtime: SessionRuntime, key: string): StoredRead | Promise<StoredRead> {
  const { storage } = runtime;
  const objects = storedObjectsOf(storage);
  if (objects) {
    const { value, version, shape } = objects.read(key);
    return { value, version, shared: { shape } };
  }
  const versioned = isVersionedStorage(storage);
  let pending: unknown;
  try {
    pending = versioned ? storage.getVersioned(key) : storage.get(key);
  } catch (cause) {
    return readFailed(runtime, key, cause);
  }
  if (isThenable(pending)) {
    return bounded(pending, runtime.storageTimeout).then(
      (read) => versioned ? read as VersionedValue : { value: read, version: undefined },
      (cause) => readFailed(runtime, key, cause),
    );
  }
  return versioned ? pending as VersionedValue : { value: pending, version: undefined };
}

function readFailed(runtime: SessionRuntime, key: string, cause: unknown): StoredRead {
  if (!(cause instanceof SessionDataError)) throw asStorageError("read", key, cause);
  if (!runtime.resetInvalid) throw cause;
  return { value: undefined, version: undefined };
}

/**
 * Reads the session again before a save that may conflict: the version is
 * `null` without compare-and-set. Failures are the caller's to describe.
 */
export async function rereadStored(
  runtime: SessionRuntime,
  key: string,
): Promise<{ value: unknown; version: string | null }> {
  const { storage, storageTimeout } = runtime;
  if (isVersionedStorage(storage)) return await bounded(storage.getVersioned(key), storageTimeout);
  return { value: await bounded(storage.get(key), storageTimeout), version: null };
}

/**
 * Writes an encoded session: conditionally on `version` when the storage has
 * compare-and-set and there is a version (`false`: another process saved
 * since), else unconditionally (`true`). Failures are the caller's to
 * describe.
 */
export function writeStored(
  runtime: SessionRuntime,
  key: string,
  encoded: unknown,
  version: string | null | undefined,
): boolean | Promise<boolean> {
  const { storage, ttl, storageTimeout } = runtime;
  const options: SetOptions | undefined = ttl === undefined ? undefined : { ttl };
  if (version === undefined || !isVersionedStorage(storage)) {
    const pending = storage.set(key, encoded, options);
    return isThenable(pending) ? bounded(pending, storageTimeout).then(() => true) : true;
  }
  const pending = storage.setIfVersion(key, encoded, version, options);
  return isThenable(pending) ? bounded(pending, storageTimeout) : pending;
}

/**
 * Like {@linkcode writeStored}, handing `encoded` over to an in-memory
 * storage as it is (nothing may change it after); `undefined` for any other
 * storage. `shape`: see {@linkcode StoredRead.shared}.
 */
export function handOverStored(
  runtime: SessionRuntime,
  key: string,
  encoded: unknown,
  version: string | null | undefined,
  shape: StoredShape,
): boolean | undefined {
  const { ttl } = runtime;
  return storedObjectsOf(runtime.storage)?.write(
    key,
    encoded,
    version,
    ttl === undefined ? undefined : { ttl },
    shape,
  );
}

/** Deletes the session under `key`, whatever is stored; a failure is `SessionStorageError`. */
export async function deleteStored(runtime: SessionRuntime, key: string): Promise<void> {
  try {
    await bounded(runtime.storage.delete(key), runtime.storageTimeout);
  } catch (cause) {
    throw asStorageError("delete", key, cause);
  }
}

/**
 * What the plugin reports for a storage call that failed: a
 * {@linkcode SessionStorageError} the storage raised itself as it is,
 * anything else wrapped in one (a `TypeError` too: the update's read or save
 * failed all the same).
 */
export function asStorageError(
  operation: StorageOperation,
  sessionKey: string,
  error: unknown,
): SessionStorageError {
  return error instanceof SessionStorageError
    ? error
    : new SessionStorageError(operation, sessionKey, error);
}
