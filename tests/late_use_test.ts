/**
 * Use of `ctx.session` after its update ended (a handler that did not await its
 * work): reported once, never saved, never a crash or a hang; lazy sessions
 * read late are Promises of what the update left.
 * Each of these once lost data, hung, or misreported.
 */
import assert from "node:assert/strict";
import { inMemoryStorage, session, SessionError } from "../mod.ts";
import { errorsOf, testBot, updates, within } from "./support/bot.ts";

Deno.test("a lazy session first used after its update ended is read without a lock, reported, never saved", async () => {
  const storage = inMemoryStorage();
  let late: Promise<unknown> | undefined;
  const bot = testBot()
    .extend(session({ storage, lazy: true, initial: () => ({ n: 0 }) }))
    .on("message", async (context) => {
      if (context.text === "background") {
        // Not awaited: runs after the update is over.
        late = new Promise((resolve) => setTimeout(resolve, 0)).then(() => context.session);
        return;
      }
      (await context.session).n++;
    });
  await bot.updates.handleUpdate(updates.message(1, "background"));
  const value = await late! as { n: number };
  assert.deepEqual({ ...value }, { n: 0 });
  value.n = 50; // not saved
  const [error] = errorsOf(bot);
  assert.ok(error instanceof SessionError && /after its update/.test(error.message));
  await within(bot.updates.handleUpdate(updates.message(1, "next")));
  assert.deepEqual(await storage.get("1"), { n: 1 });
});

Deno.test("an eager session read or assigned after its update ended is reported, not thrown, and saves nothing", async () => {
  const storage = inMemoryStorage();
  const late: Promise<unknown>[] = [];
  const afterTheUpdate = () => new Promise((resolve) => setTimeout(resolve, 0));
  const bot = testBot()
    .extend(session({ storage, initial: () => ({ n: 0 }) }))
    .on("message", (context) => {
      late.push(
        afterTheUpdate().then(() => context.session.n++),
        afterTheUpdate().then(() => {
          (context as unknown as { session: object }).session = { n: 99 };
        }),
      );
    });
  await bot.updates.handleUpdate(updates.message(11));
  assert.equal(late.length, 2);
  await Promise.all(late); // neither throws: in a timer, a throw would end the process
  const errors = errorsOf(bot);
  assert.equal(errors.length, 1, "reported once per update");
  assert.ok(errors[0] instanceof SessionError && /after its update/.test(errors[0].message));
  assert.equal(await storage.has("11"), false);
});

Deno.test("a lazy session read after its update ended is a Promise of the session as the update left it", async () => {
  let late: unknown;
  const bot = testBot()
    .extend(session({ storage: inMemoryStorage(), lazy: true, initial: () => ({ n: 0 }) }))
    .on("message", async (context) => {
      (await context.session).n++;
      // Not awaited: runs after the update is over.
      late = new Promise((resolve) => setTimeout(resolve, 0)).then(() => ({
        session: context.session,
      }));
    });
  await bot.updates.handleUpdate(updates.message(14));
  const { session: value } = await (late as Promise<{ session: unknown }>);
  assert.ok(value instanceof Promise);
  assert.deepEqual({ ...await value }, { n: 1 });
  assert.match(String(errorsOf(bot)[0]), /after its update/);
});

Deno.test("late use is still noticed when the update object is handled again or frozen", async () => {
  const storage = inMemoryStorage();
  const contexts: { session: { n: number } }[] = [];
  const bots: object[] = [];
  const withSession = () => {
    const bot = testBot()
      .extend(session({ storage, initial: () => ({ n: 0 }) }))
      .on("message", (context) => void contexts.push(context));
    bots.push(bot);
    return bot;
  };
  const shared = updates.message(15);
  await withSession().updates.handleUpdate(shared);
  await withSession().updates.handleUpdate(shared); // the same object, another bot
  await withSession().updates.handleUpdate(Object.freeze(updates.message(15)));
  assert.equal(contexts.length, 3);
  for (const context of contexts) {
    context.session.n++;
    context.session = { n: 99 };
  }
  await new Promise((resolve) => setTimeout(resolve, 0)); // onError hooks run asynchronously
  for (const bot of bots) {
    assert.equal(errorsOf(bot).length, 1);
    assert.match(String(errorsOf(bot)[0]), /after its update/);
  }
  assert.equal(await storage.has("15"), false);
});

Deno.test("reading a lazy session late without awaiting it does not crash the process", async () => {
  let late: Promise<void> | undefined;
  const bot = testBot()
    .extend(session({ storage: inMemoryStorage(), lazy: true, initial: () => ({ n: 0 }) }))
    .on("message", (context) => {
      late = new Promise<void>((resolve) => setTimeout(resolve, 0)).then(() => {
        void context.session; // a rejected Promise nobody awaits
      });
    });
  await bot.updates.handleUpdate(updates.message(16));
  await late;
  // An unhandled rejection would fail this test (Deno reports it).
  await new Promise((resolve) => setTimeout(resolve, 0));
});
