/**
 * Session objects made from what the handlers give: `initial()`'s value and
 * an assigned one (`ctx.session = value`), each as the session's own copy
 * and refused with the fix when it cannot be a session; the `$clear()` every
 * session object carries; and changing a session object in place (the object
 * handlers hold stays the same).
 *
 * @module
 */

import { cloneValue } from "./clone.ts";
import { setOwn } from "./value_kinds.ts";
import type { SessionRuntime } from "./options.ts";
import { isThenable } from "./thenable.ts";

/** A copy of what `initial(ctx)` returns: the session of a user who has none. */
export async function initialSession(runtime: SessionRuntime, ctx: object): Promise<object> {
  const value = await runtime.initial(ctx);
  if (typeof value !== "object" || value === null) {
    throw new TypeError(
      `initial() of session "${runtime.property}" returned ${
        value === null ? "null" : `a ${typeof value}`
      }: a session is an object, so that it can carry $clear() and be changed in place. ` +
        `Wrap the value, e.g. initial: () => ({ value: 0 }).`,
    );
  }
  // A copy, so that an initial() returning a shared constant cannot leak
  // one user's changes into another user's session.
  return plainRoot(cloneValue(value), runtime.property, "initial() returned");
}

/**
 * A copy of a value assigned to `ctx[property]`, by the storages' cloning
 * rules: the session never shares objects with a constant or with another
 * user's session.
 */
export function assignedSession(value: unknown, property: string): object {
  if (typeof value !== "object" || value === null) {
    throw new TypeError(
      `ctx.${property} must be assigned an object (got ${typeof value}). ` +
        `To delete the session, assign null or call ctx.${property}.$clear().`,
    );
  }
  // A copy of a Promise is `{}`: refuse it rather than store an empty session.
  if (isThenable(value)) {
    throw new TypeError(
      `ctx.${property} was assigned a Promise: assign the data it resolves to, ` +
        `ctx.${property} = await value.`,
    );
  }
  // A `$clear` copied over from a session (`{ count: 1, $clear: ctx.session.$clear }`,
  // the old way to satisfy the type) is not data: the copy gets its own.
  const own = value as Record<string, unknown>;
  if (typeof own.$clear === "function" && Object.hasOwn(own, "$clear")) {
    const { $clear: _, ...data } = own;
    return cloneValue(data);
  }
  return plainRoot(cloneValue(value), property, `ctx.${property} was assigned`);
}

/**
 * Changes are seen field by field, so a session that is itself a Map, Set
 * or Date would never be saved: refused with the fix instead.
 */
function plainRoot(data: object, property: string, what: string): object {
  if (Array.isArray(data) || Object.getPrototypeOf(data) === Object.prototype) return data;
  const kind = (data as { constructor?: { name?: string } }).constructor?.name ?? "object";
  throw new TypeError(
    `Session "${property}": ${what} a ${kind}. A session is a plain object, saved ` +
      `field by field, so changes inside a ${kind} at its top level would never be saved. Put it ` +
      `in a field, e.g. initial: () => ({ items: new ${kind}() }).`,
  );
}

/** Gives a session object its `$clear()` (not enumerable: never stored). */
export function attachClear(data: object, clear: () => Promise<void>): void {
  Object.defineProperty(data, "$clear", {
    value: clear,
    enumerable: false,
    configurable: true,
    writable: true,
  });
}

/** `$clear()` in place, first step: `data` loses its own fields. */
export function emptyInPlace(data: object): void {
  for (const key of Object.keys(data)) {
    delete (data as Record<string, unknown>)[key];
  }
  // A session that is itself an array: no holes where its items were.
  if (Array.isArray(data)) data.length = 0;
}

/** `$clear()` in place: `data`'s own fields become those of `initial`. */
export function resetInPlace(data: object, initial: object): void {
  emptyInPlace(data);
  for (const [key, value] of Object.entries(initial)) {
    setOwn(data as Record<string, unknown>, key, value);
  }
}

/**
 * Makes `target`'s own fields those of `source`, keeping the place of the
 * fields both have (the object handlers hold stays the same).
 */
export function adoptInPlace(target: object, source: object): void {
  const into = target as Record<string, unknown>;
  for (const key of Object.keys(into)) {
    if (!Object.hasOwn(source, key)) delete into[key];
  }
  for (const [key, value] of Object.entries(source)) setOwn(into, key, value);
}
