/**
 * Whether a session field a handler holds still equals the field as read.
 * The field as read is kept apart and never handed out (handlers get a copy
 * of it), so no snapshot is needed: the two graphs are walked side by side
 * and compared by what a structured clone keeps (Deno KV's rules: Map, Set,
 * Date, BigInt, typed arrays, RegExp, boxed primitives, Errors, named array
 * properties, the place of shared references and cycles; class instances
 * count as their own fields), stopping at the first difference.
 *
 * @module
 */

import { sameBytes, viewedBytes } from "./bytes.ts";
import { isBoxed, namedArrayKeys } from "./value_kinds.ts";
import { MAX_DEPTH } from "./depth_limit.ts";

/**
 * Compares the fields of one session with the same fields as read. Where the
 * session object itself is met inside a field (a session that contains
 * itself), it matches the stored session object.
 */
export class FieldComparer {
  /**
   * Objects of the live value met so far, with the stored object each
   * matched; of a stored tree, only the live objects met.
   */
  #pairs: Map<object, object> | Set<object> | undefined;
  /** Stored objects already matched: each may match only one live object. */
  #taken: Set<object> | undefined;
  /** Whether a compared field reached the session object itself. */
  rootMet = false;

  /**
   * `storedTree`: the values as read reach no object twice. Then each live
   * object met twice is a difference, and no map of the stored objects each
   * matched is kept (half the cost of a compare).
   */
  constructor(
    readonly liveRoot?: object,
    readonly storedRoot?: object,
    readonly storedTree = false,
  ) {}

  /** The objects of the live value the last {@linkcode equal} met (all of them when it was equal). */
  get met(): { has(object: object): boolean } | undefined {
    return this.#pairs;
  }

  /** Whether `live` equals `stored`, a top-level field of the session as read. */
  equal(live: unknown, stored: unknown): boolean {
    this.#pairs = undefined;
    this.#taken = undefined;
    return this.#equal(live, stored, 2);
  }

  #equal(value: unknown, stored: unknown, depth: number): boolean {
    if (typeof value !== "object" || value === null) return Object.is(value, stored);
    if (typeof stored !== "object" || stored === null) return false;
    if (value === this.liveRoot) {
      this.rootMet = true;
      return stored === this.storedRoot;
    }
    if (stored === this.storedRoot) return false;
    // Deeper than any storage keeps: the save refuses it, with the depth in its message.
    if (depth > MAX_DEPTH) return false;
    // Shared references and cycles: the live graph must have the stored one's shape.
    if (this.storedTree) {
      const met = (this.#pairs ??= new Set()) as Set<object>;
      if (met.has(value)) return false;
      met.add(value);
    } else {
      const pairs = (this.#pairs ??= new Map()) as Map<object, object>;
      const matched = pairs.get(value);
      if (matched !== undefined) return matched === stored;
      const taken = this.#taken ??= new Set();
      if (taken.has(stored)) return false;
      pairs.set(value, stored);
      taken.add(stored);
    }
    const next = depth + 1;

    if (Array.isArray(value)) {
      if (!Array.isArray(stored) || value.length !== stored.length) return false;
      for (let i = 0; i < value.length; i++) {
        if (!this.#equal(value[i], stored[i], next)) return false;
      }
      return this.#sameNamed(value, stored, next);
    }
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      const special = this.#special(value, proto, stored, next);
      if (special !== undefined) return special;
    }
    return isRecord(stored) && this.#sameFields(value, stored, next);
  }

  /** Named (non-index) array properties: the same keys in the same order, with equal values. */
  #sameNamed(value: unknown[], stored: unknown[], depth: number): boolean {
    const mine = namedArrayKeys(value);
    const theirs = namedArrayKeys(stored);
    if (mine === undefined || theirs === undefined) return mine === theirs;
    if (mine.length !== theirs.length) return false;
    const a = value as unknown as Record<string, unknown>;
    const b = stored as unknown as Record<string, unknown>;
    for (let i = 0; i < mine.length; i++) {
      if (mine[i] !== theirs[i] || !this.#equal(a[mine[i]], b[mine[i]], depth)) return false;
    }
    return true;
  }

  /** Own enumerable fields: the same keys in the same order, with equal values. */
  #sameFields(value: object, stored: object, depth: number): boolean {
    const keys = Object.keys(stored);
    const a = value as Record<string, unknown>;
    const b = stored as Record<string, unknown>;
    let i = 0;
    for (const key in a) {
      if (!hasOwn.call(a, key)) continue;
      if (keys[i++] !== key || !this.#equal(a[key], b[key], depth)) return false;
    }
    return i === keys.length;
  }

  /** Built-in classes a structured clone keeps; `undefined` for others (compared by their fields). */
  #special(value: object, proto: object, stored: object, depth: number): boolean | undefined {
    if (value instanceof Date) {
      return stored instanceof Date && Object.is(value.getTime(), stored.getTime());
    }
    if (value instanceof Map) {
      if (!(stored instanceof Map) || value.size !== stored.size) return false;
      const theirs = stored.entries();
      for (const [k, v] of value) {
        const [sk, sv] = theirs.next().value as [unknown, unknown];
        if (!this.#equal(k, sk, depth) || !this.#equal(v, sv, depth)) return false;
      }
      return true;
    }
    if (value instanceof Set) {
      if (!(stored instanceof Set) || value.size !== stored.size) return false;
      const theirs = stored.values();
      for (const item of value) {
        if (!this.#equal(item, theirs.next().value, depth)) return false;
      }
      return true;
    }
    if (ArrayBuffer.isView(value)) {
      return ArrayBuffer.isView(stored) && stored.constructor === value.constructor &&
        sameBytes(viewedBytes(value), viewedBytes(stored));
    }
    if (value instanceof ArrayBuffer) {
      return stored instanceof ArrayBuffer &&
        sameBytes(new Uint8Array(value), new Uint8Array(stored));
    }
    if (value instanceof RegExp) {
      return stored instanceof RegExp && String(value) === String(stored);
    }
    if (isBoxed(value)) {
      return isBoxed(stored) && Object.getPrototypeOf(stored) === proto &&
        Object.is(value.valueOf(), stored.valueOf());
    }
    if (value instanceof Error) {
      return stored instanceof Error && Object.getPrototypeOf(stored) === proto &&
        value.message === stored.message && value.stack === stored.stack &&
        value.name === stored.name &&
        Object.hasOwn(value, "cause") === Object.hasOwn(stored, "cause") &&
        this.#equal(value.cause, stored.cause, depth) && this.#sameFields(value, stored, depth);
    }
    return undefined;
  }
}

/** `hasOwnProperty.call` in `for...in` is a hidden-class check, `Object.hasOwn` a call per key. */
const hasOwn = Object.prototype.hasOwnProperty;

/** Whether a stored object is a plain record (not an array, Date, Map...). */
function isRecord(stored: object): boolean {
  const proto = Object.getPrototypeOf(stored);
  return proto === Object.prototype || proto === null;
}
