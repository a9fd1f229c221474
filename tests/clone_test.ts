/**
 * src/clone.ts and src/storable_depth.ts called directly: cloneValue's
 * structured-clone results, setOwn, namedArrayKeys, the returns-copies mark,
 * and assertStorableDepth at and past MAX_DEPTH.
 */
import assert from "node:assert/strict";
import { serialize } from "node:v8";
import { cloneValue, FieldCopier, NotATree } from "../src/clone.ts";
import { namedArrayKeys, setOwn } from "../src/value_kinds.ts";
import { DepthError, MAX_DEPTH } from "../src/depth_limit.ts";
import { markReturnsCopies, returnsCopies } from "../src/returns_copies.ts";
import { assertStorableDepth, storableShape } from "../src/storable_depth.ts";

function nested(levels: number): Record<string, unknown> {
  let value: Record<string, unknown> = {};
  for (let i = 1; i < levels; i++) value = { next: value };
  return value;
}

Deno.test("cloneValue: a deep copy with structured-clone results", () => {
  class Point {
    constructor(public x: number) {}
  }
  const shared = { n: 1 };
  const original = {
    flat: 1,
    list: [1, { a: shared }],
    map: new Map<unknown, unknown>([[shared, new Set([1n])]]),
    when: new Date(5),
    bytes: new Uint8Array([1, 2]),
    pattern: /x/gi,
    point: new Point(3),
    again: shared,
  };
  const copy = cloneValue(original);
  assert.deepEqual({ ...copy, point: { ...copy.point } }, { ...original, point: { x: 3 } });
  assert.notEqual(copy.list, original.list);
  assert.notEqual(copy.when, original.when);
  assert.notEqual(copy.bytes, original.bytes);
  assert.equal(Object.getPrototypeOf(copy.point), Object.prototype, "instances become plain");
  assert.equal(copy.again, (copy.list[1] as { a: unknown }).a, "shared references stay shared");
  assert.equal([...copy.map.keys()][0], copy.again);
});

Deno.test("cloneValue: cycles are kept; functions and symbols are refused with their path", () => {
  const cyclic: Record<string, unknown> = { name: "root" };
  cyclic.self = cyclic;
  const copy = cloneValue(cyclic);
  assert.equal(copy.self, copy);
  assert.throws(
    () => cloneValue({ user: { greet: () => "hi" } }),
    (error) => error instanceof TypeError && /"user\.greet" is a function/.test(error.message),
  );
  assert.throws(
    () => cloneValue({ list: [Symbol("s")] }),
    (error) => error instanceof TypeError && /"list\[0\]" is a symbol/.test(error.message),
  );
});

Deno.test("cloneValue: __proto__ stays an own field; named array keys are copied", () => {
  const parsed = JSON.parse('{"__proto__": {"polluted": true}, "ok": 1}');
  const copy = cloneValue(parsed);
  assert.ok(Object.hasOwn(copy, "__proto__"));
  assert.equal(Object.getPrototypeOf(copy), Object.prototype);
  const list = Object.assign([1, 2], { label: "x" });
  assert.equal((cloneValue(list) as typeof list).label, "x");
});

Deno.test("cloneValue: arrays are copied packed, so V8 (Deno KV) writes them as densely as the original", () => {
  const list = Array.from({ length: 100 }, (_, i) => ({ id: i }));
  assert.equal(serialize(cloneValue({ list })).byteLength, serialize({ list }).byteLength);
});

Deno.test("setOwn and namedArrayKeys", () => {
  const target: Record<string, unknown> = {};
  setOwn(target, "__proto__", 1);
  setOwn(target, "a", 2);
  assert.deepEqual(Object.keys(target), ["__proto__", "a"]);
  assert.equal(Object.getPrototypeOf(target), Object.prototype);
  assert.equal(namedArrayKeys([1, 2, 3]), undefined);
  assert.equal(namedArrayKeys([]), undefined);
  assert.deepEqual(namedArrayKeys(Object.assign([1], { a: 1, b: 2 })), ["a", "b"]);
  // deno-lint-ignore no-sparse-arrays
  assert.equal(namedArrayKeys([1, , 3]), undefined, "holes are not named keys");
});

Deno.test("the returns-copies mark is the storage's own, not inherited by wrappers", () => {
  const storage = markReturnsCopies({ name: "s" });
  assert.equal(returnsCopies(storage), true);
  assert.equal(returnsCopies({ ...storage }), false);
  assert.equal(returnsCopies({}), false);
});

Deno.test("assertStorableDepth: MAX_DEPTH levels pass; deeper is a DepthError naming the field", () => {
  assert.doesNotThrow(() => assertStorableDepth({ deep: nested(MAX_DEPTH - 1) }));
  assert.throws(
    () => assertStorableDepth({ fine: 1, deep: nested(MAX_DEPTH) }),
    (error) =>
      error instanceof DepthError && error.field === "deep" && error.depth === MAX_DEPTH + 1,
  );
  const far = nested(MAX_DEPTH * 5);
  assert.throws(
    () => assertStorableDepth({ far }),
    (error) => error instanceof DepthError && error.depth === MAX_DEPTH * 5 + 1,
  );
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.doesNotThrow(() => assertStorableDepth({ cyclic }), "a cycle is not depth");
});

Deno.test("storableShape: whether a session contains itself or shares objects between fields", () => {
  const shared = { n: 1 };
  assert.deepEqual(storableShape({ a: { x: shared, y: shared }, b: [shared] }), {
    containsItself: false,
    fieldsShare: true,
  });
  assert.deepEqual(storableShape({ a: { x: shared, y: shared }, b: [{ n: 1 }] }), {
    containsItself: false,
    fieldsShare: false,
  });
  const session: Record<string, unknown> = { n: 1 };
  session.list = [{ back: session }];
  assert.deepEqual(storableShape(session), { containsItself: true, fieldsShare: false });
  assert.throws(() => storableShape({ deep: nested(MAX_DEPTH) }), DepthError);
  // Some of a session's fields only: the session met inside them is not walked.
  assertStorableDepth({ list: session.list, deep: nested(10) }, session);
});

Deno.test("FieldCopier with treeOnly: copies a tree, stops with NotATree at an object met twice or the session", () => {
  const root = { a: { list: [{ n: 1 }, { n: 2 }] } };
  const copier = new FieldCopier(root, {}, true);
  const copy = copier.copy(root.a, "a");
  assert.deepEqual(copy, root.a);
  assert.notEqual(copy.list[0], root.a.list[0]);
  assert.deepEqual(new Set(copier.originals()), new Set([root.a, root.a.list, ...root.a.list]));
  const item = { n: 1 };
  assert.throws(() => new FieldCopier(root, {}, true).copy({ x: item, y: item }, "b"), NotATree);
  assert.throws(() => new FieldCopier(root, {}, true).copy({ back: root }, "c"), NotATree);
  // Without treeOnly the sharing is kept.
  const kept = new FieldCopier(root, {}).copy({ x: item, y: item }, "b");
  assert.equal(kept.x, kept.y);
});
