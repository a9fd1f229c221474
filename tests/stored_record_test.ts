/**
 * The stored record: the data version survives a run without migrations, and
 * user data with a field named like the envelope mark stays data.
 * Each of these once lost data, hung, or misreported.
 */
import assert from "node:assert/strict";
import { inMemoryStorage, type Migrations, session } from "../mod.ts";
import { ENVELOPE_MARK } from "../src/record.ts";
import { errorsOf, testBot, updates } from "./support/bot.ts";

Deno.test("running without migrations keeps the data version, so old migrations never run twice", async () => {
  const storage = inMemoryStorage();
  await storage.set("6", { apples: 2 });
  const first: Migrations = { 1: (old: { apples: number }) => ({ fruit: { apples: old.apples } }) };
  const both: Migrations = { ...first, 2: (old: object) => ({ ...old, pears: 0 }) };
  const run = async (
    migrations: Migrations | undefined,
    change: (s: { fruit: { apples: number } }) => void,
  ) => {
    const bot = testBot()
      .extend(session({ storage, migrations, initial: () => ({ fruit: { apples: 0 } }) }))
      .on("message", (context) => change(context.session));
    await bot.updates.handleUpdate(updates.message(6));
    assert.deepEqual(errorsOf(bot), []);
  };
  await run(first, () => {});
  await run(undefined, (s) => void s.fruit.apples++);
  await run(both, () => {});
  assert.deepEqual(await storage.get("6"), {
    [ENVELOPE_MARK]: 1,
    version: 2,
    data: { fruit: { apples: 3 }, pears: 0 },
  });
});

Deno.test("session data with a field named like the envelope mark is still data", async () => {
  const storage = inMemoryStorage();
  const data = { [ENVELOPE_MARK]: 1, note: "mine" };
  await storage.set("12", data);
  let seen: unknown;
  const bot = testBot()
    .extend(session({ storage, initial: () => ({}) }))
    .on("message", (context) => void (seen = { ...context.session }));
  await bot.updates.handleUpdate(updates.message(12));
  assert.deepEqual(seen, data);
});
