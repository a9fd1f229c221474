/**
 * Change detection that costs what the handlers touch, not what the session
 * holds. The session as read is kept apart and never handed out: handlers get
 * a new object whose fields are copies, and at the save each field is
 * compared with the one it came from (same_data.ts). A large object field (a
 * long history) is copied only when first read: until then it is an accessor
 * (own, enumerable, configurable, so spread, `JSON.stringify`,
 * `structuredClone` and `Object.keys` work as on a plain object), and a field
 * never read is unchanged without any comparison. Small object fields are
 * copied at once: an accessor costs more to define than a small copy and its
 * comparison (bench/field_tracking.ts). Primitive fields are compared by value.
 *
 * The storage is handed the session object itself; while it serializes or
 * copies it, fields never read give their values as read, without a copy.
 *
 * Accessors share one getter and setter per field name, which find the
 * session's tracking in a WeakMap: a getter made per session would give each
 * session object its own hidden class, and V8 would turn them into slow
 * dictionaries (and `for...in` loops over them with them).
 *
 * Objects that several fields share stay shared in the copies, and where a
 * field holds the session itself, its copy holds the object handlers have;
 * copying large fields one at a time would lose both, so a session with large
 * fields and either is compared as a whole instead (a snapshot, as before).
 *
 * @module
 */

import { type Snapshot, takeSnapshot } from "./change_detection/mod.ts";
import { cloneField, FieldCopier, setOwn } from "./clone.ts";
import { FieldComparer } from "./same_data.ts";
import { assertStorableDepth, storableShape } from "./storable_depth.ts";

/** Object fields with at most this many slots (keys, items, entries) are copied when handed out. */
export const EAGER_SLOTS = 48;

/** An accessor field neither read nor assigned: unchanged. */
const UNREAD: unique symbol = Symbol("unread");
/** What an accessor returns while the save checks that it is still in place. */
const PROBE: unique symbol = Symbol("probe");

/** The tracking behind each session object that has accessors. */
const tracking = new WeakMap<object, TrackedFields>();

/** The top-level fields of one session as read, and what the handlers did with them. */
export class TrackedFields {
  /** The object handlers hold. */
  readonly live: Record<string, unknown>;
  /** The session object as read: where a field refers to it, it stands for {@linkcode live}. */
  readonly #root: object;
  readonly #keys: string[];
  /** Per field: its value as read, never handed out. */
  readonly #read: unknown[];
  /** Per field: for an accessor, `UNREAD` or the value it holds; `undefined` for a data property. */
  #held: unknown[] | undefined;
  /** Indices of the accessor fields. */
  #accessors: number[] | undefined;
  /** What accessors give: `PROBE` while the save checks them, values as read while storing. */
  #mode: "handler" | "probe" | "store" = "handler";

  private constructor(
    live: Record<string, unknown>,
    root: object,
    keys: string[],
    values: unknown[],
  ) {
    this.live = live;
    this.#root = root;
    this.#keys = keys;
    this.#read = values;
  }

  /**
   * Tracks the session `read`. Handlers get `live`: the emptied session
   * object of a `$clear()`, or else a new object, or `read` itself when it is
   * the plugin's own copy (not `shared` with the storage) and holds no large
   * field. Only values handed out are changed, never the values read.
   * `undefined` when it cannot be tracked by field: an array, or a session
   * with large fields that contains itself or shares objects between fields
   * (a snapshot of the whole does then). Throws a `DepthError` for data nested deeper than a storage reads
   * back; the depth of large fields is checked here unless `depthKnown` (the
   * storage holds no deeper data).
   */
  static track(
    read: object,
    options: { live?: object; shared?: boolean; depthKnown?: boolean } = {},
  ): TrackedFields | undefined {
    if (Array.isArray(read)) return undefined;
    const record = read as Record<string, unknown>;
    const keys = Object.keys(record);
    const values = new Array<unknown>(keys.length);
    let large: boolean[] | undefined;
    for (let i = 0; i < keys.length; i++) {
      const value = values[i] = record[keys[i]];
      if (typeof value === "object" && value !== null && !fits(value, EAGER_SLOTS)) {
        (large ??= [])[i] = true;
      }
    }
    if (large && !options.depthKnown) {
      // Large fields are not walked now: their depth is checked once here.
      // Copied one by one, they would no longer share objects with other
      // fields or hold the session: such sessions are left to a snapshot.
      const shape = storableShape(read);
      if (shape.containsItself || shape.fieldsShare) return undefined;
    }
    // Accessors are added to a new object: redefining a data property as one
    // would turn the object into a dictionary.
    const live = options.live ?? (large || options.shared ? {} : read);
    const tracked = new TrackedFields(live as Record<string, unknown>, read, keys, values);
    let copier: FieldCopier | undefined;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      const value = values[i];
      if (large?.[i]) tracked.#defineAccessor(i);
      else if (typeof value === "object" && value !== null) {
        setOwn(tracked.live, key, (copier ??= new FieldCopier(read, live)).copy(value, key));
      } else if (live !== read) setOwn(tracked.live, key, value);
    }
    return tracked;
  }

  #defineAccessor(i: number): void {
    if (this.#held === undefined) {
      this.#held = new Array(this.#keys.length);
      this.#accessors = [];
      tracking.set(this.live, this);
    }
    this.#held[i] = UNREAD;
    this.#accessors!.push(i);
    Object.defineProperty(this.live, this.#keys[i], accessorFor(this.#keys[i]));
  }

  /** What accessor `key` gives. */
  get(key: string): unknown {
    const i = this.#accessorIndex(key);
    const held = this.#held!;
    let value = held[i];
    if (this.#mode !== "handler") {
      return this.#mode === "probe" ? PROBE : value === UNREAD ? this.#read[i] : value;
    }
    if (value === UNREAD) {
      value = held[i] = cloneField(this.#read[i], this.#keys[i], this.#root, this.live);
    }
    return value;
  }

  /** Assigns accessor `key`. */
  set(key: string, value: unknown): void {
    if (Object.isFrozen(this.live)) {
      throw new TypeError(`Cannot assign to read only property '${key}' of object`);
    }
    this.#held![this.#accessorIndex(key)] = value;
  }

  #accessorIndex(key: string): number {
    for (const i of this.#accessors!) if (this.#keys[i] === key) return i;
    throw new RangeError(`"${key}" is not a tracked field`);
  }

  /**
   * The value of field `i` (named `key`) in the live object: `UNREAD` for an
   * accessor not used yet. An accessor replaced by the handler (deleted and
   * set again) reads as what replaced it.
   */
  #current(i: number, key: string): unknown {
    const held = this.#held;
    if (held === undefined || held[i] === undefined) return this.live[key];
    const mode = this.#mode;
    this.#mode = "probe";
    let value: unknown;
    try {
      value = this.live[key];
    } finally {
      this.#mode = mode;
    }
    return value === PROBE ? held[i] : value;
  }

  /** Whether `data` (the live object, or one assigned in its place) differs from the session as read. */
  hasChanged(data: object): boolean {
    const record = data as Record<string, unknown>;
    const keys = Object.keys(record);
    const read = this.#keys;
    if (keys.length !== read.length) return true;
    const own = data === this.live;
    let comparer: FieldComparer | undefined;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      if (key !== read[i]) return true;
      const value = own ? this.#current(i, key) : record[key];
      if (value === UNREAD) continue;
      const before = this.#read[i];
      if (typeof value !== "object" || value === null) {
        if (!Object.is(value, before)) return true;
        continue;
      }
      comparer ??= new FieldComparer(data, this.#root);
      if (!comparer.equal(value, before)) return true;
    }
    return false;
  }

  /**
   * Throws a `DepthError` when `data` nests deeper than a storage reads
   * back. Fields not read are as read, and not walked again.
   */
  checkDepth(data: object): void {
    if (data !== this.live || this.#held === undefined) {
      assertStorableDepth(data);
      return;
    }
    const live = this.live;
    const read = this.#keys;
    const walked: Record<string, unknown> = {};
    const keys = Object.keys(live);
    for (let j = 0; j < keys.length; j++) {
      const key = keys[j];
      const i = read[j] === key ? j : read.indexOf(key);
      const value = i === -1 ? live[key] : this.#current(i, key);
      if (value !== UNREAD && typeof value === "object" && value !== null) {
        setOwn(walked, key, value);
      }
    }
    assertStorableDepth(walked, live);
  }

  /**
   * The session handed over to a storage that keeps objects as they are (in
   * memory): fields never read are the values read (no copy: both sides only
   * read them), the others copies, made together so that objects they share
   * stay shared (comparing each with the value read first, to keep that one
   * when equal, costs as much as the copy). `tangled`: the copies share
   * objects between fields or reach the session itself. Throws a
   * `DepthError` for data nested deeper than a storage reads back.
   */
  handOver(): { value: object; tangled: boolean } {
    const live = this.live;
    const read = this.#keys;
    const keys = Object.keys(live);
    const values = new Array<unknown>(keys.length);
    /** Per key: the value as read, handed over as it is. */
    const asRead = new Array<boolean>(keys.length);
    const walked: Record<string, unknown> = {};
    for (let j = 0; j < keys.length; j++) {
      const key = keys[j];
      const i = read[j] === key ? j : read.indexOf(key);
      const value = values[j] = i === -1 ? live[key] : this.#current(i, key);
      if (value === UNREAD) {
        values[j] = this.#read[i];
        asRead[j] = true;
      } else if (typeof value === "object" && value !== null) setOwn(walked, key, value);
    }
    const shape = storableShape(walked, live);
    const out: Record<string, unknown> = {};
    const copier = new FieldCopier(live, out);
    for (let j = 0; j < keys.length; j++) {
      setOwn(out, keys[j], asRead[j] ? values[j] : copier.copy(values[j], keys[j]));
    }
    return { value: out, tangled: shape.fieldsShare || shape.containsItself };
  }

  /**
   * Runs `write`, the storage call that serializes or copies `data`: while it
   * runs, fields not read give their values as read, so that nothing is
   * copied for it. (Where the storage reads them later, they give copies.)
   */
  whileStoring<T>(data: object, write: () => T): T {
    if (data !== this.live || this.#held === undefined) return write();
    this.#mode = "store";
    try {
      return write();
    } finally {
      this.#mode = "handler";
    }
  }

  /** A snapshot of the session as read, for the rare paths that compare whole sessions (conflicts). */
  snapshot(): Snapshot {
    const read: Record<string, unknown> = {};
    for (let i = 0; i < this.#keys.length; i++) setOwn(read, this.#keys[i], this.#read[i]);
    return takeSnapshot(read);
  }
}

/** Shared accessors per field name (at most `MAX_SHARED` names; others get their own). */
const accessors = new Map<string, PropertyDescriptor>();
const MAX_SHARED = 1024;

function accessorFor(key: string): PropertyDescriptor {
  let accessor = accessors.get(key);
  if (accessor === undefined) {
    accessor = {
      get(this: object) {
        return trackingOf(this).get(key);
      },
      set(this: object, value: unknown) {
        trackingOf(this).set(key, value);
      },
      enumerable: true,
      configurable: true,
    };
    if (accessors.size < MAX_SHARED) accessors.set(key, accessor);
  }
  return accessor;
}

/** The tracking of a session object, or of the session an object inherits from. */
function trackingOf(object: object): TrackedFields {
  for (let at: object | null = object; at !== null; at = Object.getPrototypeOf(at)) {
    const found = tracking.get(at);
    if (found !== undefined) return found;
  }
  throw new TypeError("A session field accessor was called on an object that is not a session.");
}

/**
 * Whether `value` holds at most `budget` slots (keys, items, entries) in all.
 * Without a visited set: a cycle or many shared references use the budget up.
 */
export function fits(value: object, budget: number): boolean {
  return slotsLeft(value, budget) >= 0;
}

function slotsLeft(value: object, budget: number): number {
  if (Array.isArray(value)) {
    budget -= value.length;
    for (let i = 0; i < value.length && budget >= 0; i++) budget = child(value[i], budget);
    return budget;
  }
  if (value instanceof Map) {
    budget -= value.size;
    for (const [k, v] of value) {
      if (budget < 0) break;
      budget = child(v, child(k, budget));
    }
    return budget;
  }
  if (value instanceof Set) {
    budget -= value.size;
    for (const item of value) {
      if (budget < 0) break;
      budget = child(item, budget);
    }
    return budget;
  }
  if (ArrayBuffer.isView(value)) return budget - 1 - (value.byteLength >> 6);
  const record = value as Record<string, unknown>;
  for (const key in record) {
    if (--budget < 0) return budget;
    budget = child(record[key], budget);
  }
  return budget;
}

function child(value: unknown, budget: number): number {
  return typeof value === "object" && value !== null && budget >= 0
    ? slotsLeft(value, budget)
    : budget;
}
