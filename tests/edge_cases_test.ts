/** Corner cases found in review: each of these once lost data, hung, or misreported. */
import assert from "node:assert/strict";
import { inMemoryStorage, type Migrations, session, SessionError, sessionStore } from "../mod.ts";
import { ENVELOPE_MARK } from "../src/record.ts";
import { errorsOf, gate, secondHandle, testBot, updates, within } from "./support/bot.ts";

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

Deno.test("sessionStore.delete removes records that cannot be read", async () => {
  const storage = inMemoryStorage();
  await storage.set("7", "garbage");
  await storage.set("8", { [ENVELOPE_MARK]: 1, version: 99, data: {} });
  const store = sessionStore({ storage, migrations: { 1: (old: object) => old } });
  await store.delete("7");
  await store.delete("8");
  assert.equal(await storage.has("7"), false);
  assert.equal(await storage.has("8"), false);
});

Deno.test("sessionStore.update resolves to the session as saved, after a merge too", async () => {
  const shared = inMemoryStorage();
  await shared.set("9", { a: 0, b: 0 });
  const other = secondHandle(shared); // another instance: its own lock table
  const result = await sessionStore<{ a: number; b: number }>({ storage: shared }).update(
    "9",
    async (s) => {
      s.a = 1;
      await sessionStore<{ a: number; b: number }>({ storage: other }).update(
        "9",
        (t) => void (t.b = 1),
      );
    },
  );
  assert.deepEqual(result, { a: 1, b: 1 });
  assert.deepEqual(await shared.get("9"), { a: 1, b: 1 });
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
