/**
 * What the structured-clone rules every copy, comparison and walk follows
 * need to know of a value: an array's named (non-index) keys, a boxed
 * primitive; and how to set a field named `__proto__` as a field.
 *
 * @module
 */

import { isIndex } from "./value_path.ts";

/** The own enumerable keys of an array that are not indices, or `undefined` when none. */
export function namedArrayKeys(array: readonly unknown[]): string[] | undefined {
  const keys = Object.keys(array);
  // Indices come first, in order: a dense array without named keys ends with its last index.
  const last = keys.length - 1;
  if (last === -1 || (keys.length === array.length && keys[last] === String(last))) {
    return undefined;
  }
  let first = keys.length;
  while (first > 0 && !isIndex(keys[first - 1])) first--;
  return first === keys.length ? undefined : keys.slice(first);
}

/** A `Number`, `String`, `Boolean` or `BigInt` object (`new Number(1)`). */
export function isBoxed(value: object): boolean {
  return value instanceof Number || value instanceof String || value instanceof Boolean ||
    value instanceof BigInt;
}

/** Sets an own field, even one named `__proto__` (which `=` would treat as the prototype). */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(target, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else target[key] = value;
}
