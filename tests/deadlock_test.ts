/**
 * Deadlocks between updates waiting for each other's sessions (through
 * sessionStore or two lazy sessions): the lock table finds the cycle and
 * refuses one wait, so nothing hangs and nothing is lost.
 * Each of these once lost data, hung, or misreported.
 */
import assert from "node:assert/strict";
import { inMemoryStorage, session, sessionStore } from "../mod.ts";
import { errorsOf, gate, testBot, updates, within } from "./support/bot.ts";

Deno.test("two updates changing each other's session through sessionStore: refused, not deadlocked", async () => {
  const options = { storage: inMemoryStorage(), initial: () => ({ coins: 10 }) };
  const store = sessionStore(options);
  const bothInside = gate();
  let inside = 0;
  const bot = testBot()
    .extend(session(options))
    .on("message", async (context) => {
      context.session.coins--;
      if (++inside === 2) bothInside.open();
      await bothInside.promise;
      await store.update(context.text!, (s) => void s.coins++); // pay the other user
    });
  await within(Promise.all([
    bot.updates.handleUpdate(updates.message(1, "2")),
    bot.updates.handleUpdate(updates.message(2, "1")),
  ]));
  const errors = errorsOf(bot);
  assert.equal(errors.length, 1);
  assert.match((errors[0] as Error).message, /Deadlock avoided/);
  // The refused update saved nothing; the other one paid: no coin was lost or made.
  const total = (await store.get("1"))!.coins + (await store.get("2"))!.coins;
  assert.equal(total, 20);
});

Deno.test("an update waiting for two sessions at once still has its deadlocks caught", async () => {
  // A holds "1" and waits for "3" and "2" at once; B holds "3" and asks for "1";
  // C holds "2". Only the wait A registered first closes the cycle with B.
  const options = { storage: inMemoryStorage(), initial: () => ({ n: 0 }) };
  const store = sessionStore(options);
  const allInside = gate();
  const aWaits = gate();
  const bAsked = gate();
  let inside = 0;
  const bot = testBot()
    .extend(session(options))
    .on("message", async (context) => {
      if (++inside === 3) allInside.open();
      await allInside.promise;
      if (context.senderId === 1) {
        const both = Promise.all([store.get("3"), store.get("2")]);
        aWaits.open();
        await both;
      } else if (context.senderId === 3) {
        await aWaits.promise;
        try {
          await store.get("1");
        } finally {
          bAsked.open();
        }
      } else {
        await bAsked.promise;
      }
    });
  await within(
    Promise.all([1, 3, 2].map((user) => bot.updates.handleUpdate(updates.message(user)))),
  );
  const errors = errorsOf(bot);
  assert.equal(errors.length, 1);
  assert.match((errors[0] as Error).message, /Deadlock avoided.*cycle: 1 -> 3/);
});

Deno.test("asking twice for a session this update already waits for is refused, not hung", async () => {
  const options = { storage: inMemoryStorage(), initial: () => ({ n: 0 }) };
  const store = sessionStore(options);
  const holderInside = gate();
  const done = gate();
  const bot = testBot()
    .extend(session(options))
    .on("message", async (context) => {
      if (context.senderId === 2) {
        holderInside.open();
        return await done.promise; // holds "2" until the other update is through
      }
      await holderInside.promise;
      const first = store.get("2");
      try {
        await store.get("2");
      } finally {
        done.open();
        await first;
      }
    });
  await within(Promise.all([2, 1].map((user) => bot.updates.handleUpdate(updates.message(user)))));
  const errors = errorsOf(bot);
  assert.equal(errors.length, 1);
  assert.match((errors[0] as Error).message, /already held by this update/);
});

Deno.test("two lazy sessions awaited in opposite orders by two updates: refused, not deadlocked", async () => {
  const storage = inMemoryStorage();
  const bothInside = gate();
  let inside = 0;
  const bot = testBot()
    .extend(session({ storage, lazy: true, initial: () => ({ n: 0 }) }))
    .extend(session({
      key: "chatSession",
      storage,
      lazy: true,
      getSessionKey: (ctx) => `chat:${ctx.chatId}`,
      initial: () => ({ n: 0 }),
    }))
    .on("message", async (context) => {
      const first = context.text === "user-first" ? context.session : context.chatSession;
      (await first).n++;
      if (++inside === 2) bothInside.open();
      await bothInside.promise;
      const second = context.text === "user-first" ? context.chatSession : context.session;
      (await second).n++;
    });
  await within(Promise.all([
    bot.updates.handleUpdate(updates.message(1, "user-first", -100)),
    bot.updates.handleUpdate(updates.message(1, "chat-first", -100)),
  ]));
  assert.equal(errorsOf(bot).length, 1);
  assert.match((errorsOf(bot)[0] as Error).message, /Deadlock avoided/);
  assert.deepEqual(await storage.get("1"), { n: 1 });
  assert.deepEqual(await storage.get("chat:-100"), { n: 1 });
});

Deno.test("sessionStore on the session of the running update fails at once instead of hanging", async () => {
  const options = { storage: inMemoryStorage(), initial: () => ({ n: 0 }) };
  const bot = testBot()
    .extend(session(options))
    .on("message", async (context) => {
      context.session.n++;
      await sessionStore(options).update(String(context.senderId), (s) => void s.n++);
    });
  await within(bot.updates.handleUpdate(updates.message(3)));
  assert.match((errorsOf(bot)[0] as Error).message, /already held by this update/);
});
