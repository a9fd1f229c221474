import assert from "node:assert/strict";
import { Plugin } from "gramio";
import { inMemoryStorage, perChat, session, SessionError } from "../mod.ts";
import { errorsOf, testBot, updates } from "./support/bot.ts";

Deno.test("two session() with the same key on one bot: every update fails with an error naming the key and the fix", async () => {
  let ran = 0;
  const bot = testBot()
    .extend(session({ storage: inMemoryStorage(), initial: () => ({ count: 0 }) }))
    .extend(session({ getSessionKey: perChat, storage: inMemoryStorage(), initial: () => ({}) }))
    .on("message", () => void ran++);
  await bot.updates.handleUpdate(updates.message(1));
  await bot.updates.handleUpdate(updates.message(1));
  assert.equal(ran, 0, "handlers never run on the wrong session");
  const errors = errorsOf(bot) as Error[];
  assert.equal(errors.length, 2);
  assert.ok(errors[0] instanceof SessionError);
  assert.match(errors[0].message, /2 session\(\) plugins with key "session" on one bot/);
  assert.match(errors[0].message, /silently skips/);
  assert.match(errors[0].message, /Give each session\(\) its own key/);
});

Deno.test("the same key twice is found inside a plugin that extends session() too", async () => {
  const feature = new Plugin("feature").extend(
    session({ key: "flow", storage: inMemoryStorage(), initial: () => ({ step: 0 }) }),
  );
  const bot = testBot()
    .extend(session({ key: "flow", storage: inMemoryStorage(), initial: () => ({ step: 1 }) }))
    .extend(feature)
    .on("message", () => {});
  await bot.updates.handleUpdate(updates.message(1));
  assert.match((errorsOf(bot)[0] as Error).message, /with key "flow"/);
});

Deno.test("one session() plugin extended twice, on one bot or on two bots, is not a duplicate", async () => {
  const plugin = session({ storage: inMemoryStorage(), initial: () => ({ count: 0 }) });
  const counts: number[] = [];
  const first = testBot().extend(plugin).extend(plugin)
    .on("message", (context) => void counts.push(++context.session.count));
  const second = testBot().extend(plugin)
    .on("message", (context) => void counts.push(++context.session.count));
  await first.updates.handleUpdate(updates.message(1));
  await second.updates.handleUpdate(updates.message(1));
  await first.updates.handleUpdate(updates.message(1));
  assert.deepEqual([...errorsOf(first), ...errorsOf(second)], []);
  assert.deepEqual(counts, [1, 2, 3]);
});

Deno.test("session() plugins with different keys on one bot both run", async () => {
  const bot = testBot()
    .extend(session({ storage: inMemoryStorage(), initial: () => ({ a: 0 }) }))
    .extend(session({ key: "chatSession", storage: inMemoryStorage(), initial: () => ({ b: 0 }) }))
    .on("message", (context) => void (context.session.a++, context.chatSession.b++));
  await bot.updates.handleUpdate(updates.message(1));
  assert.deepEqual(errorsOf(bot), []);
});
