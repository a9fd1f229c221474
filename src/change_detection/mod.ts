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

import { DepthError } from "../depth_limit.ts";
import { Recorder } from "./_recorder.ts";
import { Reader } from "./_reader.ts";
import { primitivePrint, Recording, samePrimitive, samePrint } from "./_tape.ts";

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
