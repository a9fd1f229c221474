/**
 * Sessions with large fields (a long history) through real bots, in memory
 * and on a Deno KV file: such fields are copied for a handler only when it
 * reads them (src/field_tracking.ts), and every guarantee holds as for small
 * sessions: a read-only update writes nothing; changes deep inside (Map, Set,
 * Date, typed arrays) are saved; a throwing handler writes nothing; other
 * instances' changes to other fields are merged; `$clear()`, assignment,
 * migrations and late use behave as always; nothing is shared between users
 * or updates.
 */
import assert from "node:assert/strict";
import {
  denoKvStorage,
  inMemoryStorage,
  type Migrations,
  type Session,
  session,
  SessionConflictError,
  SessionError,
  sessionStore,
  type VersionedStorage,
} from "../mod.ts";
import { ENVELOPE_MARK } from "../src/record.ts";
import { storedObjectsOf } from "../src/storages/memory.ts";
import { errorsOf, secondHandle, testBot, updates } from "./support/bot.ts";

interface Entry {
  id: number;
  at: Date;
  text: string;
}

interface Data {
  count: number;
  cart: { items: string[] };
  history: Entry[];
  seen: Set<number>;
  counters: Map<string, number>;
  bytes: Uint8Array;
}

function history(length = 200): Entry[] {
  return Array.from({ length }, (_, id) => ({ id, at: new Date(id * 1000), text: `entry ${id}` }));
}

function stored(): Data {
  return {
    count: 1,
    cart: { items: ["a"] },
    history: history(),
    seen: new Set(Array.from({ length: 100 }, (_, i) => i)),
    counters: new Map(Array.from({ length: 100 }, (_, i) => [`k${i}`, i])),
    bytes: new Uint8Array(8192),
  };
}

const initial = (): Data => ({
  count: 0,
  cart: { items: [] },
  history: [],
  seen: new Set(),
  counters: new Map(),
  bytes: new Uint8Array(0),
});

type Handler = (session: Data) => void | Promise<void>;

/** Each backend with a fresh stored session under key "7"; `close` frees it. */
async function backends(): Promise<
  Array<{ name: string; storage: VersionedStorage; close(): Promise<void> }>
> {
  const dir = await Deno.makeTempDir({ prefix: "gramio-session-large-" });
  const kv = await Deno.openKv(`${dir}/sessions.db`);
  const memory = inMemoryStorage();
  const onKv = denoKvStorage(kv);
  await memory.set("7", stored());
  await onKv.set("7", stored());
  return [
    { name: "memory", storage: memory, close: () => Promise.resolve() },
    {
      name: "deno kv",
      storage: onKv,
      close: async () => {
        kv.close();
        await Deno.remove(dir, { recursive: true });
      },
    },
  ];
}

/** One update of user 7 through a real bot; `writes`: whether the stored version moved. */
async function run(storage: VersionedStorage, handler: Handler, options = {}) {
  const before = (await storage.getVersioned("7")).version;
  const bot = testBot()
    .extend(session({ storage, initial, ...options }))
    .on("message", (context) => handler(context.session as unknown as Data));
  await bot.updates.handleUpdate(updates.message(7));
  const after = (await storage.getVersioned("7")).version;
  return { bot, writes: before === after ? 0 : 1, errors: errorsOf(bot) };
}

Deno.test("large fields: read-only updates write nothing; changes anywhere inside are saved", async () => {
  const cases: Array<[string, Handler, (d: Data) => void]> = [
    ["read everything", (s) => void JSON.stringify({ ...s, seen: [...s.seen] }), () => {}],
    ["structuredClone it", (s) => void structuredClone(s), () => {}],
    ["push to the history", (s) => void s.history.push({ id: -1, at: new Date(0), text: "x" }), (
      d,
    ) => d.history.push({ id: -1, at: new Date(0), text: "x" })],
    [
      "a Date inside",
      (s) => void s.history[5].at.setTime(1),
      (d) => void d.history[5].at.setTime(1),
    ],
    ["a Set", (s) => void s.seen.add(1000), (d) => d.seen.add(1000)],
    ["a Map", (s) => void s.counters.set("k3", 33), (d) => d.counters.set("k3", 33)],
    ["a typed array", (s) => void (s.bytes[100] = 7), (d) => d.bytes[100] = 7],
    ["a small field only", (s) => void s.cart.items.push("b"), (d) => d.cart.items.push("b")],
    ["the history replaced by an equal copy", (s) => void (s.history = history()), () => {}],
  ];
  for (const [what, handler, expect] of cases) {
    for (const backend of await backends()) {
      try {
        const { writes, errors } = await run(backend.storage, handler);
        assert.deepEqual(errors, [], `${backend.name}, ${what}`);
        const expected = stored();
        expect(expected);
        const changed =
          JSON.stringify([...expected.seen, ...expected.counters, ...expected.bytes]) !==
            JSON.stringify([...stored().seen, ...stored().counters, ...stored().bytes]) ||
          JSON.stringify(expected) !== JSON.stringify(stored());
        assert.equal(writes, changed ? 1 : 0, `${backend.name}, ${what}: writes`);
        assert.deepEqual(await backend.storage.get("7"), expected, `${backend.name}, ${what}`);
      } finally {
        await backend.close();
      }
    }
  }
});

Deno.test("large fields: a handler that throws after changing them writes nothing", async () => {
  for (const backend of await backends()) {
    try {
      const { writes, errors } = await run(backend.storage, (s) => {
        s.history.length = 0;
        s.count = 100;
        throw new Error("boom");
      });
      assert.equal(errors.length, 1);
      assert.equal(writes, 0, backend.name);
      assert.deepEqual(await backend.storage.get("7"), stored(), backend.name);
    } finally {
      await backend.close();
    }
  }
});

Deno.test("large fields: another instance's change to another field is merged; to the same, a conflict", async () => {
  const storage = inMemoryStorage();
  await storage.set("7", stored());
  const other = sessionStore<Data>({ storage: secondHandle(storage), initial });
  const bot = testBot()
    .extend(session({ storage, initial }))
    .on("message", async (context) => {
      const s = context.session as unknown as Data;
      if (context.text === "count") s.count++;
      else s.history.pop();
      // Meanwhile another instance changes the history.
      await other.update("7", (theirs) => void theirs.history.push(history(1)[0]));
    });
  await bot.updates.handleUpdate(updates.message(7, "count"));
  assert.deepEqual(errorsOf(bot), []);
  const merged = await storage.get("7") as Data;
  assert.equal(merged.count, 2, "ours");
  assert.equal(merged.history.length, 201, "theirs");

  await bot.updates.handleUpdate(updates.message(7, "history"));
  const [error] = errorsOf(bot);
  assert.ok(error instanceof SessionConflictError, String(error));
  assert.deepEqual(error.fields, ["history"]);
});

Deno.test("large fields: $clear() resets them and deletes the record; assignment replaces them", async () => {
  for (const backend of await backends()) {
    try {
      await run(backend.storage, (s) => (s as unknown as Session<Data>).$clear());
      assert.equal(await backend.storage.get("7"), undefined, backend.name);

      await backend.storage.set("7", stored());
      const bot = testBot()
        .extend(session({ storage: backend.storage, initial }))
        .on("message", (context) => {
          context.session = { ...context.session, count: 50 };
        });
      await bot.updates.handleUpdate(updates.message(7));
      assert.deepEqual(errorsOf(bot), []);
      assert.deepEqual(await backend.storage.get("7"), { ...stored(), count: 50 }, backend.name);
    } finally {
      await backend.close();
    }
  }
});

Deno.test("large fields: $clear() then changes in the same update are what is stored", async () => {
  const storage = inMemoryStorage();
  await storage.set("7", stored());
  const bot = testBot()
    .extend(session({ storage, initial }))
    .on("message", async (context) => {
      const s = context.session;
      await s.$clear();
      s.count = 3;
      s.history.push(history(1)[0]);
    });
  await bot.updates.handleUpdate(updates.message(7));
  assert.deepEqual(errorsOf(bot), []);
  assert.deepEqual(await storage.get("7"), { ...initial(), count: 3, history: history(1) });
});

Deno.test("large fields: migrated data is saved even if the handler reads nothing", async () => {
  const storage = inMemoryStorage();
  await storage.set("7", { ...stored(), count: undefined, total: 4 });
  const migrations: Migrations = {
    1: (old: Data & { total: number }) => {
      const { total, ...rest } = old;
      return { ...rest, count: total };
    },
  };
  const bot = testBot()
    .extend(session({ storage, initial, migrations }))
    .on("message", () => {});
  await bot.updates.handleUpdate(updates.message(7));
  assert.deepEqual(errorsOf(bot), []);
  assert.deepEqual(await storage.get("7"), {
    [ENVELOPE_MARK]: 1,
    version: 1,
    data: { ...stored(), count: 4 },
  });
});

Deno.test("large fields: nothing is shared between users, updates, or work left after an update", async () => {
  const storage = inMemoryStorage();
  await storage.set("7", stored());
  const big = history();
  let kept: Entry[] | undefined;
  let late: Promise<unknown> | undefined;
  const bot = testBot()
    .extend(session({ storage, initial: () => ({ ...initial(), history: big }) }))
    .on("message", (context) => {
      const s = context.session as unknown as Data;
      if (context.text === "keep") kept = s.history;
      if (context.text === "late") {
        late = new Promise((resolve) => setTimeout(resolve, 0)).then(() => {
          const after = context.session as unknown as Data;
          after.history.pop(); // after the update: reported, never saved
          return after.history.length;
        });
      }
      s.count++;
    });
  await bot.updates.handleUpdate(updates.message(7, "keep"));
  kept!.length = 0; // a reference kept past its update changes nothing stored
  await bot.updates.handleUpdate(updates.message(8)); // a new user from initial()
  await bot.updates.handleUpdate(updates.message(9));
  (await storage.get("8") as Data).history.pop();
  await bot.updates.handleUpdate(updates.message(7, "late"));
  assert.equal(await late, 199, "late use sees the session as the update left it");
  await new Promise((resolve) => setTimeout(resolve, 0)); // the report is made outside the chain
  const errors = errorsOf(bot);
  assert.equal(errors.length, 1, Deno.inspect(errors));
  assert.ok(errors[0] instanceof SessionError && /after its update/.test(errors[0].message));
  assert.equal((await storage.get("7") as Data).history.length, 200);
  assert.equal((await storage.get("7") as Data).count, 3);
  assert.equal((await storage.get("8") as Data).history.length, 200);
  assert.equal((await storage.get("9") as Data).history.length, 200);
  assert.equal(big.length, 200, "initial()'s value is never changed");
});

Deno.test("large fields: lazy sessions and sessionStore see plain data", async () => {
  const storage = inMemoryStorage();
  await storage.set("7", stored());
  const bot = testBot()
    .extend(session({ storage, initial, lazy: true }))
    .on("message", async (context) => {
      const s = await context.session as unknown as Data;
      s.history[0].text = "edited";
    });
  await bot.updates.handleUpdate(updates.message(7));
  assert.deepEqual(errorsOf(bot), []);
  const read = await sessionStore<Data>({ storage, initial }).get("7");
  assert.equal(read!.history[0].text, "edited");
  assert.equal(typeof Object.getOwnPropertyDescriptor(read, "history")!.value, "object");
});

Deno.test("large fields reach handlers as accessors, small ones as copies; in memory every object field is an accessor", async () => {
  for (const backend of await backends()) {
    try {
      let kinds: string[] = [];
      await run(backend.storage, (s) => {
        kinds = ["count", "cart", "history"].map((key) =>
          Object.getOwnPropertyDescriptor(s, key)!.get ? "accessor" : "data"
        );
      });
      // In memory the stored objects are copied only when read, whatever their size.
      const want = backend.name === "memory" ? "accessor" : "data";
      assert.deepEqual(kinds, ["data", want, "accessor"], backend.name);
    } finally {
      await backend.close();
    }
  }
});

/** Freezes everything `value` reaches: a change to it then throws (modules are strict). */
function deepFreeze(value: unknown, seen = new Set<unknown>()): void {
  if (typeof value !== "object" || value === null || seen.has(value)) return;
  seen.add(value);
  if (value instanceof Map) {
    for (const [k, v] of value) {
      deepFreeze(k, seen), deepFreeze(v, seen);
    }
  }
  if (value instanceof Set) { for (const v of value) deepFreeze(v, seen); }
  // Typed arrays with elements cannot be frozen; the others can.
  if (!ArrayBuffer.isView(value)) Object.freeze(value);
  for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key], seen);
}

Deno.test("in memory, the stored objects handed to the plugin are never changed, whatever handlers do", async () => {
  const handlers: Array<(s: Session<Data>) => unknown> = [
    (s) => void s.count,
    (s) => void s.history.push(history(1)[0]),
    (s) => void (s.history[0].text = "x"),
    (s) => void s.counters.set("k1", 5),
    (s) => void s.seen.clear(),
    (s) => void (s.cart.items.length = 0),
    (s) => void delete (s as Partial<Data>).history,
    (s) => void structuredClone(s),
    (s) => s.$clear(),
    (s) => void Object.assign(s, { ...stored(), count: 9 }),
  ];
  const small = () => ({ count: 1, cart: { items: ["a"] }, history: history(2) });
  const cases = [
    ...handlers.map((handler) => [stored, handler] as const),
    ...handlers.slice(0, 3).map((handler) => [small, handler] as const),
  ];
  for (const [index, [make, handler]] of cases.entries()) {
    const storage = inMemoryStorage();
    storage.set("7", make());
    // The stored object itself: frozen, any change the plugin made to it would throw.
    const frozen = storedObjectsOf(storage)!.read("7").value;
    deepFreeze(frozen);
    const bot = testBot()
      .extend(session({ storage, initial }))
      .on("message", (context) => handler(context.session as unknown as Session<Data>));
    await bot.updates.handleUpdate(updates.message(7));
    await bot.updates.handleUpdate(updates.message(7));
    assert.deepEqual(errorsOf(bot), [], `handler ${index}`);
    assert.deepEqual(structuredClone(frozen), structuredClone(make()), `handler ${index}`);
  }
});

Deno.test("in memory, an update copies only what its handlers read, and saves only the fields that changed", async () => {
  const storage = inMemoryStorage();
  storage.set("7", stored());
  const objects = storedObjectsOf(storage)!;
  const before = objects.read("7").value as Data;
  assert.equal(objects.read("7").shape, "tree");
  let cartAsRead: Data["cart"] | undefined;
  const { errors } = await run(storage, (s) => {
    void s.history.length; // read, unchanged
    cartAsRead = s.cart;
    s.cart.items.push("b");
  });
  assert.deepEqual(errors, []);
  const after = objects.read("7").value as Data;
  assert.notEqual(after, before, "a new stored object");
  assert.equal(after.history, before.history, "read and unchanged: the stored object, not a copy");
  assert.equal(after.seen, before.seen, "never read: the stored object");
  assert.notEqual(after.cart, before.cart);
  assert.notEqual(after.cart, cartAsRead, "changed: a copy, not the object the handler holds");
  assert.deepEqual(after.cart, { items: ["a", "b"] });
  assert.deepEqual(before.cart, { items: ["a"] }, "the old stored object is never changed");
  assert.equal(objects.read("7").shape, "tree");
  // A handler that makes the changed field share an object with another:
  // the fields read are copied together and the sharing is kept.
  await run(storage, (s) => {
    (s.cart as unknown as { last: Entry }).last = s.history[0];
  });
  const shared = objects.read("7");
  assert.equal(shared.shape, "tangled");
  const value = shared.value as Data & { cart: { last: Entry } };
  assert.equal(value.cart.last, value.history[0]);
  const next = await run(storage, (s) => {
    const read = s as unknown as typeof value;
    assert.equal(read.cart.last, read.history[0], "read back shared");
  });
  assert.deepEqual(next.errors, []);
});

Deno.test("console.log(ctx.session) shows field values, not [Getter/Setter] (Deno and node:util inspection)", async () => {
  const { inspect } = await import("node:util");
  for (const backend of await backends()) {
    try {
      let shown: string[] = [];
      await run(backend.storage, (s) => {
        shown = [Deno.inspect(s, { depth: 4 }), inspect(s, { depth: 4 })];
      });
      for (const text of shown) {
        assert.doesNotMatch(text, /Getter|Setter/, backend.name);
        assert.match(text, /items: \[ "a" \]|items: \[ 'a' \]/, backend.name);
        assert.match(text, /entry 0/, backend.name);
      }
    } finally {
      await backend.close();
    }
  }
});
