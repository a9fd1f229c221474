/**
 * Which changes of a handler reach storage: a replacement that prints like the
 * old value, and changes to an assigned frozen constant (saved through a copy).
 * Each of these once lost data, hung, or misreported.
 */
import assert from "node:assert/strict";
import { inMemoryStorage, session } from "../mod.ts";
import { errorsOf, testBot, updates } from "./support/bot.ts";

Deno.test("a string field replaced by an object that prints alike is saved", async () => {
  const storage = inMemoryStorage();
  await storage.set("4", { tags: "[]", when: "D5" });
  const bot = testBot()
    .extend(session({ storage, initial: () => ({ tags: "" as unknown, when: "" as unknown }) }))
    .on("message", (context) => {
      context.session.tags = [];
      context.session.when = new Date(5);
    });
  await bot.updates.handleUpdate(updates.message(4));
  assert.deepEqual(await storage.get("4"), { tags: [], when: new Date(5) });
});

Deno.test("assigning a frozen constant stores a changeable copy of it", async () => {
  const storage = inMemoryStorage();
  const DEFAULTS = Object.freeze({ n: 1 });
  const bot = testBot()
    .extend(session({ storage, initial: () => ({ n: 0 }) }))
    .on("message", (context) => {
      context.session = DEFAULTS;
      context.session.n++;
    });
  await bot.updates.handleUpdate(updates.message(13));
  assert.deepEqual(errorsOf(bot), []);
  assert.deepEqual(await storage.get("13"), { n: 2 });
  assert.deepEqual(DEFAULTS, { n: 1 });
});
