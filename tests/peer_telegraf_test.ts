/**
 * Telegraf's session tests (test/session.js: "must resist session racing"
 * with a sync and an async store), re-expressed for this plugin on a real
 * GramIO bot, plus Telegraf's store contract: a plain `Map` is a store.
 */

import assert from "node:assert/strict";
import { perUserInChat, session } from "../mod.ts";
import type { Storage } from "../src/storage.ts";
import { errorsOf, testBot, updates } from "./support/bot.ts";

/** Yields to other updates a random number of times, like an API call of random latency. */
async function randomLatency(): Promise<void> {
  const turns = Math.floor(Math.random() * 4);
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setTimeout(resolve, 0));
}

/** Telegraf's async store: a Map behind promises, holding copies. */
function asyncStore(map = new Map<string, unknown>()): Storage & { map: Map<string, unknown> } {
  return {
    map,
    get: async (key) => (await randomLatency(), structuredClone(map.get(key))),
    set: async (key, value) => void (await randomLatency(), map.set(key, structuredClone(value))),
    has: (key) => Promise.resolve(map.has(key)),
    delete: (key) => Promise.resolve(map.delete(key)),
  };
}

for (
  const [name, makeStore] of [
    ["a Map as the store (sync, live objects)", () => new Map<string, unknown>()],
    ["an async store", () => asyncStore().map],
  ] as const
) {
  // Telegraf: "must resist session racing (with sync store)" / "(with async store)"
  Deno.test(`Telegraf port: 100 updates of one user at once, ${name}: every increment kept`, async () => {
    const map = makeStore();
    const storage: Storage = name.startsWith("a Map") ? map : asyncStore(map);
    const bot = testBot()
      .use(async (_ctx, next) => {
        await randomLatency();
        return next();
      })
      .extend(session({
        storage,
        getSessionKey: perUserInChat, // Telegraf's default key: from.id:chat.id
        initial: (): { count?: number } => ({}),
      }))
      .use(async (_ctx, next) => {
        await randomLatency();
        return next();
      })
      .on("message", async (ctx) => {
        if (ctx.session.count === undefined) ctx.session = { count: 1 };
        else ctx.session.count++;
        await randomLatency();
      });
    await Promise.all(
      Array.from({ length: 100 }, () => bot.updates.handleUpdate(updates.message(1))),
    );
    assert.deepEqual(errorsOf(bot), []);
    assert.deepEqual([...map.keys()], ["1:1"]);
    assert.deepEqual({ ...map.get("1:1") as object }, { count: 100 });
  });
}

// Telegraf's session writes back even when a middleware threw (partial changes
// persist). Ours never does, also when the store hands out its live objects.
Deno.test("Telegraf port, deliberate difference: a throwing handler leaves a Map store untouched", async () => {
  const map = new Map<string, unknown>([["1:1", { count: 1, list: [1] }]]);
  const bot = testBot()
    .extend(session({
      storage: map,
      getSessionKey: perUserInChat,
      initial: () => ({ count: 0, list: [] as number[] }),
    }))
    .on("message", (ctx) => {
      ctx.session.count++;
      ctx.session.list.push(2);
      throw new Error("middleware failed");
    });
  await bot.updates.handleUpdate(updates.message(1));
  assert.match(String(errorsOf(bot)[0]), /middleware failed/);
  assert.deepEqual(map.get("1:1"), { count: 1, list: [1] });
});

Deno.test("Telegraf port: $clear() then a throw leaves a Map store untouched", async () => {
  const map = new Map<string, unknown>([["1:1", { count: 3 }]]);
  const bot = testBot()
    .extend(session({ storage: map, getSessionKey: perUserInChat, initial: () => ({ count: 0 }) }))
    .on("message", async (ctx) => {
      await ctx.session.$clear();
      throw new Error("after clear");
    });
  await bot.updates.handleUpdate(updates.message(1));
  assert.match(String(errorsOf(bot)[0]), /after clear/);
  assert.deepEqual(map.get("1:1"), { count: 3 });
});

Deno.test("Telegraf port: a session object kept after its update cannot change a Map store", async () => {
  const map = new Map<string, unknown>([["1:1", { count: 3 }]]);
  let kept: { count: number } | undefined;
  const bot = testBot()
    .extend(session({ storage: map, getSessionKey: perUserInChat, initial: () => ({ count: 0 }) }))
    .on("message", (ctx) => {
      kept = ctx.session;
    });
  await bot.updates.handleUpdate(updates.message(1));
  kept!.count = 99;
  assert.deepEqual(errorsOf(bot), []);
  assert.deepEqual(map.get("1:1"), { count: 3 });
});

// Telegraf: `ctx.session = undefined` deletes the stored session.
Deno.test("Telegraf port: assigning undefined deletes the session from a Map store", async () => {
  const map = new Map<string, unknown>([["1:1", { count: 3 }]]);
  const bot = testBot()
    .extend(session({ storage: map, getSessionKey: perUserInChat, initial: () => ({ count: 0 }) }))
    .on("message", (ctx) => {
      ctx.session = undefined;
    });
  await bot.updates.handleUpdate(updates.message(1));
  assert.deepEqual(errorsOf(bot), []);
  assert.equal(map.has("1:1"), false);
});
