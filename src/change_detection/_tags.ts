/**
 * The tags of a tape: what an entry at a value's position recorded, and what
 * follows it. Private to change detection; imported as a namespace
 * (`tags.RECORD`).
 *
 * @module
 */

import { isBoxed } from "../value_kinds.ts";

/** What an entry at a value's position recorded; an object, so never equal to a primitive. */
export class Tag {
  constructor(readonly name: string) {}
}
// The tag, then what follows it on the tape.
/**
 * A record with Object.prototype, at most MANY_KEYS keys and no index keys:
 * its own enumerable keys, each followed by its value, then END. Compared by
 * `for...in` (see MANY_KEYS).
 */
export const RECORD: Tag = new Tag("record");
/** Any other record (a null or class prototype too): as RECORD, compared by `Object.keys`. */
export const KEYED_RECORD: Tag = new Tag("keyed record");
/** The length, the items (holes read as undefined), named keys with values, then END. */
export const ARRAY: Tag = new Tag("array");
/** The time. */
export const DATE: Tag = new Tag("Date");
/** The size, then each key and value. */
export const MAP: Tag = new Tag("Map");
/** The size, then each item. */
export const SET: Tag = new Tag("Set");
/** The constructor, then a copy of the viewed bytes. */
export const VIEW: Tag = new Tag("view");
/** A copy of the bytes. */
export const BUFFER: Tag = new Tag("ArrayBuffer");
/** The source and flags, as text. */
export const REGEXP: Tag = new Tag("RegExp");
/** The prototype, then the value. */
export const BOXED: Tag = new Tag("boxed");
/** The prototype, then what KV keeps of it as record entries (see errorFields), then END. */
export const ERROR: Tag = new Tag("Error");
/** An object met before in this field: the position it has in the order objects were met. */
export const REF: Tag = new Tag("reference");
/** The end of a record's or an array's named keys. */
export const END: Tag = new Tag("end");

/**
 * The tag an object is recorded under: RECORD stands for any record with
 * Object.prototype here, KEYED_RECORD for one with another prototype (a
 * class instance is a record, as in a structured clone).
 */
export function tagOf(value: object): Tag {
  if (Array.isArray(value)) return ARRAY;
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype) return RECORD;
  if (proto === null) return KEYED_RECORD;
  if (value instanceof Date) return DATE;
  if (value instanceof Map) return MAP;
  if (value instanceof Set) return SET;
  if (ArrayBuffer.isView(value)) return VIEW;
  if (value instanceof ArrayBuffer) return BUFFER;
  if (value instanceof RegExp) return REGEXP;
  if (isBoxed(value)) return BOXED;
  if (value instanceof Error) return ERROR;
  return KEYED_RECORD;
}

export const isRecordTag = (tag: unknown): boolean => tag === RECORD || tag === KEYED_RECORD;
