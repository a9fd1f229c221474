/**
 * Compares a live value with a field's recording, walking both in the same
 * order and stopping at the first difference. Private to change detection.
 *
 * @module
 */

import { namedArrayKeys } from "../value_kinds.ts";
import { errorFields, Numbering, type Recording, samePrimitive, type Tape } from "./_tape.ts";
import { sameBytes, viewedBytes } from "../bytes.ts";
import * as tags from "./_tags.ts";

/** Local, not imported: TurboFan then knows it is the builtin (see MANY_KEYS in _tape.ts). */
const hasOwn = Object.prototype.hasOwnProperty;

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
export class Reader {
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
    if (entry === tags.REF) return true;
    const tag = tags.tagOf(value);
    if (tags.isRecordTag(entry) && tags.isRecordTag(tag)) {
      // A record may have changed its prototype: still a record.
      return entry === tags.RECORD && tag === tags.RECORD
        ? this.#entries(value as Record<string, unknown>)
        : this.#keyedEntries(value as Record<string, unknown>);
    }
    if (entry !== tag) return false;
    switch (tag) {
      case tags.ARRAY: {
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
        return tape[this.#at++] === tags.END;
      }
      case tags.DATE:
        return samePrimitive((value as Date).getTime(), tape[this.#at++]);
      case tags.MAP:
        if (tape[this.#at++] !== (value as Map<unknown, unknown>).size) return false;
        for (const [k, v] of value as Map<unknown, unknown>) {
          if (!this.#value(k) || !this.#value(v)) return false;
        }
        return true;
      case tags.SET:
        if (tape[this.#at++] !== (value as Set<unknown>).size) return false;
        for (const item of value as Set<unknown>) if (!this.#value(item)) return false;
        return true;
      case tags.VIEW:
        return tape[this.#at++] === value.constructor &&
          sameBytes(tape[this.#at++] as Uint8Array, viewedBytes(value as ArrayBufferView));
      case tags.BUFFER:
        return sameBytes(tape[this.#at++] as Uint8Array, new Uint8Array(value as ArrayBuffer));
      case tags.REGEXP:
        return tape[this.#at++] === String(value);
      case tags.BOXED:
        return tape[this.#at++] === Object.getPrototypeOf(value) &&
          samePrimitive(value.valueOf(), tape[this.#at++]);
      default: // tags.ERROR
        return tape[this.#at++] === Object.getPrototypeOf(value) &&
          this.#keyedEntries(errorFields(value as Error));
    }
  }

  /** Whether `value`, met where `entry` is, is new where it should be, or the object referenced. */
  #placed(value: object, entry: unknown): boolean {
    let numbering = this.#numbering;
    if (numbering === undefined) {
      const recorded = this.#recorded;
      if (entry === tags.REF) return recorded[this.#tape[this.#at++] as number] === value;
      if (recorded[this.#met] === value) {
        this.#met++;
        return true;
      }
      numbering = this.#numbering = new Numbering(recorded.slice(0, this.#met));
    }
    const position = numbering.positionOf(value);
    if (position !== -1) return entry === tags.REF && this.#tape[this.#at++] === position;
    return entry !== tags.REF;
  }

  #entries(record: Record<string, unknown>): boolean {
    for (const key in record) {
      if (hasOwn.call(record, key) && !this.#entry(key, record[key])) return false;
    }
    return this.#tape[this.#at++] === tags.END;
  }

  /** #entries by `Object.keys` (see MANY_KEYS). */
  #keyedEntries(record: Record<string, unknown>): boolean {
    const keys = Object.keys(record);
    for (let i = 0; i < keys.length; i++) {
      if (!this.#entry(keys[i], record[keys[i]])) return false;
    }
    return this.#tape[this.#at++] === tags.END;
  }

  #entry(key: string, value: unknown): boolean {
    const tape = this.#tape;
    const at = this.#at;
    // tags.END is not a string: a key the tape lacks stops here too.
    if (tape[at] !== key) return false;
    if (typeof value === "object" && value !== null) {
      this.#at = at + 1;
      return this.#object(value);
    }
    this.#at = at + 2;
    return samePrimitive(value, tape[at + 1]);
  }
}
