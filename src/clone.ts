/**
 * A deep copy with Deno KV's structured-clone results (Date, Map, Set, BigInt,
 * typed arrays, RegExp, cycles; class instances become plain objects;
 * functions and symbols are refused), made for session-sized data:
 * `structuredClone` costs ~18 us even for `{ apple: 1 }`, this ~0.1 us. It
 * keeps in-memory storage isolated from the objects handlers hold.
 *
 * @module
 */

import { DepthError, MAX_DEPTH } from "./depth_limit.ts";
import { pathTo } from "./value_path.ts";
import { isBoxed, namedArrayKeys, setOwn } from "./value_kinds.ts";

/** Copies `value` deeply; throws a TypeError naming the path of a value no storage can hold. */
export function cloneValue<T>(value: T, tree = false): T {
  const flat = flatCopy(value);
  if (flat !== undefined) return flat as T;
  return new Cloner(undefined, undefined, tree ? "tree" : "remember").copy(value, "") as T;
}

/**
 * Like {@linkcode cloneValue}, and whether the copy is a tree: no object in
 * it is reached twice (shared, or a cycle).
 */
export function cloneTelling<T>(value: T): { copy: T; tree: boolean } {
  const flat = flatCopy(value);
  if (flat !== undefined) return { copy: flat as T, tree: true };
  const cloner = new Cloner();
  const copy = cloner.copy(value, "") as T;
  return { copy, tree: !cloner.metTwice };
}

/** What a {@linkcode FieldCopier} made with `treeOnly` throws when it meets an object twice. */
export class NotATree extends Error {
  constructor() {
    super("an object was met twice");
    this.name = "NotATree";
  }
}

/**
 * Copies fields of the session object `root` deeply, like
 * {@linkcode cloneValue}, one at a time: an object that several of them
 * share is shared by their copies too, and where `root` itself is met, the
 * copies hold `rootCopy`.
 */
export class FieldCopier {
  readonly #cloner: Cloner;

  /**
   * `treeOnly`: the copies are wanted only if no object is met twice (nor
   * `root`): {@linkcode copy} then throws {@linkcode NotATree} when one is,
   * and remembers only which objects it met (a set, not a map to copies).
   */
  constructor(root: object, rootCopy: object, treeOnly = false) {
    this.#cloner = new Cloner(root, rootCopy, treeOnly ? "tree only" : "remember");
  }

  /** A copy of `value`, the field named `field`. */
  copy<T>(value: T, field: string): T {
    return this.#cloner.copy(value, field) as T;
  }

  /** Whether an object was met twice, or the session object itself, in the fields copied so far. */
  get metTwice(): boolean {
    return this.#cloner.metTwice;
  }

  /** The objects copied so far (originals). */
  originals(): Iterable<object> {
    return this.#cloner.originals();
  }
}

/**
 * Copies the top-level field `field` of the session object `root` deeply,
 * like {@linkcode cloneValue}; where `root` itself is met inside it (a
 * session that contains itself), the copy holds `rootCopy` instead of a
 * second copy of the session.
 */
export function cloneField<T>(
  value: T,
  field: string,
  root: object,
  rootCopy: object,
  tree = false,
): T {
  const flat = flatCopy(value);
  if (flat !== undefined) return flat as T;
  return new Cloner(root, rootCopy, tree ? "tree" : "remember").copy(value, field) as T;
}

/** What the copier met that no storage can hold; its path (value_path.ts) is looked up only then. */
class Unstorable {
  constructor(readonly value: unknown) {}
}

class Cloner {
  #copies: Map<object, unknown> | undefined;
  readonly #root: object | undefined;
  readonly #rootCopy: object | undefined;
  /** The top-level field being copied, for a DepthError. */
  #field: string | undefined;
  /** Whether an object was met twice, or `root`. */
  metTwice = false;

  /** Whether the value is known to reach no object twice: nothing to remember then. */
  readonly #tree: boolean;
  /** In "tree only" mode, the objects met (one met twice stops the copy). */
  readonly #met: Set<object> | undefined;

  /**
   * `root`: an object that `rootCopy` stands for wherever it is met.
   * `links`: "remember", each copy is remembered, so that objects met
   * twice are copied once; "tree", the value is known to reach no object
   * twice (no shared objects, no cycles), so nothing is remembered (a third
   * of the cost of a copy); "tree only", an object met twice (or `root`)
   * throws {@linkcode NotATree}, and only the objects met are remembered.
   */
  constructor(
    root?: object,
    rootCopy?: object,
    links: "remember" | "tree" | "tree only" = "remember",
  ) {
    this.#root = root;
    this.#rootCopy = rootCopy;
    this.#tree = links !== "remember";
    this.#met = links === "tree only" ? new Set() : undefined;
  }

  /**
   * A copy of `value`: the session (`field` empty) or its field `field`.
   * Paths are built only for the error: building one per value cost more
   * than the copy.
   */
  copy(value: unknown, field: string): unknown {
    this.#field = field || undefined;
    try {
      return this.#clone(value, field ? 2 : 1);
    } catch (error) {
      if (!(error instanceof Unstorable)) throw error;
      const path = pathTo(value, error.value, field) ?? field;
      throw new TypeError(
        `Session value at "${path || "(root)"}" is a ${typeof error.value}: ` +
          "sessions hold data only (objects, arrays, Map, Set, Date, primitives).",
      );
    }
  }

  originals(): Iterable<object> {
    return this.#met ?? this.#copies?.keys() ?? [];
  }

  #clone(value: unknown, depth: number): unknown {
    if (typeof value !== "object" || value === null) {
      if (typeof value === "function" || typeof value === "symbol") throw new Unstorable(value);
      return value;
    }
    if (value === this.#root) {
      if (this.#met) throw new NotATree();
      this.metTwice = true;
      return this.#rootCopy;
    }
    let copies: Map<object, unknown> | undefined;
    if (this.#met) {
      // One hash operation: an object met before leaves the set's size as it was.
      const size = this.#met.size;
      if (this.#met.add(value).size === size) throw new NotATree();
    } else if (!this.#tree) {
      copies = this.#copies ??= new Map();
      const known = copies.get(value);
      if (known !== undefined) {
        this.metTwice = true;
        return known;
      }
    }
    if (depth > MAX_DEPTH) throw new DepthError(depth, this.#field);
    const next = depth + 1;

    const proto = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === null) return this.#record(value, depth, copies);
    if (Array.isArray(value)) {
      // Named properties on an array (KV keeps them).
      const named = namedArrayKeys(value);
      // Not preallocated: V8 serializes a holey array (and so Deno KV stores
      // it) in its sparse form, a quarter larger. A plain array is sliced
      // (packed when the original is, with no spare capacity: pushing to an
      // empty array reserves 17 slots) and its items replaced; `slice` would
      // follow a subclass or an own `constructor`, so those are pushed.
      const plain = named === undefined && proto === Array.prototype;
      const copy: unknown[] = plain ? value.slice() : [];
      copies?.set(value, copy);
      if (plain) { for (let i = 0; i < copy.length; i++) copy[i] = this.#clone(value[i], next); }
      else for (let i = 0; i < value.length; i++) copy.push(this.#clone(value[i], next));
      if (named) {
        const from = value as unknown as Record<string, unknown>;
        const to = copy as unknown as Record<string, unknown>;
        for (const key of named) setOwn(to, key, this.#clone(from[key], next));
      }
      return copy;
    }
    if (value instanceof Date) {
      return remember(copies, value, new Date(value.getTime()));
    }
    if (value instanceof Map) {
      const copy = remember(copies, value, new Map());
      for (const [k, v] of value) copy.set(this.#clone(k, next), this.#clone(v, next));
      return copy;
    }
    if (value instanceof Set) {
      const copy = remember(copies, value, new Set());
      for (const item of value) copy.add(this.#clone(item, next));
      return copy;
    }
    if (value instanceof Error) {
      // Name, message, stack and cause, as in KV; the cause copied here, so
      // that an object it shares with the rest of the session stays shared.
      const copy = remember(copies, value, structuredClone(value));
      if (Object.hasOwn(value, "cause")) {
        const cause = this.#clone(value.cause, next);
        Object.defineProperty(copy, "cause", { value: cause, writable: true, configurable: true });
      }
      return copy;
    }
    if (
      ArrayBuffer.isView(value) || value instanceof ArrayBuffer ||
      value instanceof RegExp || isBoxed(value)
    ) {
      // Boxed primitives keep their value, as in KV.
      return remember(copies, value, structuredClone(value));
    }
    // A class instance: its own fields, as a structured clone keeps them.
    return this.#record(value, depth, copies);
  }

  #record(value: object, depth: number, copies: Map<object, unknown> | undefined): object {
    const copy: Record<string, unknown> = {};
    copies?.set(value, copy);
    const record = value as Record<string, unknown>;
    const next = depth + 1;
    for (const key in record) {
      if (!hasOwn.call(record, key)) continue;
      if (depth === 1) this.#field = key;
      setOwn(copy, key, this.#clone(record[key], next));
    }
    return copy;
  }
}

/**
 * In `for...in`, `hasOwnProperty.call` compiles to a hidden-class check;
 * `Object.hasOwn` is a call per key (see change_detection/_tape.ts).
 */
const hasOwn = Object.prototype.hasOwnProperty;

function remember<T>(
  copies: Map<object, unknown> | undefined,
  original: object,
  copy: T,
): T {
  copies?.set(original, copy);
  return copy;
}

/**
 * A copy of a plain object whose fields are all primitives (most sessions),
 * without the Cloner's bookkeeping; `undefined` for anything else.
 */
function flatCopy(value: unknown): object | undefined {
  if (
    typeof value !== "object" || value === null ||
    Object.getPrototypeOf(value) !== Object.prototype
  ) return undefined;
  const copy: Record<string, unknown> = {};
  const record = value as Record<string, unknown>;
  for (const key in record) {
    if (!Object.hasOwn(record, key)) continue;
    const field = record[key];
    if (
      (typeof field === "object" && field !== null) ||
      typeof field === "function" || typeof field === "symbol"
    ) return undefined;
    setOwn(copy, key, field);
  }
  return copy;
}
