/**
 * `$clear()` is deferred to the save: a handler that throws after it leaves the
 * stored session as it was.
 * Each of these once lost data, hung, or misreported.
 */
import assert from "node:assert/strict";
import { inMemoryStorage, session } from "../mod.ts";
import { errorsOf, testBot, updates } from "./support/bot.ts";

Deno.test("$clear() then a throwing handler leaves the stored session as it was", async () => {
  const storage = inMemoryStorage();
  await storage.set("5", { n: 7 });
  const bot = testBot()
    .extend(session({ storage, initial: () => ({ n: 0 }) }))
    .on("message", async (context) => {
      await context.session.$clear();
      throw new Error("after clear");
    });
  await bot.updates.handleUpdate(updates.message(5));
  assert.equal((errorsOf(bot)[0] as Error).message, "after clear");
  assert.deepEqual(await storage.get("5"), { n: 7 });
});
