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
import { Buffer } from "node:buffer";
import { serialize } from "node:v8";
import { setOwn } from "../src/value_kinds.ts";
import { DepthError, MAX_DEPTH } from "../src/depth_limit.ts";
import { changedFields, hasChanged, takeSnapshot } from "../src/change_detection/mod.ts";
import { mutateOne, randomValues } from "./support/random_values.ts";

const values = randomValues(12345);
const { random, pick, generate } = values;
const mutate = (root: object) => mutateOne(values, root);

type Node = Record<string, unknown>;

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

/**
 * fieldBytes of a structured clone: V8 writes a packed array densely and a
 * holey one sparsely, and an array's kind changes without its content (a
 * clone's arrays are all written alike).
 */
function normalizedFieldBytes(root: Node): string {
  return Object.keys(root).map((key) =>
    key + "=" + serialize(structuredClone(root[key])).toString("hex")
  ).join("|");
}

/** A record with `count` keys added by computed name (dictionary mode past about 16). */
function wideRecord(count: number, value: (i: number) => unknown): Node {
  const record: Node = {};
  for (let i = 0; i < count; i++) setOwn(record, pick(["k", "", "1", "x"]) + i, value(i));
  return record;
}

Deno.test("hasChanged agrees with V8 serialization on 1,000 wide sessions (many keys, many objects)", () => {
  let changed = 0;
  for (let run = 0; run < 1000; run++) {
    const pool: object[] = [];
    const root: Node = {
      // Past 16 keys (read by Object.keys), some index keys, some nested objects.
      wide: wideRecord(10 + Math.floor(random() * 20), () => generate(1, pool)),
      // Past 32 objects in one field (numbered with a Set), with sharing and cycles.
      many: Array.from({ length: 30 + Math.floor(random() * 20) }, () => generate(2, pool)),
    };
    pool.push(root.wide as object, root.many as object);
    const snapshot = takeSnapshot(root);
    const before = normalizedFieldBytes(root);
    assert.equal(
      hasChanged(snapshot, root),
      false,
      `run ${run}: unchanged session reported changed`,
    );
    // A structured clone is equal but shares no object with the snapshot's session.
    assert.equal(hasChanged(snapshot, structuredClone(root)), false, `run ${run}: clone`);
    mutate(root);
    const expected = normalizedFieldBytes(root) !== before;
    if (expected) changed++;
    assert.equal(hasChanged(snapshot, root), expected, `run ${run}: expected changed=${expected}`);
  }
  assert.ok(changed > 200, `the mutations changed ${changed} sessions: enough to mean something`);
});

class Point {
  x = 1;
}

/** Each case: a session, a change to it, and whether V8 serializes the field differently after. */
const cases: Array<[string, () => Node, (root: Node) => void]> = [
  ["an array that becomes sparse", () => ({ f: [1, 2, 3] }), (r) => delete (r.f as unknown[])[1]],
  ["an array whose length grows", () => ({ f: [1] }), (r) => void ((r.f as unknown[]).length = 3)],
  [
    "an array that gains a named key",
    () => ({ f: [1] }),
    (r) => Reflect.set(r.f as object, "n", 1),
  ],
  [
    "an object that gains a class prototype",
    () => ({ f: { a: { x: 1 } } }),
    (r) => Object.setPrototypeOf((r.f as Node).a, Point.prototype),
  ],
  [
    "an object that gains a null prototype",
    () => ({ f: { x: 1 } }),
    (r) => Object.setPrototypeOf(r.f, null),
  ],
  [
    "a null-prototype object whose value changes",
    () => ({ f: Object.assign(Object.create(null), { x: 1 }) }),
    (r) => void ((r.f as Node).x = 2),
  ],
  [
    "a class instance whose value changes",
    () => ({ f: new Point() }),
    (r) => void ((r.f as Point).x = 2),
  ],
  [
    "a shared reference that becomes two copies",
    () => {
      const shared = { x: 1 };
      return { f: { a: shared, b: shared } };
    },
    (r) => void ((r.f as Node).b = { x: 1 }),
  ],
  [
    "two copies that become one shared reference",
    () => ({ f: { a: { x: 1 }, b: { x: 1 } } }),
    (r) => void ((r.f as Node).b = (r.f as Node).a),
  ],
  [
    "an equal copy moved where a shared reference is met first",
    () => ({ f: { a: { x: 1 }, b: { x: 1 } } }),
    (r) => void ((r.f as Node).a = (r.f as Node).b),
  ],
  [
    "two equal objects swapped",
    () => ({ f: { a: { x: 1 }, b: { x: 1 } } }),
    (r) => {
      const f = r.f as Node;
      [f.a, f.b] = [f.b, f.a];
    },
  ],
  [
    "two different objects swapped",
    () => ({ f: { a: { x: 1 }, b: { x: 2 } } }),
    (r) => {
      const f = r.f as Node;
      [f.a, f.b] = [f.b, f.a];
    },
  ],
  [
    "an object replaced by an equal copy",
    () => ({ f: { a: { x: [1, new Date(0)] } } }),
    (r) => void ((r.f as Node).a = structuredClone((r.f as Node).a)),
  ],
  [
    "a cycle replaced by an equal-looking copy",
    () => {
      const f: Node = { x: 1 };
      f.self = f;
      return { f };
    },
    (r) => void ((r.f as Node).self = { x: 1, self: r.f }),
  ],
  [
    "a wide record's last value",
    () => ({ f: wideRecord(40, (i) => i) }),
    (r) => setOwn(r.f as Node, Object.keys(r.f as Node).at(-1)!, -1),
  ],
  [
    "a wide record whose first key moves to the end",
    () => ({ f: wideRecord(40, (i) => i) }),
    (r) => {
      const f = r.f as Node;
      const [key] = Object.keys(f);
      const value = f[key];
      delete f[key];
      setOwn(f, key, value);
    },
  ],
  ["a key renamed, same value", () => ({ f: { a: 1 } }), (r) => void (r.f = { b: 1 })],
  [
    "two keys with equal values swapped",
    () => ({ f: { a: 1, b: 1 } }),
    (r) => void (r.f = { b: 1, a: 1 }),
  ],
  [
    "a wide record's key renamed, same value",
    () => ({ f: wideRecord(20, () => 0) }),
    (r) => {
      const f = r.f as Node;
      delete f[Object.keys(f)[5]];
      f.renamed = 0;
    },
  ],
  [
    "a record that passes 16 keys",
    () => ({ f: wideRecord(16, (i) => i) }),
    (r) => setOwn(r.f as Node, "extra", 1),
  ],
  [
    "a record that falls to 16 keys",
    () => ({ f: wideRecord(17, (i) => i) }),
    (r) => delete (r.f as Node)[Object.keys(r.f as Node)[3]],
  ],
  [
    "a record with index keys",
    () => ({ f: { 2: "b", 1: "a", x: 1 } }),
    (r) => void ((r.f as Node)[1] = "c"),
  ],
  [
    "a small record that turns to dictionary mode, same content",
    () => ({ f: { a: 1, b: 2, c: 3 } }),
    (r) => {
      const f = r.f as Node;
      delete f.c;
      f.c = 3;
    },
  ],
  [
    "a small record that turns to dictionary mode, key order changed",
    () => ({ f: { a: 1, b: 2, c: 3 } }),
    (r) => {
      const f = r.f as Node;
      delete f.a;
      f.a = 1;
    },
  ],
  [
    "one of 40 objects becomes shared",
    () => ({ f: Array.from({ length: 40 }, (_, i) => ({ i: i % 2 })) }),
    (r) => {
      const f = r.f as Node[];
      f[39] = f[37];
    },
  ],
  [
    "one of 40 shared objects becomes a copy",
    () => {
      const shared = { i: 0 };
      return { f: Array.from({ length: 40 }, (_, i) => i % 3 ? { i } : shared) };
    },
    (r) => {
      const f = r.f as Node[];
      f[39] = { ...f[39] };
    },
  ],
  [
    "a typed array view's bytes",
    () => ({ f: { v: new Uint16Array(new Uint8Array([1, 2, 3, 4, 5, 6]).buffer, 2, 1) } }),
    (r) => void (((r.f as Node).v as Uint16Array)[0] = 9),
  ],
  [
    "bytes outside a typed array's view",
    () => ({ f: { v: new Uint8Array(new Uint8Array([1, 2, 3, 4]).buffer, 1, 2) } }),
    (r) => void (new Uint8Array(((r.f as Node).v as Uint8Array).buffer)[3] = 9),
  ],
];

Deno.test("hasChanged agrees with V8 serialization on changes to each kind of object", () => {
  for (const [name, make, change] of cases) {
    const root = make();
    const snapshot = takeSnapshot(root);
    const before = normalizedFieldBytes(root);
    assert.equal(hasChanged(snapshot, root), false, `${name}: unchanged`);
    change(root);
    const expected = normalizedFieldBytes(root) !== before;
    assert.equal(hasChanged(snapshot, root), expected, `${name}: expected changed=${expected}`);
  }
});

Deno.test("takeSnapshot: deeper than MAX_DEPTH is a DepthError naming the field, MAX_DEPTH is recorded", () => {
  const wraps: Array<[string, (inner: unknown) => unknown, number]> = [
    ["records", (inner) => ({ inner }), 1],
    ["arrays", (inner) => [inner], 1],
    ["Maps", (inner) => new Map([["k", inner]]), 1],
    ["Sets", (inner) => new Set([inner]), 1],
    // An Error's fields are one level below it, its cause two.
    ["Errors", (inner) => new Error("e", { cause: inner }), 2],
  ];
  for (const [name, wrap, levels] of wraps) {
    // The field's value is level 2: `count` wraps reach level 1 + count * levels.
    const nested = (count: number) => {
      let value: unknown = null;
      for (let i = 0; i < count; i++) value = wrap(value);
      return { ok: 1, deep: value };
    };
    const fits = Math.floor((MAX_DEPTH - 1) / levels);
    const session = nested(fits);
    assert.equal(hasChanged(takeSnapshot(session), session), false, name);
    assert.throws(
      () => takeSnapshot(nested(fits + 1)),
      (error) => error instanceof DepthError && error.field === "deep",
      name,
    );
  }
});

Deno.test("changedFields: sessions built apart but equal differ in no field; each changed field is named", () => {
  const fn = () => () => 1; // a new function each call, the same text
  const make = () => ({
    count: 1,
    fn: fn(),
    bytes: { view: new Uint16Array([1, 2]), buffer: new Uint8Array([3]).buffer },
    when: new Date(0),
    nested: { fn: fn(), boxed: Object(1n), error: new RangeError("e") },
    gone: 1,
  });
  const base = make();
  const other: Record<string, unknown> = make();
  (other.nested as { error: Error }).error.stack = base.nested.error.stack;
  assert.deepEqual(changedFields(takeSnapshot(base), takeSnapshot(other)), new Set());

  (other.bytes as { view: Uint16Array }).view[1] = 9;
  (other.nested as { fn: unknown }).fn = () => 2;
  delete other.gone;
  other.added = 1;
  assert.deepEqual(
    changedFields(takeSnapshot(base), takeSnapshot(other)),
    new Set(["bytes", "nested", "added", "gone"]),
  );
});

Deno.test("a typed array of a subclass (Node's Buffer) is unchanged while its bytes are", () => {
  class Bytes extends Uint8Array {}
  for (const make of [() => Buffer.from([1, 2]), () => new Bytes([1, 2])]) {
    const session = { bytes: make() };
    const snapshot = takeSnapshot(session);
    assert.equal(hasChanged(snapshot, session), false, session.bytes.constructor.name);
    session.bytes[1] = 3;
    assert.equal(hasChanged(snapshot, session), true, session.bytes.constructor.name);
  }
});

Deno.test("a write to a view on a SharedArrayBuffer is a change", () => {
  const session = { bytes: new Uint8Array(new SharedArrayBuffer(2)) };
  const snapshot = takeSnapshot(session);
  assert.equal(hasChanged(snapshot, session), false);
  session.bytes[1] = 3;
  assert.equal(hasChanged(snapshot, session), true);
});
