/**
 * The guarantees "a handler that throws writes nothing" and "late work cannot
 * change stored data" on a storage that hands out and keeps live objects
 * (README's `Map` storage, `@gramio/storage`'s in-memory one).
 */
import assert from "node:assert/strict";
import { session, type Storage } from "../mod.ts";
import { returnsCopies } from "../src/returns_copies.ts";
import { denoKvStorage } from "../src/storages/denokv/mod.ts";
import { inMemoryStorage } from "../src/storages/memory.ts";
import { redisStorage } from "../redis.ts";
import { errorsOf, testBot, updates } from "./support/bot.ts";

/** README's "Any other storage" example, as written there. */
function readmeMapStorage(): { storage: Storage; map: Map<string, unknown> } {
  const map = new Map<string, unknown>();
  const storage: Storage = {
    get: (key) => map.get(key),
    set: (key, value) => void map.set(key, value),
    has: (key) => map.has(key),
    delete: (key) => map.delete(key),
  };
  return { storage, map };
}

interface Profile {
  count: number;
  tags: string[];
}

Deno.test("a Map storage: a handler that changes its session and throws writes nothing", async () => {
  const { storage, map } = readmeMapStorage();
  let fail = false;
  const bot = testBot()
    .extend(session({ storage, initial: (): Profile => ({ count: 0, tags: [] }) }))
    .on("message", (ctx) => {
      ctx.session.count++;
      ctx.session.tags.push(`update ${ctx.session.count}`);
      if (fail) throw new Error("handler failed");
    });
  await bot.updates.handleUpdate(updates.message(1));
  assert.deepEqual(map.get("1"), { count: 1, tags: ["update 1"] });

  fail = true;
  await bot.updates.handleUpdate(updates.message(1));
  assert.equal(errorsOf(bot).length, 1);
  assert.deepEqual(
    map.get("1"),
    { count: 1, tags: ["update 1"] },
    "the failed update left no trace",
  );
});

Deno.test("a Map storage: work a handler did not await cannot change what was stored", async () => {
  const { storage, map } = readmeMapStorage();
  let kept: Profile | undefined;
  const bot = testBot()
    .extend(session({ storage, initial: (): Profile => ({ count: 0, tags: [] }) }))
    .on("message", (ctx) => {
      ctx.session.count++;
      kept = ctx.session;
    });
  await bot.updates.handleUpdate(updates.message(2));
  await bot.updates.handleUpdate(updates.message(2));
  // The update is over; a forgotten timer changes the object it kept.
  kept!.count = 100;
  kept!.tags.push("late");
  assert.deepEqual(map.get("2"), { count: 2, tags: [] });
  await bot.updates.handleUpdate(updates.message(2));
  assert.deepEqual(map.get("2"), { count: 3, tags: [] });
  assert.deepEqual(errorsOf(bot), []);
});

Deno.test("the built-in storages are marked as returning copies; wrappers and others are not", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    assert.equal(returnsCopies(inMemoryStorage()), true);
    assert.equal(returnsCopies(denoKvStorage(kv)), true);
    const client = { call: () => Promise.resolve(null) };
    assert.equal(returnsCopies(redisStorage(client)), true);
    assert.equal(returnsCopies(readmeMapStorage().storage), false);
    const memory = inMemoryStorage();
    assert.equal(returnsCopies({ ...memory }), false, "a copy of its methods is another storage");
  } finally {
    kv.close();
  }
});
