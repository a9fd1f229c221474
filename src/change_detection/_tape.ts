/**
 * What a snapshot is made of: a field's object recorded on a tape (one flat
 * array, depth-first: a tag per object, then what the tag says follows), the
 * prints of primitives, and the numbering of objects met again (shared
 * references and cycles). Private to change detection.
 *
 * @module
 */

import { sameBytes } from "../bytes.ts";

export function primitivePrint(value: unknown): unknown {
  return typeof value === "function" || typeof value === "symbol"
    ? new Opaque(opaqueText(value))
    : value;
}

/** `Object.is(value, print)`, without a call; a function or symbol matches its Opaque. */
export function samePrimitive(value: unknown, print: unknown): boolean {
  if (value === print) return value !== 0 || 1 / value === 1 / (print as number);
  if (typeof value === "function" || typeof value === "symbol") {
    return print instanceof Opaque && print.text === opaqueText(value);
  }
  return value !== value && print !== print; // NaN
}

/** Whether two prints (of two snapshots), or two entries of their tapes, record the same value. */
export function samePrint(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (a instanceof Recording) return b instanceof Recording && sameTape(a.tape, b.tape);
  if (a instanceof Opaque) return b instanceof Opaque && a.text === b.text;
  return a instanceof Uint8Array && b instanceof Uint8Array && sameBytes(a, b);
}

/** A function or symbol in a snapshot: stands for its text, so that replacing one is seen. */
export class Opaque {
  constructor(readonly text: string) {}
}

export const opaqueText = (value: unknown): string => typeof value + String(value);

/**
 * A tape: a field's object recorded depth-first. A value's entries are its
 * print (the primitive, or an Opaque), or a tag (_tags.ts) and what it says
 * follows.
 */
export type Tape = unknown[];

/** A field's object in a snapshot: its tape, and the objects recorded, in the order met. */
export class Recording {
  constructor(readonly tape: Tape, readonly objects: readonly object[]) {}
}

/** Two tapes record the same value when they are equal entry by entry. */
export function sameTape(a: Tape, b: Tape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!samePrint(a[i], b[i])) return false;
  return true;
}

/**
 * `Object.prototype.hasOwnProperty.call(record, key)` inside `for (key in
 * record)` compiles to a hidden-class check; `Object.hasOwn` is a call per key.
 */
const hasOwn = Object.prototype.hasOwnProperty;

/**
 * Records are read by `for...in` when they likely have V8's fast properties,
 * else by `Object.keys`. With fast properties, `for...in` plus the check
 * above loads each value from its slot: about 6 ns a key on the bench
 * machine, against 27 for `Object.keys` and a lookup per key. But a loop that
 * meets one object without them loses that for good, and then takes 40 ns a
 * key. Objects go to dictionary mode past about 16 keys added by computed name
 * (as copies and decoders add them), with a null prototype, or when a key is
 * deleted; index keys are kept apart (elements) and spoil the loop too.
 */
export const MANY_KEYS = 16;

/** Whether a record with these keys is likely to have fast properties (see MANY_KEYS). */
export function fewPlainKeys(keys: readonly string[]): boolean {
  if (keys.length > MANY_KEYS) return false;
  // Index keys (element storage) come first; a leading digit may be one.
  const first = keys.length === 0 ? 0 : keys[0].charCodeAt(0);
  return first < 48 || first > 57;
}

/** What a structured clone keeps of an Error (name via its class), and its own enumerable fields. */
export function errorFields(error: Error): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    message: error.message,
    stack: error.stack,
    name: error.name,
  };
  if (Object.hasOwn(error, "cause")) fields.cause = error.cause;
  for (const key in error) {
    // The prefix keeps own keys apart from the four above (and from "__proto__").
    if (hasOwn.call(error, key)) {
      fields["." + key] = (error as unknown as Record<string, unknown>)[key];
    }
  }
  return fields;
}

/** Up to this many objects, finding one again by a scan costs less than a `Set`. */
export const SCAN_LIMIT = 32;

/**
 * Numbers the objects a walk meets, in order. A few objects are scanned;
 * more go into a `Set` too (whose growth calls into C++, so it waits);
 * positions (a `Map`) are built only once an object is met again, which most
 * sessions never do.
 */
export class Numbering {
  /** The objects met, in order. */
  readonly objects: object[];
  #seen: Set<object> | undefined;
  #positions: Map<object, number> | undefined;

  /** Starts with `objects`, all different, as met already. */
  constructor(objects: object[] = []) {
    this.objects = objects;
    if (objects.length >= SCAN_LIMIT) this.#seen = new Set(objects);
  }

  /** -1 the first time `value` is met (recording it), afterwards the position it had then. */
  positionOf(value: object): number {
    const objects = this.objects;
    const seen = this.#seen;
    if (seen === undefined) {
      const position = objects.indexOf(value);
      if (position !== -1) return position;
      objects.push(value);
      if (objects.length === SCAN_LIMIT) this.#seen = new Set(objects);
      return -1;
    }
    const size = seen.size;
    if (seen.add(value).size !== size) {
      objects.push(value);
      return -1;
    }
    const positions = this.#positions ??= new Map();
    for (let i = positions.size; i < objects.length; i++) positions.set(objects[i], i);
    return positions.get(value)!;
  }
}
