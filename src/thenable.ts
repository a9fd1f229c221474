/**
 * Telling a storage's (or a key resolver's) promise from a plain value.
 * `instanceof Promise` misses promises of other libraries and realms, and
 * taking one of those for a value would read an empty session and then
 * overwrite the stored one.
 *
 * @module
 */

/** Whether `value` is a promise of any kind (has a `then` method). */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === "object" || typeof value === "function") && value !== null &&
    typeof (value as { then?: unknown }).then === "function";
}
