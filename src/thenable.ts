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

/**
 * Runs `step`, then `cleanup(failed)` once it has settled: at once when it
 * returns a plain value or throws (no promise, so no extra tick), after its
 * promise otherwise. What `step` returns or throws passes through.
 */
export function whenSettled<T>(
  step: () => T | Promise<T>,
  cleanup: (failed: boolean) => void,
): T | Promise<T> {
  let result: T | Promise<T>;
  try {
    result = step();
  } catch (error) {
    cleanup(true);
    throw error;
  }
  if (!(result instanceof Promise)) {
    cleanup(false);
    return result;
  }
  return result.then((value) => {
    cleanup(false);
    return value;
  }, (error) => {
    cleanup(true);
    throw error;
  });
}
