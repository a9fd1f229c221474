import assert from "node:assert/strict";
import { session } from "../mod.ts";
import { entryCount, inMemoryStorage } from "../src/storages/memory.ts";
import { errorsOf, testBot, updates } from "./support/bot.ts";

Deno.test("inMemoryStorage releases expired sessions nobody reads again, a few per write", async () => {
  let now = 0;
  const clock = () => now;
  const storage = inMemoryStorage({ clock });
  const bot = testBot()
    .extend(session({ storage, ttl: 1000, clock, initial: () => ({ n: 0 }) }))
    .on("message", (ctx) => void ctx.session.n++);

  // 2,000 users write once and never come back.
  for (let user = 1; user <= 2000; user++) await bot.updates.handleUpdate(updates.message(user));
  assert.equal(entryCount(storage), 2000);

  // Their ttl runs out; one active user keeps writing.
  now = 5000;
  for (let i = 0; i < 1001; i++) await bot.updates.handleUpdate(updates.message(9999));
  assert.deepEqual(errorsOf(bot), []);
  assert.equal(entryCount(storage), 1, "every expired session released without being read");

  // A steady stream of new users keeps the count flat: at most two ttl windows of them.
  let user = 10_000;
  for (let round = 0; round < 10; round++) {
    now += 1000;
    for (let i = 0; i < 500; i++) await bot.updates.handleUpdate(updates.message(user++));
    assert.ok(entryCount(storage) <= 1001 + 500, `round ${round}: ${entryCount(storage)} entries`);
  }
  const keys: string[] = [];
  for await (const key of storage.keys()) keys.push(key);
  assert.equal(keys.length, 500, "only the last window is live");
});

Deno.test("inMemoryStorage without ttl never reads the clock on writes", async () => {
  let reads = 0;
  const storage = inMemoryStorage({ clock: () => (reads++, 0) });
  for (let i = 0; i < 100; i++) await storage.set(`k${i}`, { n: i });
  assert.equal(reads, 0);
  assert.equal(entryCount(storage), 100);
});
