/**
 * Change detection that costs what the handlers touch, not what the session
 * holds. Each top-level field is followed on its own; a large object field
 * (a long history) is an accessor until first read (own, enumerable,
 * configurable: spread, `JSON.stringify`, `structuredClone` and `Object.keys`
 * see a field) and, never read, is unchanged without any work. Two ways, by
 * who owns the session as read:
 *
 * - The plugin's own copy (Deno KV, Redis, other storages that hand out
 *   copies): fields are handed out as they are, each object field with a
 *   print (change_detection/) taken then. Small fields are printed at once;
 *   a session without large fields is left to a snapshot of the whole.
 * - The storage's own objects (in memory): never handed out nor changed;
 *   every object field, whatever its size, is an accessor until read, and
 *   handlers get copies, compared at the save with the values read
 *   (same_data.ts).
 *
 * The storage gets the session object itself (while it serializes or copies
 * it, fields never read give their values as read), or in memory a new
 * object sharing the fields nobody read or changed, with copies of the
 * others ({@linkcode TrackedFields.handOver}, _hand_over.ts). Fields handed
 * out one by one would no longer share objects, nor hold the session: a
 * session that does either is compared whole (a snapshot).
 *
 * @module
 */

import { hasChanged, type Snapshot, takeSnapshot } from "../change_detection/mod.ts";
import { cloneField } from "../clone.ts";
import { setOwn } from "../value_kinds.ts";
import { FieldComparer } from "../same_data.ts";
import { assertStorableDepth, storableShape } from "../storable_depth.ts";
import * as accessors from "./_accessors.ts";
import * as handing from "./_hand_over.ts";
import { fits } from "./_size.ts";

export { isFlat } from "./_size.ts";

/** Object fields with at most this many slots (keys, items, entries) are handed out at once (not in memory). */
export const EAGER_SLOTS = 48;

/** An accessor field neither read nor assigned: unchanged. */
const UNREAD: unique symbol = Symbol("unread");

/** How {@linkcode TrackedFields.track} takes a session. */
export interface TrackOptions {
  /** The session object to fill (emptied), for a `$clear()`; else a new one. */
  live?: object;
  /** The storage's own object: never handed out nor changed (handlers get copies). */
  shared?: boolean;
  /** The storage holds nothing nested deeper than a session may be (no depth check here). */
  depthKnown?: boolean;
  /** With `shared`: the storage's object reaches no object twice (copies need not remember). */
  tree?: boolean;
}

/** The top-level fields of one session as read, and what the handlers did with them. */
export class TrackedFields implements accessors.AccessorOwner {
  /** The object handlers hold. */
  readonly live: Record<string, unknown>;
  /** The session object as read: where a field refers to it, it stands for {@linkcode live}. */
  readonly #root: object;
  readonly #shared: boolean;
  readonly #tree: boolean; // the session as read reaches no object twice
  readonly #keys: string[];
  /** Per field: its value as read (unchanged unless handed out as it is, with a print). */
  readonly #read: unknown[];
  /** Per field handed out as it is: its print then. */
  readonly #prints: (Snapshot | undefined)[];
  /** Per field: for an accessor, `UNREAD` or the value it holds; `undefined` for a data property. */
  readonly #held: unknown[];
  /** What accessors give: values as read while storing, else what handlers get. */
  #mode: "handler" | "store" = "handler";
  /**
   * In memory, from the last {@linkcode hasChanged} of the live object: per
   * field, the value compared and whether it equals the value as read (so
   * that the save keeps the stored one instead of a copy).
   */
  #compared: handing.Compared | undefined;

  private constructor(
    live: object,
    root: object,
    shared: boolean,
    tree: boolean,
    keys: string[],
    read: unknown[],
  ) {
    this.live = live as Record<string, unknown>;
    this.#root = root;
    this.#shared = shared;
    this.#tree = tree;
    this.#keys = keys;
    this.#read = read;
    this.#prints = new Array(keys.length);
    this.#held = new Array(keys.length);
  }

  /**
   * Tracks the session `read`; handlers get {@linkcode live}. `undefined`
   * when a snapshot of the whole does better or must: an array, the
   * plugin's own copy without large fields, a session whose accessor fields
   * share objects or that contains itself. Throws a `DepthError` for data
   * nested deeper than a storage reads back (accessor fields are walked for
   * it here unless `depthKnown`).
   */
  static track(read: object, options: TrackOptions = {}): TrackedFields | undefined {
    if (Array.isArray(read)) return undefined;
    const shared = options.shared ?? false;
    const record = read as Record<string, unknown>;
    const keys = Object.keys(record);
    const values = new Array<unknown>(keys.length);
    let large: boolean[] | undefined;
    for (let i = 0; i < keys.length; i++) {
      const value = values[i] = record[keys[i]];
      // The storage's own objects are copied only when read: each object
      // field is an accessor until then, whatever its size.
      if (typeof value === "object" && value !== null && (shared || !fits(value, EAGER_SLOTS))) {
        (large ??= [])[i] = true;
      }
    }
    if (!large && !shared) return undefined;
    if (large && !options.depthKnown) {
      const shape = storableShape(read);
      if (shape.containsItself || shape.fieldsShare) return undefined;
    }
    // Accessors are added to a new object: redefining a data property as one
    // would turn the object into a dictionary.
    const tree = shared && options.tree === true;
    const tracked = new TrackedFields(options.live ?? {}, read, shared, tree, keys, values);
    const live = tracked.live;
    if (large) accessors.attachOwner(live, tracked);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      const value = values[i];
      if (large?.[i]) {
        tracked.#held[i] = UNREAD;
        accessors.defineAccessor(live, key);
      } else if (typeof value !== "object" || value === null) setOwn(live, key, value);
      else setOwn(live, key, tracked.#handOut(i, value));
    }
    return tracked;
  }

  /** Field `i` handed out as it is (the plugin's own copy): printed now. */
  #handOut(i: number, value: unknown): unknown {
    this.#prints[i] = takeSnapshot(fieldOf(this.#keys[i], value));
    return value;
  }

  /** What accessor `key` gives. */
  get(key: string): unknown {
    const i = this.#keys.indexOf(key);
    let value = this.#held[i];
    if (this.#mode === "store") return value === UNREAD ? this.#read[i] : value;
    if (value === UNREAD) {
      const read = this.#read[i];
      value = this.#held[i] = this.#shared
        ? cloneField(read, key, this.#root, this.live, this.#tree)
        : this.#handOut(i, read);
    }
    return value;
  }

  /** Assigns accessor `key`. */
  set(key: string, value: unknown): void {
    if (Object.isFrozen(this.live)) {
      throw new TypeError(`Cannot assign to read only property '${key}' of object`);
    }
    this.#held[this.#keys.indexOf(key)] = value;
  }

  /**
   * The value of field `i` (named `key`) in the live object: `UNREAD` for an
   * accessor not used yet. An accessor replaced by the handler (deleted and
   * set again) reads as what replaced it.
   */
  #current(i: number, key: string): unknown {
    if (this.#held[i] !== undefined && accessors.isTrackedAccessor(this.live, key)) {
      return this.#held[i];
    }
    return this.live[key];
  }

  /** Whether `data` (the live object, or one assigned in its place) differs from the session as read. */
  hasChanged(data: object): boolean {
    this.#compared = undefined;
    const record = data as Record<string, unknown>;
    const keys = Object.keys(record);
    const read = this.#keys;
    if (keys.length !== read.length) return true;
    const own = data === this.live;
    // In memory every field read is compared, not only up to the first
    // change: the save then copies only the fields that changed.
    const compared: handing.Compared | undefined = own && this.#shared
      ? { values: new Array<unknown>(keys.length), same: new Array<boolean>(keys.length), met: [] }
      : undefined;
    let changed = false;
    let comparer: FieldComparer | undefined;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      if (key !== read[i]) return true;
      const value = own ? this.#current(i, key) : record[key];
      if (value === UNREAD) continue;
      const before = this.#read[i];
      let same: boolean;
      if (typeof value !== "object" || value === null) same = Object.is(value, before);
      else {
        const print = this.#prints[i];
        same = print
          ? !hasChanged(print, fieldOf(key, value))
          : (comparer ??= new FieldComparer(data, this.#root, this.#tree)).equal(value, before);
        if (same && compared && comparer?.met) compared.met.push(comparer.met);
      }
      if (!same && !compared) return true;
      changed ||= !same;
      if (compared) {
        compared.values[i] = value;
        compared.same[i] = same;
      }
    }
    this.#compared = compared;
    return changed;
  }

  /** The fields of the live object: per key, its value, or the value as read for one never read. */
  #fields(): handing.LiveFields {
    const read = this.#keys;
    const keys = Object.keys(this.live);
    const values = new Array<unknown>(keys.length);
    const asRead = new Array<boolean>(keys.length);
    for (let j = 0; j < keys.length; j++) {
      const i = read[j] === keys[j] ? j : read.indexOf(keys[j]);
      const value = i === -1 ? this.live[keys[j]] : this.#current(i, keys[j]);
      asRead[j] = value === UNREAD;
      values[j] = value === UNREAD ? this.#read[i] : value;
    }
    return { keys, values, asRead };
  }

  /**
   * Throws a `DepthError` when `data` nests deeper than a storage reads
   * back. Fields never read are as read, and not walked again.
   */
  checkDepth(data: object): void {
    if (data !== this.live) assertStorableDepth(data);
    else assertStorableDepth(handing.handedOut(this.#fields()), this.live);
  }

  /**
   * Runs `write`, the storage call that serializes or copies `data`: while it
   * runs, fields never read give their values as read, so that nothing is
   * copied for it. (Where the storage reads them later, they give copies.)
   */
  whileStoring<T>(data: object, write: () => T): T {
    if (data !== this.live) return write();
    this.#mode = "store";
    try {
      return write();
    } finally {
      this.#mode = "handler";
    }
  }

  /**
   * The session handed over to a storage that keeps objects as they are (in
   * memory): fields never read are the values read (no copy: both sides only
   * read them), and so are fields the last {@linkcode hasChanged} found
   * unchanged; the others are copies (see _hand_over.ts). `shape`: how the
   * objects of the value are linked. Throws a `DepthError` for data nested
   * deeper than a storage reads back.
   */
  handOver(): handing.HandedOver {
    const fields = this.#fields();
    const read = { keys: this.#keys, values: this.#read };
    const compared = this.#compared;
    this.#compared = undefined; // not needed again; the session may outlive the update
    return (compared && handing.handOverChanged(this.live, fields, read, compared, this.#tree)) ??
      handing.handOverAll(this.live, fields, this.#tree);
  }

  /** A snapshot of the session as read, for the rare paths that compare whole sessions (conflicts). */
  snapshot(): Snapshot {
    const prints = this.#keys.map((key, i) =>
      (this.#prints[i] ?? takeSnapshot(fieldOf(key, this.#read[i]))).prints[0]
    );
    return { keys: this.#keys, prints };
  }
}

/** An object with the one field `key`, to print or compare a field on its own. */
function fieldOf(key: string, value: unknown): Record<string, unknown> {
  const field: Record<string, unknown> = {};
  setOwn(field, key, value);
  return field;
}
