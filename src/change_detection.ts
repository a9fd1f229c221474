/**
 * Change detection. A session is saved only when it changed, so the plugin
 * takes a snapshot when it hands the session out and compares the session
 * with it when the update's handlers are done.
 *
 * A snapshot holds, per top-level field, the value itself for primitives and
 * a recording for objects: a tape, one flat array that records the object
 * depth-first (a tag per object, then its keys and values; Map, Set, Date,
 * BigInt, typed arrays, RegExp, boxed primitives and Errors included) with a
 * back-reference where an object is met again (shared references and
 * cycles), and the objects met. Comparing walks the live value in the same
 * order and reads the tape along, stopping at the first difference. A
 * recording is one tape per field instead of a copy per object; the compare
 * needs no key lists, and no Set while it meets the very objects recorded
 * (see Reader). Per-field recordings also tell which fields changed, which
 * the conflict merge needs. `bench/change_detection.ts` measures it.
 *
 * @module
 */

import { DepthError, isBoxed, MAX_DEPTH, namedArrayKeys } from "./clone.ts";

/** What a session looked like at one moment, field by field. */
export interface Snapshot {
  /** Own enumerable keys, in order. */
  readonly keys: string[];
  /** Per key, at the same index: the primitive, or a private record of the object. */
  readonly prints: unknown[];
}

/**
 * Takes a snapshot of a session object's top-level fields. Throws a
 * `DepthError` for a session nested deeper than `MAX_DEPTH` (recording is
 * recursive; the comparison never goes deeper than the record).
 */
export function takeSnapshot(data: object): Snapshot {
  const keys = Object.keys(data);
  const prints = new Array<unknown>(keys.length);
  const record = data as Record<string, unknown>;
  let recorder: Recorder | undefined;
  for (let i = 0; i < keys.length; i++) {
    const value = record[keys[i]];
    if (typeof value !== "object" || value === null) {
      prints[i] = primitivePrint(value);
      continue;
    }
    try {
      prints[i] = (recorder ??= new Recorder()).record(value);
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
  let reader: Reader | undefined;
  for (let i = 0; i < keys.length; i++) {
    if (keys[i] !== base.keys[i]) return true;
    const value = record[keys[i]];
    const print = base.prints[i];
    if (typeof value === "object" && value !== null) {
      if (!(print instanceof Recording) || !(reader ??= new Reader()).matches(value, print)) {
        return true;
      }
    } else if (!samePrimitive(value, print)) return true;
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
    if (!before.has(key) || !samePrint(to.prints[i], before.get(key))) {
      changed.add(key);
    }
    before.delete(key);
  }
  for (const key of before.keys()) changed.add(key);
  return changed;
}

function primitivePrint(value: unknown): unknown {
  return typeof value === "function" || typeof value === "symbol"
    ? new Opaque(opaqueText(value))
    : value;
}

/** `Object.is(value, print)`, without a call; a function or symbol matches its Opaque. */
function samePrimitive(value: unknown, print: unknown): boolean {
  if (value === print) return value !== 0 || 1 / value === 1 / (print as number);
  if (typeof value === "function" || typeof value === "symbol") {
    return print instanceof Opaque && print.text === opaqueText(value);
  }
  return value !== value && print !== print; // NaN
}

/** Whether two prints (of two snapshots), or two entries of their tapes, record the same value. */
function samePrint(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (a instanceof Recording) return b instanceof Recording && sameTape(a.tape, b.tape);
  if (a instanceof Opaque) return b instanceof Opaque && a.text === b.text;
  return a instanceof Uint8Array && b instanceof Uint8Array && sameBytes(a, b);
}

/** A function or symbol in a snapshot: stands for its text, so that replacing one is seen. */
class Opaque {
  constructor(readonly text: string) {}
}

const opaqueText = (value: unknown): string => typeof value + String(value);

/**
 * A tape: a field's object recorded depth-first. A value's entries are its
 * print (the primitive, or an Opaque), or a {@linkcode Tag} and what it says
 * follows.
 */
type Tape = unknown[];

/** A field's object in a snapshot: its tape, and the objects recorded, in the order met. */
class Recording {
  constructor(readonly tape: Tape, readonly objects: readonly object[]) {}
}

/** Two tapes record the same value when they are equal entry by entry. */
function sameTape(a: Tape, b: Tape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!samePrint(a[i], b[i])) return false;
  return true;
}

/** What an entry at a value's position recorded; an object, so never equal to a primitive. */
class Tag {
  constructor(readonly name: string) {}
}
// The tag, then what follows it on the tape.
/**
 * A record with Object.prototype, at most MANY_KEYS keys and no index keys:
 * its own enumerable keys, each followed by its value, then END. Compared by
 * `for...in` (see MANY_KEYS).
 */
const RECORD = new Tag("record");
/** Any other record (a null or class prototype too): as RECORD, compared by `Object.keys`. */
const KEYED_RECORD = new Tag("keyed record");
/** The length, the items (holes read as undefined), named keys with values, then END. */
const ARRAY = new Tag("array");
/** The time. */
const DATE = new Tag("Date");
/** The size, then each key and value. */
const MAP = new Tag("Map");
/** The size, then each item. */
const SET = new Tag("Set");
/** The constructor, then a copy of the viewed bytes. */
const VIEW = new Tag("view");
/** A copy of the bytes. */
const BUFFER = new Tag("ArrayBuffer");
/** The source and flags, as text. */
const REGEXP = new Tag("RegExp");
/** The prototype, then the value. */
const BOXED = new Tag("boxed");
/** The prototype, then what KV keeps of it as record entries (see errorFields), then END. */
const ERROR = new Tag("Error");
/** An object met before in this field: the position it has in the order objects were met. */
const REF = new Tag("reference");
/** The end of a record's or an array's named keys. */
const END = new Tag("end");

/**
 * The tag an object is recorded under: RECORD stands for any record with
 * Object.prototype here, KEYED_RECORD for one with another prototype (a
 * class instance is a record, as in a structured clone).
 */
function tagOf(value: object): Tag {
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

const isRecordTag = (tag: unknown): boolean => tag === RECORD || tag === KEYED_RECORD;

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
const MANY_KEYS = 16;

/** Whether a record with these keys is likely to have fast properties (see MANY_KEYS). */
function fewPlainKeys(keys: readonly string[]): boolean {
  if (keys.length > MANY_KEYS) return false;
  // Index keys (element storage) come first; a leading digit may be one.
  const first = keys.length === 0 ? 0 : keys[0].charCodeAt(0);
  return first < 48 || first > 57;
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
    // The prefix keeps own keys apart from the four above (and from "__proto__").
    if (hasOwn.call(error, key)) {
      fields["." + key] = (error as unknown as Record<string, unknown>)[key];
    }
  }
  return fields;
}

/** The bytes a typed array or DataView shows, without copying them. */
const viewedBytes = (view: ArrayBufferView): Uint8Array =>
  new Uint8Array(view.buffer, view.byteOffset, view.byteLength);

function sameBytes(x: Uint8Array, y: Uint8Array): boolean {
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** Up to this many objects, finding one again by a scan costs less than a `Set`. */
const SCAN_LIMIT = 32;

/**
 * Numbers the objects a walk meets, in order. A few objects are scanned;
 * more go into a `Set` too (whose growth calls into C++, so it waits);
 * positions (a `Map`) are built only once an object is met again, which most
 * sessions never do.
 */
class Numbering {
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

/** Records a field's object on a tape. */
class Recorder {
  #tape: Tape = [];
  #numbering = new Numbering();

  record(value: object): Recording {
    this.#tape = [];
    this.#numbering = new Numbering();
    this.#object(value, 2);
    return new Recording(this.#tape, this.#numbering.objects);
  }

  // Primitives, most entries, are pushed where they are met: no call each.
  #value(value: unknown, depth: number): void {
    if (typeof value === "object" && value !== null) this.#object(value, depth);
    else this.#tape.push(primitivePrint(value));
  }

  /** `depth`: the level `value` is at, the field's value being level 2. */
  #object(value: object, depth: number): void {
    const tape = this.#tape;
    const position = this.#numbering.positionOf(value);
    if (position !== -1) {
      tape.push(REF, position);
      return;
    }
    if (depth > MAX_DEPTH) throw new DepthError(depth, undefined);
    const next = depth + 1;
    const tag = tagOf(value);
    const tagAt = tape.length;
    tape.push(tag);
    switch (tag) {
      case RECORD: {
        const record = value as Record<string, unknown>;
        const keys = Object.keys(record);
        if (fewPlainKeys(keys)) return this.#entries(record, next);
        tape[tagAt] = KEYED_RECORD;
        return this.#keyedEntries(record, next, keys);
      }
      case KEYED_RECORD:
        return this.#keyedEntries(value as Record<string, unknown>, next);
      case ARRAY: {
        const array = value as unknown[];
        tape.push(array.length);
        for (let i = 0; i < array.length; i++) {
          const item = array[i];
          if (typeof item === "object" && item !== null) this.#object(item, next);
          else tape.push(primitivePrint(item));
        }
        const named = namedArrayKeys(array);
        if (named) {
          const record = array as unknown as Record<string, unknown>;
          for (let i = 0; i < named.length; i++) {
            tape.push(named[i]);
            this.#value(record[named[i]], next);
          }
        }
        tape.push(END);
        return;
      }
      case DATE:
        tape.push((value as Date).getTime());
        return;
      case MAP:
        tape.push((value as Map<unknown, unknown>).size);
        for (const [k, v] of value as Map<unknown, unknown>) {
          this.#value(k, next);
          this.#value(v, next);
        }
        return;
      case SET:
        tape.push((value as Set<unknown>).size);
        for (const item of value as Set<unknown>) this.#value(item, next);
        return;
      case VIEW:
        tape.push(value.constructor, viewedBytes(value as ArrayBufferView).slice());
        return;
      case BUFFER:
        tape.push(new Uint8Array((value as ArrayBuffer).slice(0)));
        return;
      case REGEXP:
        tape.push(String(value));
        return;
      case BOXED:
        tape.push(Object.getPrototypeOf(value), value.valueOf());
        return;
      default: // ERROR: its fields as a record one level down
        tape.push(Object.getPrototypeOf(value));
        if (next > MAX_DEPTH) throw new DepthError(next, undefined);
        return this.#keyedEntries(errorFields(value as Error), next + 1);
    }
  }

  /** Records own enumerable keys with their values, then END. */
  #entries(record: Record<string, unknown>, depth: number): void {
    for (const key in record) {
      if (hasOwn.call(record, key)) this.#entry(key, record[key], depth);
    }
    this.#tape.push(END);
  }

  /** #entries by `Object.keys` (see MANY_KEYS). */
  #keyedEntries(
    record: Record<string, unknown>,
    depth: number,
    keys: readonly string[] = Object.keys(record),
  ): void {
    for (let i = 0; i < keys.length; i++) this.#entry(keys[i], record[keys[i]], depth);
    this.#tape.push(END);
  }

  #entry(key: string, value: unknown, depth: number): void {
    if (typeof value === "object" && value !== null) {
      this.#tape.push(key);
      this.#object(value, depth);
    } else this.#tape.push(key, primitivePrint(value));
  }
}

/**
 * Walks a field's value along its recording; stops at the first difference.
 *
 * The walk meets objects in the order the recording did, so the n-th object
 * it meets must be new where the tape recorded a new one, and an object met
 * before where the tape holds a back-reference. While every object met is
 * the very one recorded at its place (a handler changed contents, not
 * objects), that holds by itself: the recorded objects are all different.
 * Only from the first other object on does the walk number what it meets.
 */
class Reader {
  #tape: Tape = [];
  /** The next entry to read. */
  #at = 0;
  #recorded: readonly object[] = [];
  /** Objects met so far, while each was the one recorded at its place. */
  #met = 0;
  #numbering: Numbering | undefined;

  matches(value: object, recording: Recording): boolean {
    this.#tape = recording.tape;
    this.#at = 0;
    this.#recorded = recording.objects;
    this.#met = 0;
    this.#numbering = undefined;
    return this.#object(value) && this.#at === this.#tape.length;
  }

  #value(value: unknown): boolean {
    if (typeof value === "object" && value !== null) return this.#object(value);
    return samePrimitive(value, this.#tape[this.#at++]);
  }

  #object(value: object): boolean {
    const tape = this.#tape;
    const entry = tape[this.#at++];
    // Shared references and cycles.
    if (!this.#placed(value, entry)) return false;
    if (entry === REF) return true;
    const tag = tagOf(value);
    if (isRecordTag(entry) && isRecordTag(tag)) {
      // A record may have changed its prototype: still a record.
      return entry === RECORD && tag === RECORD
        ? this.#entries(value as Record<string, unknown>)
        : this.#keyedEntries(value as Record<string, unknown>);
    }
    if (entry !== tag) return false;
    switch (tag) {
      case ARRAY: {
        const array = value as unknown[];
        if (tape[this.#at++] !== array.length) return false;
        for (let i = 0; i < array.length; i++) {
          const item = array[i];
          if (typeof item === "object" && item !== null) {
            if (!this.#object(item)) return false;
          } else if (!samePrimitive(item, tape[this.#at++])) return false;
        }
        const named = namedArrayKeys(array);
        if (named) {
          const record = array as unknown as Record<string, unknown>;
          for (let i = 0; i < named.length; i++) {
            if (tape[this.#at++] !== named[i] || !this.#value(record[named[i]])) return false;
          }
        }
        return tape[this.#at++] === END;
      }
      case DATE:
        return samePrimitive((value as Date).getTime(), tape[this.#at++]);
      case MAP:
        if (tape[this.#at++] !== (value as Map<unknown, unknown>).size) return false;
        for (const [k, v] of value as Map<unknown, unknown>) {
          if (!this.#value(k) || !this.#value(v)) return false;
        }
        return true;
      case SET:
        if (tape[this.#at++] !== (value as Set<unknown>).size) return false;
        for (const item of value as Set<unknown>) if (!this.#value(item)) return false;
        return true;
      case VIEW:
        return tape[this.#at++] === value.constructor &&
          sameBytes(tape[this.#at++] as Uint8Array, viewedBytes(value as ArrayBufferView));
      case BUFFER:
        return sameBytes(tape[this.#at++] as Uint8Array, new Uint8Array(value as ArrayBuffer));
      case REGEXP:
        return tape[this.#at++] === String(value);
      case BOXED:
        return tape[this.#at++] === Object.getPrototypeOf(value) &&
          samePrimitive(value.valueOf(), tape[this.#at++]);
      default: // ERROR
        return tape[this.#at++] === Object.getPrototypeOf(value) &&
          this.#keyedEntries(errorFields(value as Error));
    }
  }

  /** Whether `value`, met where `entry` is, is new where it should be, or the object referenced. */
  #placed(value: object, entry: unknown): boolean {
    let numbering = this.#numbering;
    if (numbering === undefined) {
      const recorded = this.#recorded;
      if (entry === REF) return recorded[this.#tape[this.#at++] as number] === value;
      if (recorded[this.#met] === value) {
        this.#met++;
        return true;
      }
      numbering = this.#numbering = new Numbering(recorded.slice(0, this.#met));
    }
    const position = numbering.positionOf(value);
    if (position !== -1) return entry === REF && this.#tape[this.#at++] === position;
    return entry !== REF;
  }

  #entries(record: Record<string, unknown>): boolean {
    for (const key in record) {
      if (hasOwn.call(record, key) && !this.#entry(key, record[key])) return false;
    }
    return this.#tape[this.#at++] === END;
  }

  /** #entries by `Object.keys` (see MANY_KEYS). */
  #keyedEntries(record: Record<string, unknown>): boolean {
    const keys = Object.keys(record);
    for (let i = 0; i < keys.length; i++) {
      if (!this.#entry(keys[i], record[keys[i]])) return false;
    }
    return this.#tape[this.#at++] === END;
  }

  #entry(key: string, value: unknown): boolean {
    const tape = this.#tape;
    const at = this.#at;
    // END is not a string: a key the tape lacks stops here too.
    if (tape[at] !== key) return false;
    if (typeof value === "object" && value !== null) {
      this.#at = at + 1;
      return this.#object(value);
    }
    this.#at = at + 2;
    return samePrimitive(value, tape[at + 1]);
  }
}
