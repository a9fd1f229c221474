/**
 * A bound on every storage call. A storage whose promise never settles (a
 * dropped connection with no socket timeout, a stuck file lock) would
 * otherwise hold the session's lock, and with it every later update of that
 * user, forever.
 *
 * @module
 */

import { isThenable } from "./thenable.ts";

/** The default `storageTimeout`: 10 s, far above any healthy storage call. */
export const DEFAULT_STORAGE_TIMEOUT = 10_000;

/** What a storage call that did not settle in time rejects with (the plugin wraps it in `SessionStorageError`). */
export class StorageTimeoutError extends Error {
  constructor(ms: number) {
    super(
      `timed out after ${ms} ms (storageTimeout): the storage never answered. Check its connection, ` +
        "or raise storageTimeout if it is only slow",
    );
    this.name = "StorageTimeoutError";
  }
}

/**
 * A storage call's answer, bounded to `ms`: a synchronous answer is returned
 * as it is (no promise, no timer); a promise gets one timer, cleared when it
 * settles, and rejects with {@linkcode StorageTimeoutError} if it does not
 * settle in time. Whatever it settles to later is ignored.
 */
export function bounded<T>(answer: PromiseLike<T>, ms: number): Promise<T>;
export function bounded<T>(answer: T | PromiseLike<T>, ms: number): T | Promise<T>;
export function bounded<T>(answer: T | PromiseLike<T>, ms: number): T | Promise<T> {
  if (!isThenable(answer)) return answer as T;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new StorageTimeoutError(ms)), ms);
    (answer as PromiseLike<T>).then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
