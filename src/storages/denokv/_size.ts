/**
 * Whether a session surely fits in one Deno KV value, told without
 * serializing it: a walk that adds up an upper bound of the bytes V8's
 * serializer (KV's format) writes for each value, and stops as soon as the
 * bound passes one value. Used where the size is not known from the version
 * read (a new session, an unconditional `set`): a session that surely fits is
 * handed to KV as it is, any other is serialized once here and chunked if it
 * is large, instead of being handed to KV whole, refused, and serialized again.
 *
 * The bound only decides which path a save takes, never what is stored: a
 * bound too high costs a second serialization (`node:v8`'s, then KV's), one
 * too low a commit KV refuses, as before. Shared objects and cycles are
 * counted each time they are met (their bound grows past the limit, so a
 * cycle ends the walk); values the bound does not know (an Error, a
 * `SharedArrayBuffer`) or nesting past {@linkcode MAX_LEVELS} end it too.
 *
 * @module
 */

import { namedArrayKeys } from "../../value_kinds.ts";
import { CHUNK_BYTES } from "./_chunks.ts";

/** Deeper than this, the walk gives up (the serialization decides). */
const MAX_LEVELS = 200;

/** A double: its tag and 8 bytes. */
const DOUBLE_BYTES = 9;
/** A view's buffer tag and length, the view's tag, kind, offset, length and flags. */
const VIEW_OVERHEAD = 32;
/**
 * An object met again is written as a reference (a tag and a varint id, up
 * to 6 bytes): no object is counted as less.
 */
const LEAST_OBJECT = 6;

/** A character outside Latin-1: V8 stores (and serializes) the string two bytes a character. */
// deno-lint-ignore no-control-regex
const TWO_BYTE = /[^\u0000-\u00ff]/;

/** Whether `value` serialized surely takes at most {@linkcode CHUNK_BYTES} bytes. */
export function surelyFitsOneValue(value: unknown): boolean {
  return serializedBound(value) !== undefined;
}

/**
 * An upper bound of the bytes V8's serializer writes for `value`, if it is at
 * most `limit`; `undefined` past it, or when the walk gives up.
 */
export function serializedBound(value: unknown, limit: number = CHUNK_BYTES): number | undefined {
  const bound = new Bound(limit);
  return bound.add(value, 0) ? bound.bytes : undefined;
}

class Bound {
  /** Bytes counted so far, header included. */
  bytes = 3;
  readonly #limit: number;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Counts `value`; `false` as soon as the bound passes one value (or the walk gives up). */
  add(value: unknown, level: number): boolean {
    switch (typeof value) {
      case "string":
        return this.#count(string(value));
      case "number":
        return this.#count(number(value));
      case "bigint":
        return this.#count(bigint(value));
      case "object":
        return value === null ? this.#count(1) : this.#object(value, level + 1);
      default:
        // undefined, booleans; a function or symbol is refused by KV itself, as before.
        return this.#count(1);
    }
  }

  #count(bytes: number): boolean {
    return (this.bytes += bytes) <= this.#limit;
  }

  #object(value: object, level: number): boolean {
    if (level > MAX_LEVELS) return false;
    const start = this.bytes;
    if (!this.#contents(value, level)) return false;
    return this.bytes - start >= LEAST_OBJECT || this.#count(LEAST_OBJECT);
  }

  #contents(value: object, level: number): boolean {
    if (Array.isArray(value)) return this.#array(value, level);
    const proto = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === null) return this.#fields(value, level);
    if (value instanceof Date) return this.#count(DOUBLE_BYTES);
    if (value instanceof Map) {
      // Tag, entries, end tag and their count.
      if (!this.#count(1 + 1 + varint(2 * value.size))) return false;
      for (const [k, v] of value) if (!this.add(k, level) || !this.add(v, level)) return false;
      return true;
    }
    if (value instanceof Set) {
      if (!this.#count(1 + 1 + varint(value.size))) return false;
      for (const item of value) if (!this.add(item, level)) return false;
      return true;
    }
    if (ArrayBuffer.isView(value)) {
      // V8 writes the whole buffer a view is on.
      const buffer = value.buffer;
      return buffer instanceof ArrayBuffer && this.#count(VIEW_OVERHEAD + buffer.byteLength);
    }
    if (value instanceof ArrayBuffer) return this.#count(VIEW_OVERHEAD + value.byteLength);
    if (value instanceof RegExp) return this.#count(DOUBLE_BYTES + string(value.source));
    if (value instanceof String) return this.#count(1 + string(value.valueOf()));
    if (value instanceof Number || value instanceof Boolean) return this.#count(DOUBLE_BYTES);
    if (value instanceof BigInt) return this.#count(1 + bigint(value.valueOf()));
    if (value instanceof Error) return false;
    // Another class's instance: its own enumerable fields, as a plain object.
    return this.#fields(value, level);
  }

  /**
   * An array: V8 writes a packed one densely and a holey one as its present
   * items with their indices; the bound counts each item with its index.
   */
  #array(array: unknown[], level: number): boolean {
    const length = array.length;
    // Tag, length, end tag, count of properties, length again.
    if (!this.#count(1 + varint(length) + 1 + 5 + varint(length))) return false;
    for (let i = 0; i < length; i++) {
      if (!this.#count(1 + varint(2 * i)) || !this.add(array[i], level)) return false;
    }
    const named = namedArrayKeys(array);
    if (named === undefined) return true;
    const record = array as unknown as Record<string, unknown>;
    for (const key of named) {
      if (!this.#count(string(key)) || !this.add(record[key], level)) return false;
    }
    return true;
  }

  /** A record: its own enumerable string keys and their values. */
  #fields(value: object, level: number): boolean {
    const record = value as Record<string, unknown>;
    let count = 0;
    for (const key in record) {
      if (!hasOwn.call(record, key)) continue;
      count++;
      if (!this.#count(string(key)) || !this.add(record[key], level)) return false;
    }
    // Tag, end tag and the count of properties.
    return this.#count(2 + varint(count));
  }
}

/** `hasOwnProperty.call` in `for...in` is a hidden-class check, `Object.hasOwn` a call per key. */
const hasOwn = Object.prototype.hasOwnProperty;

/** A string: its tag, byte length and bytes (two-byte ones after a padding byte). */
function string(value: string): number {
  const bytes = twoByte(value) ? 2 * value.length + 1 : value.length;
  return 1 + varint(bytes) + bytes;
}

/** Whether `value` has a character outside Latin-1: a scan for short strings (keys), else a regex. */
function twoByte(value: string): boolean {
  const length = value.length;
  if (length > 32) return TWO_BYTE.test(value);
  for (let i = 0; i < length; i++) if (value.charCodeAt(i) > 0xff) return true;
  return false;
}

/** A small integer: its tag and zigzag varint; any other number a double. */
function number(value: number): number {
  if (!Number.isInteger(value) || value < -(2 ** 30) || value >= 2 ** 30 || Object.is(value, -0)) {
    return DOUBLE_BYTES;
  }
  return 1 + varint(value >= 0 ? 2 * value : -2 * value - 1);
}

/** The bytes of `n` (not negative) as a base-128 varint. */
function varint(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;
}

function bigint(value: bigint): number {
  // A bitfield varint, then 64-bit digits.
  return 16 + Math.ceil(value.toString(16).length / 2);
}
