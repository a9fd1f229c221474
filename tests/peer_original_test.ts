/**
 * The original @gramio/session plugin's tests (tests/index.test.ts, run with
 * @gramio/test there), re-expressed on a real GramIO bot through
 * `bot.updates.handleUpdate`. Its storage, @gramio/storage's in-memory
 * adapter, keeps the live objects it is given: `liveStorage` (tests/support/bot.ts) does the same.
 */

import assert from "node:assert/strict";
import { inMemoryStorage, session } from "../mod.ts";
import type { Storage } from "../src/storage.ts";
import { countingStorage, errorsOf, liveStorage, testBot, updates } from "./support/bot.ts";

interface TestSession {
  counter: number;
  nested: { value: string; deep: { count: number } };
  items: string[];
}

const testSession = (): TestSession => ({
  counter: 0,
  nested: { value: "test", deep: { count: 0 } },
  items: [],
});

/** Sends text messages from `user`, one after another. */
async function send(bot: ReturnType<typeof testBot>, user: number, ...texts: string[]) {
  for (const text of texts) await bot.updates.handleUpdate(updates.message(user, text));
}

// original: "should initialize session with initial data"
Deno.test("original port: a new user's session is initial()", async () => {
  let seen: TestSession | undefined;
  const bot = testBot()
    .extend(session({ storage: inMemoryStorage(), initial: testSession }))
    .on("message", (ctx) => void (seen = ctx.session));
  await send(bot, 1, "test");
  assert.deepEqual(errorsOf(bot), []);
  assert.deepEqual({ ...seen }, testSession());
});

// original: "should persist session data across messages", "should separate
// sessions by senderId", "should maintain independent sessions for different users"
Deno.test("original port: counters persist per sender, interleaved", async () => {
  const storage = liveStorage();
  const bot = testBot()
    .extend(session({ storage, initial: () => ({ counter: 0 }) }))
    .on("message", (ctx) => void ctx.session.counter++);
  for (const user of [123, 456, 789, 123, 456, 789, 123]) await send(bot, user, "msg");
  assert.deepEqual(errorsOf(bot), []);
  assert.deepEqual(storage.map.get("123"), { counter: 3 });
  assert.deepEqual(storage.map.get("456"), { counter: 2 });
  assert.deepEqual(storage.map.get("789"), { counter: 2 });
});

// original: "should use custom session key"
Deno.test("original port: a custom key property; ctx.session stays undefined", async () => {
  let custom: unknown;
  let plain: unknown = "not read";
  const bot = testBot()
    .extend(
      session({ key: "mySession", storage: inMemoryStorage(), initial: () => ({ value: 42 }) }),
    )
    .on("message", (ctx) => {
      custom = ctx.mySession;
      plain = (ctx as unknown as { session?: unknown }).session;
    });
  await send(bot, 1, "test");
  assert.deepEqual(errorsOf(bot), []);
  assert.deepEqual({ ...custom as object }, { value: 42 });
  assert.equal(plain, undefined);
});

// original: nested object, array, nested array modifications; property deletion (flat and nested)
Deno.test("original port: nested, array and deletion changes are all saved", async () => {
  const storage = liveStorage();
  const bot = testBot()
    .extend(session({
      storage,
      initial: () => ({
        ...testSession(),
        matrix: [[1, 2], [3, 4]],
        remove: "toDelete" as string | undefined,
        data: { keep: "value", remove: "toDelete" as string | undefined },
      }),
    }))
    .on("message", (ctx) => {
      ctx.session.nested.value = "updated";
      ctx.session.nested.deep.count++;
      ctx.session.items.push("item");
      ctx.session.matrix[0][0] = 99;
      delete ctx.session.remove;
      delete ctx.session.data.remove;
    });
  await send(bot, 123, "first", "second");
  assert.deepEqual(errorsOf(bot), []);
  assert.deepEqual(storage.map.get("123"), {
    counter: 0,
    nested: { value: "updated", deep: { count: 2 } },
    items: ["item", "item"],
    matrix: [[99, 2], [3, 4]],
    data: { keep: "value" },
  });
});

// original: "should clear session data", "should reset to initial state after
// clear", "should handle rapid clear and update operations"
Deno.test("original port: $clear() deletes the record; the next update starts from initial()", async () => {
  const storage = liveStorage();
  const captured: unknown[] = [];
  const bot = testBot()
    .extend(session({
      storage,
      initial: (): TestSession => ({
        counter: 100,
        nested: { value: "initial", deep: { count: 50 } },
        items: ["initial"],
      }),
    }))
    .on("message", async (ctx) => {
      if (ctx.text === "clear") await ctx.session.$clear();
      else if (ctx.text === "check") captured.push(structuredClone({ ...ctx.session }));
      else {
        ctx.session.counter = 999;
        ctx.session.nested.value = "modified";
        ctx.session.items = ["modified"];
      }
    });
  await send(bot, 123, "modify");
  assert.equal((storage.map.get("123") as TestSession).counter, 999);
  await send(bot, 123, "clear");
  assert.equal(storage.map.has("123"), false);
  await send(bot, 123, "check");
  assert.equal(storage.map.has("123"), false, "a read-only update stores nothing");
  await send(bot, 123, "modify", "clear", "modify");
  assert.deepEqual(errorsOf(bot), []);
  assert.deepEqual(captured, [{
    counter: 100,
    nested: { value: "initial", deep: { count: 50 } },
    items: ["initial"],
  }]);
  assert.deepEqual(storage.map.get("123"), {
    counter: 999,
    nested: { value: "modified", deep: { count: 50 } },
    items: ["modified"],
  });
});

// original: "should work with custom storage", "should use custom getSessionKey"
Deno.test("original port: an async custom storage and a custom key", async () => {
  const dataMap = new Map<string, unknown>();
  const customStorage: Storage = {
    get: (key) => Promise.resolve(dataMap.get(key)),
    set: (key, value) => Promise.resolve(void dataMap.set(key, value)),
    has: (key) => Promise.resolve(dataMap.has(key)),
    delete: (key) => Promise.resolve(dataMap.delete(key)),
  };
  const bot = testBot()
    .extend(session({
      storage: customStorage,
      getSessionKey: (ctx) => `custom:${ctx.senderId}`,
      initial: () => ({ counter: 0 }),
    }))
    .on("message", (ctx) => void ctx.session.counter++);
  await send(bot, 123, "first");
  assert.deepEqual(dataMap.get("custom:123"), { counter: 1 });
  await send(bot, 123, "second");
  assert.deepEqual(errorsOf(bot), []);
  assert.deepEqual(dataMap.get("custom:123"), { counter: 2 });
});

// original: "should reuse proxies for the same object", "deeply nested proxy
// caching", "should prevent proxy stacking for arrays", "should reuse array
// proxies": the same object on every access, one save for 100 changes.
Deno.test("original port: nested values are the same object on every access; 100 pushes, one save", async () => {
  const storage = countingStorage(inMemoryStorage());
  const seenArrays = new Set<unknown>();
  let sameNested = false;
  const bot = testBot()
    .extend(session({ storage, initial: () => ({ ...testSession(), items: ["a", "b", "c"] }) }))
    .on("message", (ctx) => {
      sameNested = ctx.session.nested === ctx.session.nested &&
        ctx.session.nested.deep === ctx.session.nested.deep;
      for (let i = 0; i < 100; i++) {
        const items = ctx.session.items;
        seenArrays.add(items);
        items.push(`item${i}`);
      }
    });
  await send(bot, 123, "test");
  assert.deepEqual(errorsOf(bot), []);
  assert.equal(sameNested, true);
  assert.equal(seenArrays.size, 1);
  assert.equal(storage.calls.set + storage.calls.setIfVersion, 1);
  assert.equal(((await storage.get("123")) as TestSession).items.length, 103);
});

// original: "should handle null values", "should handle empty initial state",
// "should handle modifying all session properties"
Deno.test("original port: null fields, no initial option, whole-session edits", async () => {
  const storage = liveStorage();
  const values: unknown[] = [];
  const bot = testBot()
    .extend(session({
      storage,
      initial: () => ({ value: null as string | null, counter: 0, name: "test" }),
    }))
    .on("message", (ctx) => {
      if (ctx.text === "set") ctx.session.value = "not null";
      if (ctx.text === "reset") {
        ctx.session.counter = 100;
        ctx.session.name = "reset";
      } else ctx.session.counter++;
      values.push(ctx.session.value);
    });
  await send(bot, 123, "check", "set", "reset", "inc");
  assert.deepEqual(values, [null, "not null", "not null", "not null"]);
  assert.deepEqual(storage.map.get("123"), { value: "not null", counter: 101, name: "reset" });

  const bare = liveStorage();
  const bot2 = testBot()
    .extend(session({ storage: bare }))
    .on("message", (ctx) => void (ctx.session.dynamic = "value"));
  await send(bot2, 123, "test");
  assert.deepEqual(errorsOf(bot), []);
  assert.deepEqual(errorsOf(bot2), []);
  assert.deepEqual(bare.map.get("123"), { dynamic: "value" });
});

// original: "should work with callback_query events"
Deno.test("original port: callback queries share the sender's session", async () => {
  const storage = liveStorage();
  const bot = testBot()
    .extend(session({ storage, initial: () => ({ counter: 0 }) }))
    .on("callback_query", (ctx) => void ctx.session.counter++);
  await bot.updates.handleUpdate(updates.callbackQuery(123, "button1"));
  await bot.updates.handleUpdate(updates.callbackQuery(123, "button2"));
  assert.deepEqual(errorsOf(bot), []);
  assert.deepEqual(storage.map.get("123"), { counter: 2 });
});

// original lazy: "lazy vs eager loading", "should load session when accessed",
// "should cache loaded session", "$clear in lazy mode", "nested modifications
// in lazy mode", "different users in lazy mode"
Deno.test("original port, lazy: loaded once when awaited, never otherwise; $clear; nested; per user", async () => {
  const storage = countingStorage(inMemoryStorage());
  let same = false;
  const bot = testBot()
    .extend(session({
      storage,
      lazy: true,
      initial: () => ({ counter: 0, nested: { value: "initial" }, items: [] as string[] }),
    }))
    .on("message", async (ctx) => {
      if (ctx.text === "no-session") return;
      const s1 = await ctx.session;
      const s2 = await ctx.session;
      same = s1 === s2;
      if (ctx.text === "clear") return s1.$clear();
      s1.counter++;
      s1.nested.value = "modified";
      s1.items.push("item");
    });
  await send(bot, 999, "no-session");
  assert.equal(storage.calls.getVersioned + storage.calls.get, 0);
  await send(bot, 123, "use");
  assert.equal(storage.calls.getVersioned + storage.calls.get, 1);
  assert.equal(same, true);
  await send(bot, 456, "use");
  await send(bot, 123, "use");
  assert.deepEqual(await storage.get("123"), {
    counter: 2,
    nested: { value: "modified" },
    items: ["item", "item"],
  });
  assert.deepEqual(await storage.get("456"), {
    counter: 1,
    nested: { value: "modified" },
    items: ["item"],
  });
  await send(bot, 123, "clear");
  assert.deepEqual(errorsOf(bot), []);
  assert.equal(await storage.get("123"), undefined);
});

// original: "should handle sequential nested object modifications"
Deno.test("original port: sequential pushes keep their order", async () => {
  const storage = liveStorage();
  const bot = testBot()
    .extend(session({ storage, initial: () => ({ items: [] as string[] }) }))
    .on("message", (ctx) => void ctx.session.items.push(ctx.text ?? "item"));
  await send(bot, 123, "item1", "item2", "item3");
  assert.deepEqual(errorsOf(bot), []);
  assert.deepEqual(storage.map.get("123"), { items: ["item1", "item2", "item3"] });
});
