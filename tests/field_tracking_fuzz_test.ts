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
import { isBoxed } from "../src/value_kinds.ts";
import { EAGER_SLOTS, TrackedFields } from "../src/field_tracking/mod.ts";
import { mutateOne, randomValues } from "./support/random_values.ts";

const values = randomValues(20241);
const { random, pick, primitive, generate } = values;

type Node = Record<string, unknown>;

/** One random thing a handler does to the session. */
function act(session: Node, readOnly: boolean): void {
  const keys = Object.keys(session);
  const key = keys.length ? pick(keys) : "f1";
  const roll = readOnly ? 0 : random();
  if (roll < 0.3) void session[key];
  else if (roll < 0.6) mutateOne(values, session[key]);
  else if (roll < 0.7) session[key] = generate(2, [], EAGER_SLOTS + 2);
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
  if (value instanceof Error) {
    const cause = Object.hasOwn(value, "cause") ? inner(value.cause) : "";
    return `${value.name}(${value.message}|${value.stack}|${cause})`;
  }
  if (isBoxed(value)) return `${Object.getPrototypeOf(value).constructor.name}(${value})`;
  return `{${fields(value)}}`;
}

/**
 * How the objects `root` reaches are linked: `tree` when none is reached
 * twice; `tangled` when two top-level fields reach one object or a field
 * reaches `root`.
 */
function linksOf(root: object): { tree: boolean; tangled: boolean } {
  const fieldOf = new Map<object, string>([[root, ""]]);
  let tree = true;
  let tangled = false;
  const walk = (value: unknown, field: string): void => {
    if (typeof value !== "object" || value === null) return;
    const met = fieldOf.get(value);
    if (met !== undefined) {
      tree = false;
      if (met !== field) tangled = true;
      return;
    }
    fieldOf.set(value, field);
    const children: unknown[] = [];
    if (value instanceof Map) { for (const [k, v] of value) children.push(k, v); }
    else if (value instanceof Set) children.push(...value);
    else if (value instanceof Error) {
      if (Object.hasOwn(value, "cause")) children.push(value.cause);
      children.push(...Object.values(value));
    } else if (
      !(value instanceof Date) && !ArrayBuffer.isView(value) && !(value instanceof RegExp)
    ) {
      children.push(...Object.values(value));
    }
    for (const child of children) walk(child, field);
  };
  for (const [key, value] of Object.entries(root)) walk(value, key);
  return { tree, tangled };
}

Deno.test("field tracking agrees with what a structured clone keeps, on 6,000 random sessions and handlers", () => {
  let changed = 0;
  let lazy = 0;
  let trees = 0;
  for (let run = 0; run < 6000; run++) {
    const stored: Node = {};
    const pool: object[] = [];
    for (const key of ["f1", "f2", "f3"]) stored[key] = generate(3, pool, EAGER_SLOTS + 2);
    if (random() < 0.3) stored.f4 = pick<unknown>([[], {}, "s", 1]);
    const before = fieldBytes(stored);
    // What a storage hands out: the plugin's own copy. Sometimes shared (never to be changed).
    const shared = random() < 0.3;
    const read = structuredClone(stored);
    const values = { ...read };
    // In memory the storage says when its value reaches no object twice.
    const tree = shared && linksOf(read).tree;
    const tracked = TrackedFields.track(read, { shared, tree });
    if (!tracked) continue; // an array, or contains itself: a snapshot's job
    if (tree) trees++;
    const live = tracked.live;
    if (Object.keys(live).some((key) => Object.getOwnPropertyDescriptor(live, key)!.get)) lazy++;
    const readOnly = random() < 0.2;
    for (let i = Math.floor(random() * 4); i >= 0; i--) act(live, readOnly);

    const reported = tracked.hasChanged(live);
    tracked.checkDepth(live);
    const written = tracked.whileStoring(live, () => fieldBytes(live));
    const handOver = tracked.handOver();
    const handed = fieldBytes(handOver.value as Node);
    const links = linksOf(handOver.value);
    if (handOver.shape === "tree") assert.ok(links.tree, `run ${run}: said a tree, is not`);
    if (handOver.shape !== "tangled") {
      assert.ok(!links.tangled, `run ${run}: fields share objects, not said tangled`);
    }
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
  assert.ok(trees > 300, `${trees} stored values were trees: enough to mean something`);
  assert.ok(lazy > 700, `${lazy} sessions had fields read lazily: enough to mean something`);
});
