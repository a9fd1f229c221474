/**
 * The mark of a storage that returns fresh copies and keeps none of the
 * objects it is given, so that the plugin need not copy again.
 *
 * @module
 */

/**
 * Own capability mark of a storage whose reads return fresh copies and whose
 * writes keep none of the objects written (the three built-in ones): the
 * plugin then skips its own copies. Any other storage may hand out and keep
 * live objects (a `Map`), so the plugin copies what it reads and writes.
 */
export const RETURNS_COPIES: unique symbol = Symbol("@gramio/session returns copies");

/** Marks `storage` with {@linkcode RETURNS_COPIES} (not enumerable: wrappers do not inherit it). */
export function markReturnsCopies<T extends object>(storage: T): T {
  Object.defineProperty(storage, RETURNS_COPIES, { value: true });
  return storage;
}

/** Whether `storage` is marked with {@linkcode RETURNS_COPIES}. */
export function returnsCopies(storage: object): boolean {
  return (storage as { [RETURNS_COPIES]?: boolean })[RETURNS_COPIES] === true;
}
