import { setImmediate } from "node:timers";
import assert from "node:assert/strict";
import {
  inMemoryStorage,
  session,
  SessionStorageError,
  sessionStore,
  type VersionedStorage,
} from "../mod.ts";
import {
  countingStorage,
  errorsOf,
  gate,
  testBot,
  totals,
  updates,
  within,
} from "./support/bot.ts";

/** Yields to every other update that is ready to run (a macrotask turn). */
const tick = () => new Promise<void>((resolve) => queueMicrotask(() => setImmediate(resolve)));

for (const lazy of [false, true]) {
  Deno.test(`${lazy ? "lazy" : "eager"}: 1000 concurrent read-await-write updates of one user lose nothing`, async () => {
    const storage = inMemoryStorage();
    const bot = testBot()
      .extend(session({ storage, lazy, initial: () => ({ count: 0 }) }))
      .on("message", async (context) => {
        const s = await context.session;
        const n = s.count;
        await tick(); // another update of this user would run here without the lock
        s.count = n + 1;
      });
    await Promise.all(
      Array.from(
        { length: 1000 },
        () => bot.updates.handleUpdate(updates.message(1)),
      ),
    );
    assert.deepEqual(errorsOf(bot), []);
    assert.deepEqual(await storage.get("1"), { count: 1000 });
  });
}

Deno.test("updates of one user run their session part in arrival order", async () => {
  const storage = inMemoryStorage();
  const bot = testBot()
    .extend(session({ storage, initial: () => ({ seen: [] as string[] }) }))
    .on("message", async (context) => {
      await tick();
      context.session.seen.push(context.text!);
    });
  const texts = Array.from({ length: 20 }, (_, i) => `m${i}`);
  await Promise.all(
    texts.map((text) => bot.updates.handleUpdate(updates.message(2, text))),
  );
  assert.deepEqual((await storage.get("2") as { seen: string[] }).seen, texts);
});

Deno.test("different users are not serialized against each other", async () => {
  const users = 40;
  const barrier = gate();
  let entered = 0;
  const bot = testBot()
    .extend(
      session({ storage: inMemoryStorage(), initial: () => ({ count: 0 }) }),
    )
    .on("message", async (context) => {
      context.session.count++;
      // Every handler waits until all 40 are inside at once: with a global
      // lock only one would ever get here and the test would time out.
      if (++entered === users) barrier.open();
      await barrier.promise;
    });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`only ${entered} of ${users} handlers ran at once`)),
      5000,
    );
  });
  try {
    await Promise.race([
      Promise.all(
        Array.from(
          { length: users },
          (_, i) => bot.updates.handleUpdate(updates.message(100 + i)),
        ),
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
  assert.equal(entered, users);
});

Deno.test("lazy sessions that are never touched take no lock and make no storage call", async () => {
  const storage = countingStorage(inMemoryStorage());
  const holding = gate();
  const bot = testBot()
    .extend(session({ storage, lazy: true, initial: () => ({ count: 0 }) }))
    .command("hold", async (context) => {
      (await context.session).count++;
      await holding.promise;
    })
    .on("message", () => {});
  const held = bot.updates.handleUpdate(
    updates.message(3, "/hold", 3, {
      entities: [{ type: "bot_command", offset: 0, length: 5 }],
    }),
  );
  await tick();
  // The same user, while /hold keeps the session locked: untouched lazy
  // updates finish at once instead of queueing behind it.
  for (let i = 0; i < 3; i++) {
    await bot.updates.handleUpdate(updates.message(3, "plain"));
  }
  assert.deepEqual(totals(storage.calls), { reads: 1, writes: 0, deletes: 0 });
  holding.open();
  await held;
  assert.deepEqual(await storage.get("3"), { count: 1 });
});

Deno.test("bot.stop() waits for sessions being saved", async () => {
  const inner = inMemoryStorage();
  const writing = gate();
  let written = false;
  const slow = {
    ...inner,
    set: async (key: string, value: unknown) => {
      await writing.promise;
      await inner.set(key, value);
      written = true;
    },
  };
  const storage = {
    get: slow.get,
    set: slow.set,
    has: slow.has,
    delete: slow.delete,
  };
  const bot = testBot()
    .extend(session({ storage, initial: () => ({ count: 0 }) }))
    .on("message", (context) => {
      context.session.count++;
    });
  const update = bot.updates.handleUpdate(updates.message(4));
  await tick();
  const stopped = bot.stop().then(() => written);
  await tick();
  assert.equal(written, false);
  writing.open();
  assert.equal(
    await stopped,
    true,
    "stop() resolved only after the save finished",
  );
  await update;
});

Deno.test("two lazy sessions on two storages awaited in opposite orders: refused, not deadlocked", async () => {
  // Each storage object has its own lock table: the cycle runs through both.
  const users = inMemoryStorage();
  const chats = inMemoryStorage();
  const bothInside = gate();
  let inside = 0;
  const bot = testBot()
    .extend(session({ storage: users, lazy: true, initial: () => ({ n: 0 }) }))
    .extend(session({
      key: "chatSession",
      storage: chats,
      lazy: true,
      getSessionKey: (ctx) => String(ctx.chatId),
      initial: () => ({ n: 0 }),
    }))
    .on("message", async (context) => {
      const userFirst = context.text === "user-first";
      (await (userFirst ? context.session : context.chatSession)).n++;
      if (++inside === 2) bothInside.open();
      await bothInside.promise;
      (await (userFirst ? context.chatSession : context.session)).n++;
    });
  await within(Promise.all([
    bot.updates.handleUpdate(updates.message(1, "user-first", -100)),
    bot.updates.handleUpdate(updates.message(1, "chat-first", -100)),
  ]));
  assert.equal(errorsOf(bot).length, 1);
  assert.match((errorsOf(bot)[0] as Error).message, /Deadlock avoided.*cycle: /);
  // The refused update saved nothing; the other saved both.
  assert.deepEqual(await users.get("1"), { n: 1 });
  assert.deepEqual(await chats.get("-100"), { n: 1 });
});

for (const cronFirst of [true, false]) {
  Deno.test(
    `a cron job and an update taking two keys in opposite order (${
      cronFirst ? "the update" : "the cron job"
    } closes the cycle): refused, not deadlocked`,
    async () => {
      const options = { storage: inMemoryStorage(), initial: () => ({ coins: 0 }) };
      const store = sessionStore(options);
      const updateHolds = gate();
      const cronHolds = gate();
      const cronWaits = gate();
      const updateWaits = gate();
      const bot = testBot()
        .extend(session(options))
        .on("message", async (context) => {
          context.session.coins++; // holds "2"
          updateHolds.open();
          await cronHolds.promise;
          if (cronFirst) await cronWaits.promise;
          const asking = store.update("1", (s) => void s.coins++);
          updateWaits.open();
          await asking;
        });
      const handled = bot.updates.handleUpdate(updates.message(2));
      await updateHolds.promise;
      // The cron job, outside updates: holds "1", then asks for "2" inside its callback.
      const cron = store.update("1", async (s) => {
        s.coins += 10;
        cronHolds.open();
        if (!cronFirst) await updateWaits.promise;
        const asking = store.update("2", (t) => void (t.coins += 10));
        cronWaits.open();
        await asking;
      });
      const [cronResult] = await within(Promise.allSettled([cron, handled]));
      if (cronFirst) {
        // The update asked last: it is refused, the cron job goes on.
        assert.equal(cronResult.status, "fulfilled");
        assert.equal(errorsOf(bot).length, 1);
        assert.match((errorsOf(bot)[0] as Error).message, /Deadlock avoided/);
        assert.deepEqual(await store.get("1"), { coins: 10 });
        assert.deepEqual(await store.get("2"), { coins: 10 });
      } else {
        // The cron job asked last: its update() rejects, the update goes on.
        assert.equal(cronResult.status, "rejected");
        assert.match(String((cronResult as PromiseRejectedResult).reason), /Deadlock avoided/);
        assert.deepEqual(errorsOf(bot), []);
        assert.deepEqual(await store.get("1"), { coins: 1 });
        assert.deepEqual(await store.get("2"), { coins: 1 });
      }
    },
  );
}

/** Fault injection: a real storage whose writes never settle until `answer()`. */
function hangingWrites(inner: VersionedStorage) {
  const stalled = gate();
  let writing = 0;
  const storage: VersionedStorage = {
    get: (key) => inner.get(key),
    has: (key) => inner.has(key),
    delete: (key) => inner.delete(key),
    getVersioned: (key) => inner.getVersioned(key),
    set: (key, value, options) => {
      writing++;
      return stalled.promise.then(() => inner.set(key, value, options));
    },
    setIfVersion: (key, value, version, options) => {
      writing++;
      return stalled.promise.then(() => inner.setIfVersion(key, value, version, options));
    },
  };
  return { storage, answer: stalled.open, writing: () => writing };
}

Deno.test("bot.stop(timeout) returns within its timeout while a save of a queued update hangs", async () => {
  const inner = inMemoryStorage();
  const { storage, answer, writing } = hangingWrites(inner);
  // A storage timeout far beyond the stop timeout: stop() must not wait for it.
  const bot = testBot()
    .extend(session({ storage, storageTimeout: 60_000, initial: () => ({ count: 0 }) }))
    .on("message", (context) => void context.session.count++);
  // How polling and webhooks hand updates over: through GramIO's queue.
  bot.updates.queue.add(updates.message(1));
  while (writing() === 0) await tick();
  const start = performance.now();
  await within(bot.stop(100), 2000);
  const took = performance.now() - start;
  assert.ok(took < 1000, `stop(100) took ${took.toFixed(0)} ms`);
  // Let the save land, so nothing is left running after the test.
  answer();
  await within(bot.updates.queue.onIdle());
  assert.deepEqual(await inner.get("1"), { count: 1 });
});

Deno.test("bot.stop() waits at most storageTimeout for a hung save of an update handled directly", async () => {
  const { storage, writing } = hangingWrites(inMemoryStorage());
  const bot = testBot()
    .extend(session({ storage, storageTimeout: 50, initial: () => ({ count: 0 }) }))
    .on("message", (context) => void context.session.count++);
  const handled = bot.updates.handleUpdate(updates.message(2));
  while (writing() === 0) await tick();
  await within(Promise.all([bot.stop(), handled]));
  const [error] = errorsOf(bot);
  assert.ok(error instanceof SessionStorageError);
  assert.equal(error.operation, "write");
  assert.match(error.message, /timed out after 50 ms/);
});

Deno.test("two concurrent bot.stop() calls both return once the save is done", async () => {
  const inner = inMemoryStorage();
  const { storage, answer, writing } = hangingWrites(inner);
  const bot = testBot()
    .extend(session({ storage, initial: () => ({ count: 0 }) }))
    .on("message", (context) => void context.session.count++);
  const handled = bot.updates.handleUpdate(updates.message(3));
  while (writing() === 0) await tick();
  let stopped = 0;
  const first = bot.stop().then(() => stopped++);
  const second = bot.stop().then(() => stopped++);
  await tick();
  assert.equal(stopped, 0, "both wait for the save");
  answer();
  await within(Promise.all([first, second, handled]));
  assert.equal(stopped, 2);
  assert.deepEqual(await inner.get("3"), { count: 1 });
});
