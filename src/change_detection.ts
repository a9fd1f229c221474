/**
 * Change detection. A session is saved only when it changed, so the plugin
 * takes a snapshot when it hands the session out and compares the session
 * with it when the update's handlers are done.
 *
 * A snapshot holds, per top-level field, the value itself for primitives and
 * a private deep copy for objects (Map, Set, Date, BigInt, typed arrays,
 * RegExp, shared references and cycles included). Comparing walks the live
 * value and the copy side by side and stops at the first difference. Building
 * a copy allocates what the session holds but never stringifies it, so for a
 * 50 KB session a snapshot plus a comparison costs less than half what
 * printing it twice did (see bench/). Per-field copies also tell which fields
 * changed, which the conflict merge needs.
 *
 * @module
 */

import { DepthError, isBoxed, MAX_DEPTH, namedArrayKeys, setOwn } from "./clone.ts";

/** What a session looked like at one moment, field by field. */
export interface Snapshot {
  /** Own enumerable keys, in order. */
  readonly keys: string[];
  /** Per key, at the same index: the primitive, or a private copy of the object. */
  readonly prints: unknown[];
}

/**
 * Takes a snapshot of a session object's top-level fields. Throws a
 * `DepthError` for a session nested deeper than `MAX_DEPTH` (the copy is
 * recursive; the comparison never goes deeper than the copy).
 */
export function takeSnapshot(data: object): Snapshot {
  const keys = Object.keys(data);
  const prints = new Array<unknown>(keys.length);
  const record = data as Record<string, unknown>;
  for (let i = 0; i < keys.length; i++) {
    try {
      prints[i] = printOf(record[keys[i]]);
    } catch (error) {
      if (error instanceof DepthError) throw new DepthError(error.depth, keys[i]);
      throw error;
    }
  }
  return { keys, prints };
}

/** Whether `data` differs from what `base` recorded. */
export function hasChanged(base: Snapshot, data: object): boolean {
  const keys = Object.keys(data);
  if (keys.length !== base.keys.length) return true;
  const record = data as Record<string, unknown>;
  for (let i = 0; i < keys.length; i++) {
    if (keys[i] !== base.keys[i]) return true;
    if (!matches(record[keys[i]], base.prints[i])) return true;
  }
  return false;
}

/** The top-level fields whose value differs between two snapshots (added and removed ones too). */
export function changedFields(from: Snapshot, to: Snapshot): Set<string> {
  const changed = new Set<string>();
  const before = new Map<string, unknown>();
  for (let i = 0; i < from.keys.length; i++) {
    before.set(from.keys[i], from.prints[i]);
  }
  for (let i = 0; i < to.keys.length; i++) {
    const key = to.keys[i];
    if (!before.has(key) || !matches(to.prints[i], before.get(key))) {
      changed.add(key);
    }
    before.delete(key);
  }
  for (const key of before.keys()) changed.add(key);
  return changed;
}

/** A field's print. Primitives (most fields) need no Copier and allocate nothing. */
function printOf(value: unknown): unknown {
  return typeof value === "object" && value !== null
    ? new Copier().copy(value)
    : primitivePrint(value);
}

/** Whether a field still matches its print. */
function matches(value: unknown, print: unknown): boolean {
  return typeof value === "object" && value !== null
    ? new Comparer().equal(value, print)
    : primitiveMatches(value, print);
}

function primitivePrint(value: unknown): unknown {
  return typeof value === "function" || typeof value === "symbol"
    ? new Opaque(opaqueText(value))
    : value;
}

function primitiveMatches(value: unknown, print: unknown): boolean {
  if (typeof value === "function" || typeof value === "symbol") {
    return print instanceof Opaque && print.text === opaqueText(value);
  }
  return Object.is(value, print);
}

/** A function or symbol in a snapshot: stands for its text, so that replacing one is seen. */
class Opaque {
  constructor(readonly text: string) {}
}

/** Own named (non-index) keys of an array copy, only on copies of arrays that have some. */
const NAMED: unique symbol = Symbol("named keys");
type NamedCopy = unknown[] & { [NAMED]?: string[] };

/** A boxed primitive (`new Number(1)`) in a snapshot: its class and value. */
class Boxed {
  constructor(readonly proto: object | null, readonly value: unknown) {}
}

/** An Error in a snapshot: its class, and a copy of what KV keeps of it and its own fields. */
class ErrorCopy {
  constructor(readonly proto: object | null, readonly fields: unknown) {}
}

/** What a structured clone keeps of an Error (name via its class), and its own enumerable fields. */
function errorFields(error: Error): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    message: error.message,
    stack: error.stack,
    name: error.name,
  };
  if (Object.hasOwn(error, "cause")) fields.cause = error.cause;
  for (const key in error) {
    if (Object.hasOwn(error, key)) {
      setOwn(fields, "." + key, (error as unknown as Record<string, unknown>)[key]);
    }
  }
  return fields;
}

const opaqueText = (value: unknown): string => typeof value + String(value);

/** Remembers which objects were met, without a Map until a second one appears. */
class Visits<T> {
  #first: object | undefined;
  #firstValue: T | undefined;
  #more: Map<object, T> | undefined;

  get(key: object): T | undefined {
    if (key === this.#first) return this.#firstValue;
    return this.#more?.get(key);
  }

  set(key: object, value: T): void {
    if (this.#first === undefined) {
      this.#first = key;
      this.#firstValue = value;
    } else {
      (this.#more ??= new Map()).set(key, value);
    }
  }
}

/** Deep copies for snapshots: the structure, not the class, of every object. */
class Copier {
  readonly #copies = new Visits<unknown>();

  /** `depth`: the level `value` is at, the field's value being level 2. */
  copy(value: unknown, depth = 2): unknown {
    if (typeof value !== "object" || value === null) return primitivePrint(value);
    const known = this.#copies.get(value);
    if (known !== undefined) return known;
    if (depth > MAX_DEPTH) throw new DepthError(depth, undefined);
    const next = depth + 1;

    if (Array.isArray(value)) {
      const out: unknown[] = new Array(value.length);
      this.#copies.set(value, out);
      for (let i = 0; i < value.length; i++) out[i] = this.copy(value[i], next);
      const named = namedArrayKeys(value);
      if (named) {
        const from = value as unknown as Record<string, unknown>;
        const to = out as unknown as Record<string, unknown>;
        for (const key of named) setOwn(to, key, this.copy(from[key], next));
        (out as NamedCopy)[NAMED] = named;
      }
      return out;
    }
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      if (value instanceof Date) return this.#remember(value, new Date(value.getTime()));
      if (value instanceof Map) {
        const out = this.#remember(value, new Map());
        for (const [k, v] of value) out.set(this.copy(k, next), this.copy(v, next));
        return out;
      }
      if (value instanceof Set) {
        const out = this.#remember(value, new Set());
        for (const item of value) out.add(this.copy(item, next));
        return out;
      }
      if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof RegExp) {
        return this.#remember(value, structuredClone(value));
      }
      if (isBoxed(value)) return this.#remember(value, new Boxed(proto, value.valueOf()));
      if (value instanceof Error) {
        const out = this.#remember(value, new ErrorCopy(proto, undefined));
        (out as { fields: unknown }).fields = this.copy(errorFields(value), next);
        return out;
      }
    }
    const out: Record<string, unknown> = {};
    this.#copies.set(value, out);
    const record = value as Record<string, unknown>;
    for (const key in record) {
      if (Object.hasOwn(record, key)) setOwn(out, key, this.copy(record[key], next));
    }
    return out;
  }

  #remember<T>(value: object, copy: T): T {
    this.#copies.set(value, copy);
    return copy;
  }
}

/** Walks a value and a snapshot copy side by side; stops at the first difference. */
class Comparer {
  /** Objects of the value met so far, with the copy object each matched. */
  readonly #pairs = new Visits<object>();
  /** Copy objects already matched: each may match only one object of the value. */
  readonly #taken = new Visits<true>();

  equal(value: unknown, copy: unknown): boolean {
    if (typeof value !== "object" || value === null) return primitiveMatches(value, copy);
    if (typeof copy !== "object" || copy === null) return false;
    // Shared references and cycles: the value's graph must have the copy's shape.
    const matched = this.#pairs.get(value);
    if (matched !== undefined) return matched === copy;
    if (this.#taken.get(copy)) return false;
    this.#pairs.set(value, copy);
    this.#taken.set(copy, true);

    // Never deeper than the copy (at most MAX_DEPTH): a value nested deeper
    // differs from it before that.
    if (Array.isArray(value)) {
      if (!Array.isArray(copy) || value.length !== copy.length) return false;
      for (let i = 0; i < value.length; i++) {
        if (!this.equal(value[i], copy[i])) return false;
      }
      // One key listing per array: a copy carries its named keys, if any.
      const named = namedArrayKeys(value);
      const theirs = (copy as NamedCopy)[NAMED];
      if (named === undefined || theirs === undefined) return named === theirs;
      if (named.length !== theirs.length) return false;
      const from = value as unknown as Record<string, unknown>;
      const to = copy as unknown as Record<string, unknown>;
      for (let i = 0; i < named.length; i++) {
        if (named[i] !== theirs[i] || !this.equal(from[named[i]], to[named[i]])) return false;
      }
      return true;
    }
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      // Prints met when comparing two snapshots (changedFields).
      if (value instanceof Opaque) return copy instanceof Opaque && copy.text === value.text;
      if (value instanceof Boxed) {
        return copy instanceof Boxed && copy.proto === value.proto &&
          Object.is(copy.value, value.value);
      }
      if (value instanceof ErrorCopy) {
        return copy instanceof ErrorCopy && copy.proto === value.proto &&
          this.equal(value.fields, copy.fields);
      }
      if (value instanceof Date) {
        return copy instanceof Date && Object.is(value.getTime(), copy.getTime());
      }
      if (value instanceof Map) {
        if (!(copy instanceof Map) || value.size !== copy.size) return false;
        const theirs = copy.entries();
        for (const [k, v] of value) {
          const [ck, cv] = theirs.next().value as [unknown, unknown];
          if (!this.equal(k, ck) || !this.equal(v, cv)) return false;
        }
        return true;
      }
      if (value instanceof Set) {
        if (!(copy instanceof Set) || value.size !== copy.size) return false;
        const theirs = copy.values();
        for (const item of value) {
          if (!this.equal(item, theirs.next().value)) return false;
        }
        return true;
      }
      if (ArrayBuffer.isView(value)) {
        return ArrayBuffer.isView(copy) && copy.constructor === value.constructor &&
          sameBytes(
            value.buffer,
            value.byteOffset,
            value.byteLength,
            copy.buffer,
            copy.byteOffset,
            copy.byteLength,
          );
      }
      if (value instanceof ArrayBuffer) {
        return copy instanceof ArrayBuffer &&
          sameBytes(value, 0, value.byteLength, copy, 0, copy.byteLength);
      }
      if (value instanceof RegExp) return copy instanceof RegExp && String(value) === String(copy);
      if (isBoxed(value)) {
        return copy instanceof Boxed && copy.proto === proto &&
          Object.is(copy.value, value.valueOf());
      }
      if (value instanceof Error) {
        return copy instanceof ErrorCopy && copy.proto === proto &&
          this.equal(errorFields(value), copy.fields);
      }
    }
    if (!isRecordCopy(copy)) return false;
    // Same own keys in the same order, with equal values.
    const keys = Object.keys(copy);
    const record = value as Record<string, unknown>;
    const other = copy as Record<string, unknown>;
    let i = 0;
    for (const key in record) {
      if (!Object.hasOwn(record, key)) continue;
      if (keys[i++] !== key || !this.equal(record[key], other[key])) return false;
    }
    return i === keys.length;
  }
}

/** Whether a copy object stands for a plain record (not an array, Date, Map...). */
function isRecordCopy(copy: object): boolean {
  const proto = Object.getPrototypeOf(copy);
  return proto === Object.prototype || proto === null;
}

function sameBytes(
  a: ArrayBufferLike,
  aOffset: number,
  aLength: number,
  b: ArrayBufferLike,
  bOffset: number,
  bLength: number,
): boolean {
  if (aLength !== bLength) return false;
  const x = new Uint8Array(a, aOffset, aLength);
  const y = new Uint8Array(b, bOffset, bLength);
  for (let i = 0; i < aLength; i++) if (x[i] !== y[i]) return false;
  return true;
}
