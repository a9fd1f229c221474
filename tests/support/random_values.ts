/**
 * Random session graphs for the fuzz tests of change detection and field
 * tracking: objects (`__proto__` keys too), arrays (with named properties),
 * Map, Set, Date, typed arrays, RegExp, Errors, boxed primitives, shared
 * references and cycles. Seeded: every run builds the same values.
 */
import { isBoxed, setOwn } from "../../src/value_kinds.ts";

type Node = Record<string, unknown>;

/** A seeded source of random values. */
export interface RandomValues {
  random(): number;
  pick<T>(items: readonly T[]): T;
  primitive(): unknown;
  /**
   * A value at most `depth` levels deep. Objects made go to `pool`, and one
   * from it sometimes comes back (a shared reference, or a cycle). With
   * `long`, half the arrays have that many items.
   */
  generate(depth: number, pool: object[], long?: number): unknown;
}

/** Random values from `seed`. */
export function randomValues(seed: number): RandomValues {
  const random = () => {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const primitive = () =>
    pick<unknown>([
      0,
      -0,
      1,
      1.5,
      NaN,
      Infinity,
      "",
      "a",
      "1",
      '"',
      "a,b",
      1n,
      true,
      false,
      undefined,
      null,
    ]);
  const generate = (depth: number, pool: object[], long?: number): unknown => {
    const roll = random();
    if (depth <= 0 || roll < 0.35) return primitive();
    if (roll < 0.42 && pool.length) return pick(pool);
    const next = (): unknown => generate(depth - 1, pool, long);
    switch (
      pick(["object", "object", "array", "map", "set", "date", "bytes", "regexp", "error", "boxed"])
    ) {
      case "object": {
        const value: Node = {};
        pool.push(value);
        for (let i = Math.floor(random() * 4); i > 0; i--) {
          setOwn(value, pick(["a", "b", "c", "1", "x y", "__proto__"]), next());
        }
        return value;
      }
      case "array": {
        const value: unknown[] = [];
        pool.push(value);
        const length = long && random() < 0.5 ? long : Math.floor(random() * 4);
        for (let i = length; i > 0; i--) value.push(next());
        if (random() < 0.2) Reflect.set(value, "note", primitive()); // KV keeps named properties
        return value;
      }
      case "error":
        return pick([
          () => new Error("a"),
          () => new TypeError("a"),
          () => new Error("b", { cause: next() }),
        ])();
      case "boxed":
        return pick<() => object>([
          () => new Number(1),
          () => new String("a"),
          () => new Boolean(false),
          () => Object(1n),
        ])();
      case "map": {
        const value = new Map<unknown, unknown>();
        pool.push(value);
        for (let i = Math.floor(random() * 3); i > 0; i--) {
          value.set(pick<unknown>(["k", 1, "1"]), next());
        }
        return value;
      }
      case "set": {
        const value = new Set<unknown>();
        pool.push(value);
        for (let i = Math.floor(random() * 3); i > 0; i--) value.add(next());
        return value;
      }
      case "date":
        return new Date(pick([0, 1, 1e12]));
      case "bytes":
        return new Uint8Array([1, 2, pick([3, 4])]);
      default:
        return pick([/a/g, /b/]);
    }
  };
  return { random, pick, primitive, generate };
}

/** Every object `value` reaches (Map keys and values, Set items, fields), each once. */
export function objectsIn(value: unknown, out: object[] = [], seen = new Set<unknown>()): object[] {
  if (typeof value !== "object" || value === null || seen.has(value)) return out;
  seen.add(value);
  out.push(value);
  if (value instanceof Map) {
    for (const [k, v] of value) objectsIn(k, out, seen), objectsIn(v, out, seen);
  } else if (value instanceof Set) {
    for (const v of value) objectsIn(v, out, seen);
  } else if (!(value instanceof Date) && !ArrayBuffer.isView(value) && !(value instanceof RegExp)) {
    for (const key of Object.keys(value)) objectsIn((value as Node)[key], out, seen);
  }
  return out;
}

/**
 * Changes one random object `root` reaches (sometimes in a way that changes
 * nothing: the same value again).
 */
export function mutateOne({ random, pick, primitive }: RandomValues, root: unknown): void {
  const objects = objectsIn(root);
  if (!objects.length) return;
  const target = pick(objects);
  const roll = random();
  if (target instanceof Map) {
    if (roll < 0.5) target.set("k", pick<unknown>([1, "1", 2]));
    else target.clear();
  } else if (target instanceof Set) target.add(pick<unknown>([1, "1", 2]));
  else if (target instanceof Date) target.setTime(pick([0, 1, 2, 1e12]));
  else if (target instanceof Uint8Array) target[2] = pick([3, 4]);
  else if (target instanceof RegExp) return;
  else if (target instanceof Error) target.message = pick(["a", "b"]);
  else if (isBoxed(target)) return;
  else if (Array.isArray(target)) {
    if (roll < 0.15) Reflect.set(target, "note", primitive());
    else if (roll < 0.3) target.push(primitive());
    else if (target.length && roll < 0.6) target[0] = primitive();
    else if (target.length) Reflect.set(target, 0, target[0]); // the same value again: no change
  } else {
    const node = target as Node;
    const keys = Object.keys(node);
    if (roll < 0.25) setOwn(node, pick(["a", "b", "z"]), primitive());
    else if (roll < 0.4 && keys.length) delete node[pick(keys)];
    else if (roll < 0.55 && keys.length) {
      const key = pick(keys);
      const value = node[key];
      // Replacing a shared plain object by a copy changes the sharing.
      setOwn(
        node,
        key,
        Object.getPrototypeOf(value ?? 0) === Object.prototype ? { ...(value as Node) } : value,
      );
    } else if (roll < 0.7 && keys.length > 1) {
      const [key] = keys; // move the first key to the end: order is stored
      const value = node[key];
      delete node[key];
      setOwn(node, key, value);
    } else if (roll < 0.8) setOwn(node, pick(["a", "b"]), pick(objects));
    else if (roll < 0.9) {
      // Boxed primitives and Errors are replaced, not changed in place.
      setOwn(
        node,
        pick(["a", "b"]),
        pick<() => object>([
          () => new Number(pick([1, 2])),
          () => new String("a"),
          () => new Error(pick(["a", "b"])),
        ])(),
      );
    }
  }
}
