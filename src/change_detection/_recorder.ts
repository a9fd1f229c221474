/**
 * Records a field's object on a tape (see _tape.ts for what each tag
 * records). Private to change detection.
 *
 * @module
 */

import { namedArrayKeys } from "../value_kinds.ts";
import { DepthError, MAX_DEPTH } from "../depth_limit.ts";
import {
  errorFields,
  fewPlainKeys,
  Numbering,
  primitivePrint,
  Recording,
  type Tape,
} from "./_tape.ts";
import { viewedBytes } from "../bytes.ts";
import * as tags from "./_tags.ts";

/** Local, not imported: TurboFan then knows it is the builtin (see MANY_KEYS in _tape.ts). */
const hasOwn = Object.prototype.hasOwnProperty;

/** Records a field's object on a tape. */
export class Recorder {
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
      tape.push(tags.REF, position);
      return;
    }
    if (depth > MAX_DEPTH) throw new DepthError(depth, undefined);
    const next = depth + 1;
    const tag = tags.tagOf(value);
    const tagAt = tape.length;
    tape.push(tag);
    switch (tag) {
      case tags.RECORD: {
        const record = value as Record<string, unknown>;
        const keys = Object.keys(record);
        if (fewPlainKeys(keys)) return this.#entries(record, next);
        tape[tagAt] = tags.KEYED_RECORD;
        return this.#keyedEntries(record, next, keys);
      }
      case tags.KEYED_RECORD:
        return this.#keyedEntries(value as Record<string, unknown>, next);
      case tags.ARRAY: {
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
        tape.push(tags.END);
        return;
      }
      case tags.DATE:
        tape.push((value as Date).getTime());
        return;
      case tags.MAP:
        tape.push((value as Map<unknown, unknown>).size);
        for (const [k, v] of value as Map<unknown, unknown>) {
          this.#value(k, next);
          this.#value(v, next);
        }
        return;
      case tags.SET:
        tape.push((value as Set<unknown>).size);
        for (const item of value as Set<unknown>) this.#value(item, next);
        return;
      case tags.VIEW:
        tape.push(value.constructor, viewedBytes(value as ArrayBufferView).slice());
        return;
      case tags.BUFFER:
        tape.push(new Uint8Array((value as ArrayBuffer).slice(0)));
        return;
      case tags.REGEXP:
        tape.push(String(value));
        return;
      case tags.BOXED:
        tape.push(Object.getPrototypeOf(value), value.valueOf());
        return;
      default: // tags.ERROR: its fields as a record one level down
        tape.push(Object.getPrototypeOf(value));
        if (next > MAX_DEPTH) throw new DepthError(next, undefined);
        return this.#keyedEntries(errorFields(value as Error), next + 1);
    }
  }

  /** Records own enumerable keys with their values, then tags.END. */
  #entries(record: Record<string, unknown>, depth: number): void {
    for (const key in record) {
      if (hasOwn.call(record, key)) this.#entry(key, record[key], depth);
    }
    this.#tape.push(tags.END);
  }

  /** #entries by `Object.keys` (see MANY_KEYS). */
  #keyedEntries(
    record: Record<string, unknown>,
    depth: number,
    keys: readonly string[] = Object.keys(record),
  ): void {
    for (let i = 0; i < keys.length; i++) this.#entry(keys[i], record[keys[i]], depth);
    this.#tape.push(tags.END);
  }

  #entry(key: string, value: unknown, depth: number): void {
    if (typeof value === "object" && value !== null) {
      this.#tape.push(key);
      this.#object(value, depth);
    } else this.#tape.push(key, primitivePrint(value));
  }
}
