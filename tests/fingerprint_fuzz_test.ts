/**
 * Change detection against an independent oracle: V8's structured-clone
 * serialization (what Deno KV stores). For thousands of random session
 * graphs (objects, arrays, Map, Set, Date, typed arrays, RegExp, shared
 * references and cycles, `__proto__` keys, Errors, boxed primitives, arrays
 * with named properties) and a random mutation of each,
 * `hasChanged` must say "changed" exactly when the serialized bytes of some
 * top-level field differ. (Fields are compared one by one: making two
 * top-level fields share one object, or stop sharing it, with equal content
 * is not a change, as the README says.)
 */
import assert from "node:assert/strict";
import { serialize } from "node:v8";
import { isBoxed, setOwn } from "../src/clone.ts";
import { hasChanged, takeSnapshot } from "../src/change_detection.ts";

let seed = 12345;
const random = () => {
  seed = (seed * 1664525 + 1013904223) >>> 0;
  return seed / 2 ** 32;
};
const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)];
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

type Node = Record<string, unknown>;

function generate(depth: number, pool: object[]): unknown {
  const roll = random();
  if (depth <= 0 || roll < 0.35) return primitive();
  if (roll < 0.42 && pool.length) return pick(pool); // a shared reference or a cycle
  switch (
    pick(["object", "object", "array", "map", "set", "date", "bytes", "regexp", "error", "boxed"])
  ) {
    case "object": {
      const value: Node = {};
      pool.push(value);
      for (let i = Math.floor(random() * 4); i > 0; i--) {
        setOwn(value, pick(["a", "b", "c", "1", "x y", "__proto__"]), generate(depth - 1, pool));
      }
      return value;
    }
    case "array": {
      const value: unknown[] = [];
      pool.push(value);
      for (let i = Math.floor(random() * 4); i > 0; i--) value.push(generate(depth - 1, pool));
      if (random() < 0.2) Reflect.set(value, "note", primitive()); // KV keeps named properties
      return value;
    }
    case "error":
      return pick([
        () => new Error("a"),
        () => new TypeError("a"),
        () => new Error("b", { cause: generate(depth - 1, pool) }),
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
        value.set(pick<unknown>(["k", 1, "1"]), generate(depth - 1, pool));
      }
      return value;
    }
    case "set": {
      const value = new Set<unknown>();
      pool.push(value);
      for (let i = Math.floor(random() * 3); i > 0; i--) value.add(generate(depth - 1, pool));
      return value;
    }
    case "date":
      return new Date(pick([0, 1, 1e12]));
    case "bytes":
      return new Uint8Array([1, 2, pick([3, 4])]);
    default:
      return pick([/a/g, /b/]);
  }
}

function objectsIn(value: unknown, out: object[] = [], seen = new Set<unknown>()): object[] {
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

/** Changes one random object in the graph (sometimes in a way that changes nothing). */
function mutate(root: Node): void {
  const objects = objectsIn(root);
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

/** Each top-level field serialized on its own, keys and order included. */
function fieldBytes(root: Node): string {
  return Object.keys(root).map((key) => key + "=" + serialize(root[key]).toString("hex")).join("|");
}

Deno.test("hasChanged agrees with V8 serialization on 5,000 random sessions and mutations", () => {
  let changed = 0;
  for (let run = 0; run < 5000; run++) {
    const root: Node = {};
    const pool: object[] = [root];
    for (const key of ["f1", "f2", "f3"]) root[key] = generate(3, pool);
    if (random() < 0.3) root.f4 = pick<unknown>(["[]", "{}", "o{}", "s", 1]);
    const snapshot = takeSnapshot(root);
    const before = fieldBytes(root);
    assert.equal(
      hasChanged(snapshot, root),
      false,
      `run ${run}: unchanged session reported changed`,
    );
    mutate(root);
    const expected = fieldBytes(root) !== before;
    if (expected) changed++;
    assert.equal(hasChanged(snapshot, root), expected, `run ${run}: expected changed=${expected}`);
  }
  assert.ok(changed > 1000, `the mutations changed ${changed} sessions: enough to mean something`);
});
