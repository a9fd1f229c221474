/**
 * Field tracking against an independent oracle: what a structured clone (Deno
 * KV) keeps, written out field by field (V8's own bytes are no oracle here: it
 * writes an array in a dense or a sparse form depending on how it was
 * allocated, and a deserialized array is always the sparse kind). For thousands of
 * random sessions (objects, arrays with named properties, Map, Set, Date,
 * typed arrays, RegExp, Errors, boxed primitives, shared references and
 * cycles, `__proto__` keys, fields large enough to be read lazily) and a
 * random handler (reads, changes deep inside what it read, assignments,
 * deletions, additions, moves, or nothing but reads): `hasChanged` must say
 * "changed" exactly when some top-level field differs; what the storage is
 * handed (serialized, or handed over in memory) must be the session the
 * handler left; and the storage's own objects must never change.
 */
import assert from "node:assert/strict";
import { isBoxed, setOwn } from "../src/clone.ts";
import { EAGER_SLOTS, TrackedFields } from "../src/field_tracking/mod.ts";

let seed = 20241;
const random = () => {
  seed = (seed * 1664525 + 1013904223) >>> 0;
  return seed / 2 ** 32;
};
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
const primitive = () =>
  pick<unknown>([0, -0, 1, NaN, "", "a", "1", 1n, true, false, undefined, null]);

type Node = Record<string, unknown>;

function generate(depth: number, pool: object[]): unknown {
  const roll = random();
  if (depth <= 0 || roll < 0.3) return primitive();
  if (roll < 0.38 && pool.length) return pick(pool); // shared within or across fields, or a cycle
  switch (pick(["object", "object", "array", "long", "map", "set", "date", "bytes", "other"])) {
    case "object": {
      const value: Node = {};
      pool.push(value);
      for (let i = Math.floor(random() * 4); i > 0; i--) {
        setOwn(value, pick(["a", "b", "c", "1", "__proto__"]), generate(depth - 1, pool));
      }
      return value;
    }
    case "array":
    case "long": {
      const value: unknown[] = [];
      pool.push(value);
      const length = random() < 0.5 ? Math.floor(random() * 4) : EAGER_SLOTS + 2;
      for (let i = 0; i < length; i++) value.push(generate(depth - 1, pool));
      if (random() < 0.2) Reflect.set(value, "note", primitive());
      return value;
    }
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
      return pick<() => object>([
        () => /a/g,
        () => new Error("a"),
        () => new Number(1),
        () => new String("a"),
      ])();
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

/** Changes one object reachable from `field` (sometimes in a way that changes nothing). */
function mutateInside(field: unknown): void {
  const objects = objectsIn(field);
  if (!objects.length) return;
  const target = pick(objects);
  const roll = random();
  if (target instanceof Map) {
    if (roll < 0.5) target.set("k", pick<unknown>([1, "1", 2]));
    else target.clear();
  } else if (target instanceof Set) target.add(pick<unknown>([1, "1", 2]));
  else if (target instanceof Date) target.setTime(pick([0, 1, 2, 1e12]));
  else if (target instanceof Uint8Array) target[2] = pick([3, 4]);
  else if (target instanceof Error) target.message = pick(["a", "b"]);
  else if (target instanceof RegExp || isBoxed(target)) return;
  else if (Array.isArray(target)) {
    if (roll < 0.15) Reflect.set(target, "note", primitive());
    else if (roll < 0.3) target.push(primitive());
    else if (target.length && roll < 0.6) target[0] = primitive();
    else if (target.length) Reflect.set(target, 0, target[0]); // the same value again
  } else {
    const node = target as Node;
    const keys = Object.keys(node);
    if (roll < 0.3) setOwn(node, pick(["a", "b", "z"]), primitive());
    else if (roll < 0.5 && keys.length) delete node[pick(keys)];
    else if (roll < 0.65) setOwn(node, pick(["a", "b"]), pick(objects));
    else if (roll < 0.85 && keys.length) {
      // Replacing a shared plain object by a copy changes the sharing.
      const key = pick(keys);
      const value = node[key];
      const plain = Object.getPrototypeOf(value ?? 0) === Object.prototype;
      setOwn(node, key, plain ? { ...(value as Node) } : value);
    } else if (keys.length) setOwn(node, keys[0], node[keys[0]]); // the same value again
  }
}

/** One random thing a handler does to the session. */
function act(session: Node, readOnly: boolean): void {
  const keys = Object.keys(session);
  const key = keys.length ? pick(keys) : "f1";
  const roll = readOnly ? 0 : random();
  if (roll < 0.3) void session[key];
  else if (roll < 0.6) mutateInside(session[key]);
  else if (roll < 0.7) session[key] = generate(2, []);
  else if (roll < 0.75) session[key] = structuredClone(session[key]); // equal, unless it was shared
  else if (roll < 0.8) session[key] = session[pick(keys)];
  else if (roll < 0.85) delete session[key];
  else if (roll < 0.9) session[pick(["f1", "extra"])] = primitive();
  else if (keys.length) {
    // Deleted and set again: at the end, or at the same place when it was last.
    const value = session[key];
    delete session[key];
    session[key] = random() < 0.5 ? value : structuredClone(value);
  }
}

/** Each top-level field written out on its own, keys and order included. */
function fieldBytes(root: Node): string {
  return Object.keys(root).map((key) => key + "=" + canonical(root[key], new Map())).join("|");
}

/**
 * What a structured clone keeps of `value`, as text: objects are numbered in
 * the order met, so a shared reference or a cycle reads as `#n`.
 */
function canonical(value: unknown, seen: Map<object, number>): string {
  if (typeof value !== "object" || value === null) {
    return Object.is(value, -0) ? "-0" : `${typeof value}:${String(value)}`;
  }
  const id = seen.get(value);
  if (id !== undefined) return `#${id}`;
  seen.set(value, seen.size);
  const inner = (item: unknown) => canonical(item, seen);
  const fields = (object: object) =>
    Object.keys(object).map((key) => `${JSON.stringify(key)}:${inner((object as Node)[key])}`);
  if (Array.isArray(value)) {
    const named = Object.keys(value).filter((key) => !/^\d+$/.test(key));
    const items = Array.from({ length: value.length }, (_, i) => inner(value[i]));
    return `[${items}|${named.map((key) => `${key}:${inner((value as unknown as Node)[key])}`)}]`;
  }
  if (value instanceof Date) return `Date(${value.getTime()})`;
  if (value instanceof Map) return `Map(${[...value].map(([k, v]) => `${inner(k)}=>${inner(v)}`)})`;
  if (value instanceof Set) return `Set(${[...value].map(inner)})`;
  if (value instanceof Uint8Array) return `Uint8Array(${value})`;
  if (value instanceof RegExp) return `RegExp(${value})`;
  if (value instanceof Error) return `${value.name}(${value.message}|${value.stack})`;
  if (isBoxed(value)) return `${Object.getPrototypeOf(value).constructor.name}(${value})`;
  return `{${fields(value)}}`;
}

Deno.test("field tracking agrees with what a structured clone keeps, on 4,000 random sessions and handlers", () => {
  let changed = 0;
  let lazy = 0;
  for (let run = 0; run < 4000; run++) {
    const stored: Node = {};
    const pool: object[] = [];
    for (const key of ["f1", "f2", "f3"]) stored[key] = generate(3, pool);
    if (random() < 0.3) stored.f4 = pick<unknown>([[], {}, "s", 1]);
    const before = fieldBytes(stored);
    // What a storage hands out: the plugin's own copy. Sometimes shared (never to be changed).
    const shared = random() < 0.3;
    const read = structuredClone(stored);
    const values = { ...read };
    const tracked = TrackedFields.track(read, { shared });
    if (!tracked) continue; // an array, or contains itself: a snapshot's job
    const live = tracked.live;
    if (Object.keys(live).some((key) => Object.getOwnPropertyDescriptor(live, key)!.get)) lazy++;
    const readOnly = random() < 0.2;
    for (let i = Math.floor(random() * 4); i >= 0; i--) act(live, readOnly);

    const reported = tracked.hasChanged(live);
    tracked.checkDepth(live);
    const written = tracked.whileStoring(live, () => fieldBytes(live));
    const handed = fieldBytes(tracked.handOver().value as Node);
    const after = fieldBytes(live);
    const expected = after !== before;
    if (expected) changed++;
    assert.equal(reported, expected, `run ${run}: expected changed=${expected}`);
    if (readOnly) assert.equal(reported, false, `run ${run}: a read-only handler changed it`);
    assert.equal(written, after, `run ${run}: the storage is handed the session as left`);
    assert.equal(handed, after, `run ${run}: the session handed over is the session as left`);
    if (shared) assert.equal(fieldBytes(values), before, `run ${run}: a stored value was changed`);
  }
  assert.ok(changed > 1000, `the handlers changed ${changed} sessions: enough to mean something`);
  assert.ok(lazy > 500, `${lazy} sessions had fields read lazily: enough to mean something`);
});
