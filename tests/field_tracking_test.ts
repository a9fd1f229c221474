/**
 * src/field_tracking.ts and src/same_data.ts called directly: what handlers
 * get (copies, accessors for large fields), what counts as a change, what the
 * storage is handed, and the sessions left to a snapshot.
 */
import assert from "node:assert/strict";
import { hasChanged } from "../src/change_detection/mod.ts";
import { cloneField } from "../src/clone.ts";
import { DepthError, MAX_DEPTH } from "../src/depth_limit.ts";
import { EAGER_SLOTS, TrackedFields } from "../src/field_tracking/mod.ts";
import { fits } from "../src/field_tracking/_size.ts";
import { FieldComparer } from "../src/same_data.ts";

type Session = Record<string, unknown>;

/** An array too large to be handed out before it is read. */
const large = (from = 0) => Array.from({ length: EAGER_SLOTS + 1 }, (_, i) => ({ n: from + i }));

/** Both ways: the plugin's own copy (`shared: false`) and the storage's object (`shared: true`). */
const MODES = [false, true];

function track(read: object, options?: Parameters<typeof TrackedFields.track>[1]) {
  const tracked = TrackedFields.track(read, options);
  assert.ok(tracked, "tracked by field");
  return { tracked, live: tracked.live };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze((value as Session)[key]);
  }
  return value;
}

Deno.test("without large fields, the plugin's own copy is left to a snapshot; the storage's is copied", () => {
  assert.equal(TrackedFields.track({ count: 1, cart: { n: 1 } }), undefined);
  const read = deepFreeze({ count: 1, name: "a", cart: { items: [{ n: 1 }] } });
  const { tracked, live } = track(read, { shared: true });
  assert.notEqual(live, read);
  assert.notEqual(live.cart, read.cart);
  assert.deepEqual(live, read);
  assert.equal(tracked.hasChanged(live), false);
  live.count = 1;
  assert.equal(tracked.hasChanged(live), false, "the same value again");
  live.count = 2;
  assert.equal(tracked.hasChanged(live), true);
  live.count = 1;
  (live.cart as typeof read.cart).items[0].n = 2;
  assert.equal(tracked.hasChanged(live), true);
  (live.cart as typeof read.cart).items[0].n = 1;
  assert.equal(tracked.hasChanged(live), false, "changed back");
});

Deno.test("small object fields: the plugin's own handed out as they are, the storage's copied", () => {
  for (const shared of MODES) {
    const cart = { items: [{ sku: "a", n: 1 }], when: new Date(1) };
    const { tracked, live } = track({ count: 0, cart, history: large() }, { shared });
    assert.equal(live.cart === cart, !shared, `shared: ${shared}`);
    assert.deepEqual(live.cart, cart);
    (live.cart as typeof cart).items[0].n = 2;
    assert.equal(tracked.hasChanged(live), true);
    (live.cart as typeof cart).items[0].n = 1;
    assert.equal(tracked.hasChanged(live), false, "changed back");
    (live.cart as typeof cart).when.setTime(2);
    assert.equal(tracked.hasChanged(live), true, "a Date changed in place");
  }
});

Deno.test("a large field is an accessor until read; never read, it is unchanged without a compare", () => {
  for (const shared of MODES) {
    const history = large();
    const read = { count: 0, history, tail: "t" };
    const { tracked, live } = track(read, { shared });
    assert.notEqual(live, read, "accessors go on a new object");
    const descriptor = Object.getOwnPropertyDescriptor(live, "history")!;
    assert.equal(typeof descriptor.get, "function");
    assert.equal(descriptor.enumerable, true);
    assert.equal(descriptor.configurable, true);
    assert.deepEqual(Object.keys(live), ["count", "history", "tail"]);
    live.count = 1;
    assert.equal(tracked.hasChanged(live), true);
    live.count = 0;
    assert.equal(tracked.hasChanged(live), false);

    const first = live.history as typeof history;
    assert.equal(first === history, !shared, "the storage's object is copied");
    assert.equal(live.history, first, "the same object on every read");
    assert.equal(tracked.hasChanged(live), false, "read, not changed");
    first[3].n = 99;
    assert.equal(tracked.hasChanged(live), true);
  }
});

Deno.test("a session with accessors spreads, stringifies and clones like a plain object", () => {
  for (const shared of MODES) {
    const read = { count: 2, history: large(), flags: new Set(["a"]) };
    const expected = structuredClone(read);
    for (
      const view of [
        (s: Session) => ({ ...s }),
        (s: Session) => structuredClone(s),
        (s: Session) => JSON.parse(JSON.stringify(s)),
        (s: Session) => Object.fromEntries(Object.entries(s)),
      ]
    ) {
      const { live } = track(structuredClone(read), { shared });
      const seen = view(live) as Session;
      assert.deepEqual(
        JSON.parse(JSON.stringify(seen)),
        JSON.parse(JSON.stringify(expected)),
      );
    }
    const { live } = track(structuredClone(read), { shared });
    assert.deepEqual(structuredClone(live), expected);
    assert.deepEqual(Object.create(live).history, expected.history, "read through an heir");
  }
});

Deno.test("accessor fields: assigned, assigned an equal copy, deleted, replaced in place", () => {
  for (const shared of MODES) {
    const read = () => ({ a: 1, history: large(), z: 2 });
    let { tracked, live } = track(read(), { shared });
    live.history = [];
    assert.equal(tracked.hasChanged(live), true, "assigned");

    ({ tracked, live } = track(read(), { shared }));
    live.history = large();
    assert.equal(tracked.hasChanged(live), false, "an equal value assigned");

    ({ tracked, live } = track(read(), { shared }));
    delete live.history;
    assert.equal(tracked.hasChanged(live), true, "deleted");

    // Deleted and set again at the same place (the last key): a plain data
    // property now, which the save must read instead of trusting the accessor.
    const last = { a: 1, history: large() };
    ({ tracked, live } = track(last, { shared }));
    delete live.history;
    live.history = large(1);
    assert.equal(tracked.hasChanged(live), true, "replaced by a different value");
    ({ tracked, live } = track({ a: 1, history: large() }, { shared }));
    delete live.history;
    live.history = large();
    assert.equal(tracked.hasChanged(live), false, "replaced by an equal value");
  }
});

Deno.test("keys added, removed or moved are changes", () => {
  for (const shared of MODES) {
    for (
      const change of [
        (s: Session) => void (s.extra = 1),
        (s: Session) => void delete s.a,
        (s: Session) => {
          const a = s.a;
          delete s.a;
          s.a = a;
        },
      ]
    ) {
      const { tracked, live } = track({ a: 1, history: large(), z: 2 }, { shared });
      change(live);
      assert.equal(tracked.hasChanged(live), true, String(change));
    }
  }
});

Deno.test("changes inside Map, Set, Date and typed arrays of large fields are seen", () => {
  for (const shared of MODES) {
    const read = () => ({
      big: {
        list: large(),
        map: new Map([["k", 1]]),
        set: new Set([1]),
        when: new Date(5),
        bytes: new Uint8Array([1, 2, 3]),
      },
    });
    type Big = ReturnType<typeof read>["big"];
    for (
      const change of [
        (b: Big) => void b.map.set("k", 2),
        (b: Big) => void b.set.add(2),
        (b: Big) => void b.when.setTime(6),
        (b: Big) => void (b.bytes[1] = 9),
      ]
    ) {
      const { tracked, live } = track(read(), { shared });
      assert.equal(tracked.hasChanged(live), false);
      change(live.big as Big);
      assert.equal(tracked.hasChanged(live), true, String(change));
    }
  }
});

Deno.test("a frozen session keeps its accessors readable and refuses assignments", () => {
  for (const shared of MODES) {
    const { tracked, live } = track({ history: large() }, { shared });
    Object.freeze(live);
    assert.equal((live.history as unknown[]).length, EAGER_SLOTS + 1);
    assert.throws(() => (live.history = []), TypeError);
    assert.equal(tracked.hasChanged(live), false);
  }
});

Deno.test("whileStoring: fields not read are handed over as read, without copies", () => {
  for (const shared of MODES) {
    const history = large();
    const log = large(100);
    const read = { count: 0, history, log };
    const { tracked, live } = track(read, { shared });
    (live.log as typeof log)[0].n = -1;
    live.count = 1;
    // The depth check runs inside the storage call (the encoding does it) and must not end it.
    const written = tracked.whileStoring(live, () => (tracked.checkDepth(live), { ...live }));
    assert.equal(written.history, history, "not read: the value read itself");
    assert.equal(written.log, live.log, "read: the handler's copy");
    if (shared) assert.notEqual(live.history, history, "after the storage call, reads copy again");
    else assert.equal(live.history, history, "after the storage call, handed out as it is");
  }
});

Deno.test("handOver: fields never read as read, the others copied together", () => {
  for (const shared of MODES) {
    const history = large();
    const read = { count: 0, history, log: large(100), a: { n: 1 }, b: [] as unknown[] };
    const { tracked, live } = track(read, { shared });
    live.count = 1;
    live.b = [live.a];
    (live.log as Array<{ n: number }>)[0].n = -1;
    const { value, shape } = tracked.handOver() as { value: Session; shape: string };
    assert.deepEqual(Object.keys(value), ["count", "history", "log", "a", "b"]);
    assert.equal(value.history, history, "never read: the value read itself");
    assert.notEqual(value.log, live.log, "read: a copy of the handler's");
    assert.deepEqual(value.log, live.log);
    assert.equal(value.a, (value.b as unknown[])[0], "objects the copies share stay shared");
    assert.equal(shape, "tangled");
    assert.notEqual(
      track({ n: 1, history: large() }, { shared }).tracked.handOver().shape,
      "tangled",
    );
    const self = track({ n: 1, history: large() }, { shared });
    self.live.me = { session: self.live };
    const handed = self.tracked.handOver();
    const me = (handed.value as Session).me as Session;
    assert.equal(me.session, handed.value, "the session stands for itself");
    assert.equal(handed.shape, "tangled");
    self.live.fn = () => 1;
    assert.throws(() => self.tracked.handOver(), TypeError);
  }
});

Deno.test("checkDepth: fields handed out are checked; too deep throws DepthError naming the field", () => {
  for (const shared of MODES) {
    const { tracked, live } = track({ count: 0, history: large() }, { shared });
    let deep: Session = {};
    for (let i = 0; i < MAX_DEPTH + 5; i++) deep = { next: deep };
    live.chain = deep;
    assert.throws(() => tracked.checkDepth(live), (error) => {
      assert.ok(error instanceof DepthError);
      assert.equal(error.field, "chain");
      return true;
    });
    delete live.chain;
    tracked.checkDepth(live);
  }
});

Deno.test("track: stored data nested too deep in a large field is a DepthError, unless its depth is known", () => {
  let deep: Session = {};
  for (let i = 0; i < MAX_DEPTH + 5; i++) deep = { next: deep };
  const read = { history: [...large(), deep] };
  assert.throws(() => TrackedFields.track(read), DepthError);
  assert.ok(TrackedFields.track(read, { depthKnown: true }));
});

Deno.test("track: arrays and sessions that contain themselves are left to a snapshot", () => {
  assert.equal(TrackedFields.track([1, 2]), undefined);
  const looped: Session = { history: large() };
  (looped.history as unknown[]).push({ back: looped });
  assert.equal(TrackedFields.track(looped), undefined);
  // A field that reaches the session is a cycle: never small.
  const small: Session = { n: 1 };
  small.self = { root: small };
  assert.equal(TrackedFields.track(small), undefined);
});

Deno.test("the storage's object: a field that reaches the session holds the live session once read", () => {
  const read: Session = { n: 1 };
  read.self = { root: read, list: large() };
  const { tracked, live } = track(read, { shared: true, depthKnown: true });
  assert.equal((live.self as Session).root, live);
  assert.equal(tracked.hasChanged(live), false);
  (live.self as Session).root = { ...live };
  assert.equal(tracked.hasChanged(live), true);
});

Deno.test("shared: the stored session is never changed, whatever handlers do", () => {
  const read = deepFreeze({ count: 0, cart: { items: [1] }, history: large() });
  const { tracked, live } = track(read, { shared: true });
  assert.notEqual(live, read);
  live.count = 5;
  (live.cart as { items: number[] }).items.push(2);
  (live.history as Array<{ n: number }>)[0].n = 7;
  delete live.cart;
  assert.equal(tracked.hasChanged(live), true);
});

Deno.test("live: a $clear() fills the session object handlers hold", () => {
  const live: Session = {};
  const marker = () => {};
  Object.defineProperty(live, "$clear", { value: marker, enumerable: false });
  const initial = { count: 0, history: large() };
  const tracked = TrackedFields.track(initial, { live })!;
  assert.equal(tracked.live, live);
  assert.deepEqual(Object.keys(live), ["count", "history"]);
  assert.equal(tracked.hasChanged(live), false);
});

Deno.test("sessions whose top-level fields share objects are left to a snapshot", () => {
  // The storage's own objects: every object field is copied on its own when read.
  const both = { n: 1 };
  assert.equal(TrackedFields.track({ a: both, b: both }, { shared: true }), undefined);
  // Large fields are handed out one at a time: sharing could not be kept.
  const list = large();
  assert.equal(TrackedFields.track({ a: list, b: { list } }), undefined);
  assert.ok(TrackedFields.track({ a: large(), b: { list: large() } }));
});

Deno.test("an assigned session object is compared field by field with the one read", () => {
  for (const shared of MODES) {
    const { tracked } = track({ count: 1, history: large() }, { shared });
    assert.equal(tracked.hasChanged({ count: 1, history: large() }), false);
    assert.equal(tracked.hasChanged({ count: 1, history: large(1) }), true);
    assert.equal(tracked.hasChanged({ history: large(), count: 1 }), true, "order");
  }
});

Deno.test("snapshot: the session as read, whatever the handlers changed", () => {
  for (const shared of MODES) {
    const read = { count: 1, cart: { n: 1 }, history: large() };
    const original = structuredClone(read);
    const { tracked, live } = track(read, { shared });
    live.count = 2;
    (live.cart as { n: number }).n = 2;
    (live.history as unknown[]).pop();
    const snapshot = tracked.snapshot();
    assert.deepEqual(snapshot.keys, ["count", "cart", "history"]);
    assert.equal(hasChanged(snapshot, original), false);
    assert.equal(hasChanged(snapshot, { ...original, count: 2 }), true);
  }
});

Deno.test("fits: counts keys, items and entries, stops at the budget, survives cycles", () => {
  assert.equal(fits({ a: 1, b: [1, 2] }, 4), true);
  assert.equal(fits({ a: 1, b: [1, 2] }, 3), false);
  assert.equal(fits(new Map([[1, { a: 1 }]]), 2), true);
  assert.equal(fits(new Set([1, 2, 3]), 2), false);
  const cycle: Session = {};
  cycle.self = cycle;
  assert.equal(fits(cycle, 1000), false);
  assert.equal(fits(new Uint8Array(10), 2), true);
  assert.equal(fits(new Uint8Array(1 << 12), 2), false);
});

Deno.test("FieldComparer: structured-clone equality with the shape of shared references", () => {
  const eq = (a: unknown, b: unknown) => new FieldComparer().equal(a, b);
  assert.equal(eq({ a: [1, -0] }, { a: [1, -0] }), true);
  assert.equal(eq({ a: [1, -0] }, { a: [1, 0] }), false);
  assert.equal(eq({ a: 1, b: 2 }, { b: 2, a: 1 }), false, "key order");
  assert.equal(eq(new Map([[1, 2]]), new Map([[1, 3]])), false);
  assert.equal(eq(new Set([1, 2]), new Set([2, 1])), false, "Set order");
  assert.equal(eq(new Date(1), new Date(1)), true);
  assert.equal(eq(new Uint8Array([1]), new Int8Array([1])), false);
  assert.equal(eq(/a/g, /a/g), true);
  assert.equal(eq(new Number(1), new Number(1)), true);
  assert.equal(eq(new Number(1), new Number(2)), false);
  assert.equal(eq(Object(1n), 1n), false);
  const error = new Error("x");
  assert.equal(eq(error, structuredClone(error)), true);
  const edited = structuredClone(error);
  edited.message = "y";
  assert.equal(eq(error, edited), false);
  const named = Object.assign([1], { note: 1 });
  assert.equal(eq(named, Object.assign([1], { note: 1 })), true);
  assert.equal(eq(named, [1]), false);
  class Point {
    constructor(public x: number) {}
  }
  assert.equal(eq(new Point(1), { x: 1 }), true, "a class instance counts as its fields");
  const o = { n: 1 };
  assert.equal(eq([o, o], [{ n: 1 }, { n: 1 }]), false, "sharing made");
  const p = { n: 1 };
  assert.equal(eq([{ n: 1 }, { n: 1 }], [p, p]), false, "sharing undone");
  const cycle: Session = {};
  cycle.self = cycle;
  const other: Session = {};
  other.self = other;
  assert.equal(eq(cycle, other), true);
});

Deno.test("cloneField: the session object inside a field becomes the one given", () => {
  const session: Session = { n: 1 };
  const field = { back: session, list: [session] };
  const live = {};
  const copy = cloneField(field, "f", session, live);
  assert.equal(copy.back, live);
  assert.equal(copy.list[0], live);
  assert.throws(() => cloneField({ f: () => 1 }, "cart", session, live), /"cart\.f"/);
});

Deno.test("in memory, the save copies only the fields that changed; the others stay the stored objects", () => {
  const read = { count: 1, a: { n: 1 }, b: { n: 1 }, c: { n: 1 } };
  const tracked = TrackedFields.track(read, { shared: true, depthKnown: true, tree: true })!;
  const live = tracked.live as typeof read;
  assert.equal(live.a.n, 1); // read, unchanged
  live.b.n = 2;
  assert.equal(tracked.hasChanged(live), true);
  const { value, shape } = tracked.handOver() as { value: typeof read; shape: string };
  assert.equal(shape, "tree");
  assert.equal(value.a, read.a, "read and unchanged: the stored object");
  assert.equal(value.c, read.c, "never read: the stored object");
  assert.notEqual(value.b, live.b, "changed: a copy, not the object the handler holds");
  assert.notEqual(value.b, read.b);
  assert.deepEqual(value, { count: 1, a: { n: 1 }, b: { n: 2 }, c: { n: 1 } });
  assert.deepEqual(read.b, { n: 1 }, "the stored object is never changed");
});

Deno.test("in memory, objects a changed field shares with another field or within itself stay shared", () => {
  const read = { a: { inner: { n: 1 } }, b: { list: [] as unknown[] }, c: { items: [{ q: 1 }] } };
  const tracked = TrackedFields.track(read, { shared: true, depthKnown: true, tree: true })!;
  const live = tracked.live as typeof read;
  live.b.list.push(live.a.inner); // b now shares a's object; a itself is unchanged
  assert.equal(tracked.hasChanged(live), true);
  let handed = tracked.handOver() as { value: typeof read; shape: string };
  assert.equal(handed.shape, "tangled");
  assert.equal(handed.value.b.list[0], handed.value.a.inner, "shared between fields");
  assert.notEqual(handed.value.a, read.a, "copied together with b");

  const again = TrackedFields.track(read, { shared: true, depthKnown: true, tree: true })!;
  const items = (again.live as typeof read).c.items;
  items.push(items[0]); // shared within one field
  assert.equal(again.hasChanged(again.live), true);
  handed = again.handOver() as { value: typeof read; shape: string };
  assert.equal(handed.value.c.items[1], handed.value.c.items[0], "shared within the field");
  assert.equal(handed.shape, "shares", "no longer a tree: later reads remember what they copy");
  assert.equal(handed.value.a, read.a, "a, never read, is the stored object");
});

Deno.test("in memory, a stored tree: an object the handler makes shared is a change, an equal copy is not", () => {
  const read = () => ({ a: { x: { n: 1 }, y: { n: 1 } }, b: [{ n: 1 }] });
  for (const tree of [true, false]) {
    const shared = TrackedFields.track(read(), { shared: true, depthKnown: true, tree })!;
    const live = shared.live as ReturnType<typeof read>;
    live.a.y = live.a.x; // equal values, but now one object
    assert.equal(shared.hasChanged(live), true, `tree: ${tree}`);

    const copied = TrackedFields.track(read(), { shared: true, depthKnown: true, tree })!;
    const same = copied.live as ReturnType<typeof read>;
    same.a.y = { n: 1 };
    same.b = structuredClone(same.b);
    assert.equal(copied.hasChanged(same), false, `tree: ${tree}`);
  }
});
