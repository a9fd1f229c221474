import assert from "node:assert/strict";
import { Composer } from "gramio";
import { inMemoryStorage, session, SessionError, type Storage } from "../mod.ts";
import { countingStorage, errorsOf, mapStorage, testBot, totals, updates } from "./support/bot.ts";

const counter = () => ({ count: 0 });

Deno.test("eager: one read per update for every update type with a sender", async () => {
  const storage = countingStorage(inMemoryStorage());
  const seen: string[] = [];
  const bot = testBot()
    .extend(session({ storage, initial: counter }))
    .use((ctx, next) => {
      seen.push(
        `${(ctx as unknown as { updateType: string }).updateType}:${ctx.session.count}`,
      );
      return next();
    });
  const all = [
    updates.message(7),
    updates.editedMessage(7),
    updates.callbackQuery(7),
    updates.inlineQuery(7),
    updates.myChatMember(7),
    updates.messageReaction(7),
    updates.businessMessage(7),
  ];
  for (const update of all) await bot.updates.handleUpdate(update);
  assert.deepEqual(errorsOf(bot), []);
  assert.equal(seen.length, all.length);
  assert.equal(totals(storage.calls).reads, all.length);
  assert.equal(totals(storage.calls).writes, 0);
});

Deno.test("eager: counter increments persist; users are kept apart", async () => {
  const storage = inMemoryStorage();
  const replies: string[] = [];
  const bot = testBot()
    .extend(
      session({ key: "sessionKey", storage, initial: () => ({ apple: 1 }) }),
    )
    .on("message", (context) => {
      replies.push(`${context.senderId}:${++context.sessionKey.apple}`);
    });
  await bot.updates.handleUpdate(updates.message(1));
  await bot.updates.handleUpdate(updates.message(1));
  await bot.updates.handleUpdate(updates.message(2));
  await bot.updates.handleUpdate(updates.message(1));
  assert.deepEqual(replies, ["1:2", "1:3", "2:2", "1:4"]);
  assert.deepEqual(await storage.get("1"), { apple: 4 });
  assert.deepEqual(await storage.get("2"), { apple: 2 });
});

Deno.test("lazy: untouched updates make no storage call; awaiting twice reads once", async () => {
  const storage = countingStorage(inMemoryStorage());
  let same = false;
  const bot = testBot()
    .extend(session({ storage, lazy: true, initial: counter }))
    .command("count", async (context) => {
      const first = await context.session;
      const second = await context.session;
      same = first === second;
      first.count++;
    })
    .on("message", () => {});
  for (let i = 0; i < 5; i++) {
    await bot.updates.handleUpdate(updates.message(3, "hello"));
  }
  await bot.updates.handleUpdate(updates.callbackQuery(3));
  assert.deepEqual(storage.calls, {
    get: 0,
    set: 0,
    has: 0,
    delete: 0,
    getVersioned: 0,
    setIfVersion: 0,
  });
  await bot.updates.handleUpdate(
    updates.message(3, "/count", 3, {
      entities: [{ type: "bot_command", offset: 0, length: 6 }],
    }),
  );
  assert.equal(same, true);
  assert.deepEqual(totals(storage.calls), { reads: 1, writes: 1, deletes: 0 });
  assert.deepEqual(await storage.get("3"), { count: 1 });
});

Deno.test("save only on change: read-only and untouched-initial updates write nothing", async () => {
  const storage = countingStorage(inMemoryStorage());
  let read = -1;
  const bot = testBot()
    .extend(session({ storage, initial: counter }))
    .on("message", (context) => {
      read = context.session.count;
    });
  await bot.updates.handleUpdate(updates.message(4));
  assert.equal(read, 0);
  assert.equal(
    totals(storage.calls).writes,
    0,
    "a fresh initial() session that nobody changed is not stored",
  );
  assert.equal(await storage.has("4"), false);
  await storage.set("4", { count: 5 });
  storage.calls.set = 0;
  await bot.updates.handleUpdate(updates.message(4));
  assert.equal(read, 5);
  assert.equal(totals(storage.calls).writes, 0);
});

Deno.test("any change is saved once: nested objects, arrays, Map, Set, Date, deletes", async () => {
  const initial = () => ({
    nested: { deep: { value: 1 } },
    list: [1, 2],
    map: new Map<string, number>(),
    set: new Set<string>(),
    when: new Date(0),
    removable: "yes" as string | undefined,
  });
  const changes: Array<(s: ReturnType<typeof initial>) => void> = [
    (s) => s.nested.deep.value++,
    (s) => s.list.push(3),
    (s) => s.map.set("a", 1),
    (s) => s.map.set("a", 2),
    (s) => s.set.add("x"),
    (s) => s.when.setTime(1000),
    (s) => delete s.removable,
  ];
  const storage = countingStorage(inMemoryStorage());
  let step = 0;
  const bot = testBot()
    .extend(session({ storage, initial }))
    .on("message", (context) => changes[step](context.session));
  // Store the initial state first, so every later step starts from a stored session.
  await storage.set("5", initial());
  for (step = 0; step < changes.length; step++) {
    const before = storage.calls.set + storage.calls.setIfVersion;
    await bot.updates.handleUpdate(updates.message(5));
    assert.equal(
      storage.calls.set + storage.calls.setIfVersion,
      before + 1,
      `change ${step} was saved once`,
    );
  }
  const stored = await storage.get("5") as ReturnType<typeof initial>;
  assert.equal(stored.nested.deep.value, 2);
  assert.deepEqual(stored.list, [1, 2, 3]);
  assert.deepEqual([...stored.map], [["a", 2]]);
  assert.deepEqual([...stored.set], ["x"]);
  assert.equal(stored.when.getTime(), 1000);
  assert.equal("removable" in stored, false);
  assert.equal("$clear" in stored, false, "$clear is never stored");
});

Deno.test("assigning ctx[key] replaces the session and saves it", async () => {
  const storage = inMemoryStorage();
  const bot = testBot()
    .extend(session({ storage, initial: counter }))
    .on("message", (context) => {
      context.session = { count: 42 } as typeof context.session;
    });
  await bot.updates.handleUpdate(updates.message(6));
  assert.deepEqual(await storage.get("6"), { count: 42 });
});

Deno.test("a throwing handler writes nothing and the error reaches onError", async () => {
  const storage = countingStorage(inMemoryStorage());
  const bot = testBot()
    .extend(session({ storage, initial: counter }))
    .on("message", (context) => {
      context.session.count = 99;
      throw new Error("boom");
    });
  await bot.updates.handleUpdate(updates.message(8));
  assert.equal(totals(storage.calls).writes, 0);
  assert.equal((errorsOf(bot)[0] as Error).message, "boom");
  // The lock was released: the next update of the same user runs.
  await bot.updates.handleUpdate(updates.message(8));
  assert.equal(errorsOf(bot).length, 2);
});

Deno.test("$clear deletes the record, reads as initial, and later changes are saved", async () => {
  const storage = countingStorage(inMemoryStorage());
  await storage.set("9", { count: 10, extra: true });
  let afterClear: unknown;
  const bot = testBot()
    .extend(session({ storage, initial: counter }))
    .on("message", async (context) => {
      if (context.text === "/reset") {
        await context.session.$clear();
        afterClear = { ...context.session };
      } else if (context.text === "/reset-and-bump") {
        await context.session.$clear();
        context.session.count++;
      }
    });
  await bot.updates.handleUpdate(updates.message(9, "/reset"));
  assert.deepEqual(afterClear, { count: 0 });
  assert.equal(await storage.has("9"), false);
  assert.equal(storage.calls.delete, 1);
  await storage.set("9", { count: 10 });
  await bot.updates.handleUpdate(updates.message(9, "/reset-and-bump"));
  assert.deepEqual(await storage.get("9"), { count: 1 });
});

Deno.test("lazy $clear on the resolved object", async () => {
  const storage = inMemoryStorage();
  await storage.set("10", { count: 3 });
  const bot = testBot()
    .extend(session({ storage, lazy: true, initial: counter }))
    .on("message", async (context) => {
      const s = await context.session;
      await s.$clear();
      assert.equal(s.count, 0);
      assert.equal(await context.session, s);
    });
  await bot.updates.handleUpdate(updates.message(10));
  assert.deepEqual(errorsOf(bot), []);
  assert.equal(await storage.has("10"), false);
});

Deno.test("no key: zero storage calls, handlers run, touching the session throws a helpful error", async () => {
  const map = mapStorage();
  const storage = countingStorage(map);
  let ran = 0;
  let thrown: unknown;
  const bot = testBot()
    .extend(session({ storage, initial: counter }))
    .use((ctx, next) => {
      ran++;
      try {
        void ctx.session.count;
      } catch (error) {
        thrown = error;
      }
      return next();
    });
  await bot.updates.handleUpdate(updates.channelPost(-1001));
  await bot.updates.handleUpdate(updates.channelPost(-1002));
  assert.equal(ran, 2);
  assert.deepEqual(totals(storage.calls), { reads: 0, writes: 0, deletes: 0 });
  assert.ok(thrown instanceof SessionError);
  assert.match((thrown as Error).message, /getSessionKey/);
  assert.equal(map.map.size, 0, "no shared 'undefined' session");
});

Deno.test("no key in lazy mode: ctx.session is a rejected Promise, as its type says", async () => {
  let value: unknown;
  const bot = testBot()
    .extend(session({ storage: inMemoryStorage(), lazy: true, initial: counter }))
    .use((ctx, next) => {
      value = ctx.session;
      return next();
    });
  await bot.updates.handleUpdate(updates.channelPost(-1003));
  assert.ok(value instanceof Promise);
  await assert.rejects(value, /getSessionKey returned no key/);
});

Deno.test("custom getSessionKey returning undefined gives no session", async () => {
  const storage = countingStorage(inMemoryStorage());
  const bot = testBot()
    .extend(
      session({ storage, getSessionKey: () => undefined, initial: counter }),
    )
    .on("message", () => {});
  await bot.updates.handleUpdate(updates.message(11));
  assert.deepEqual(totals(storage.calls), { reads: 0, writes: 0, deletes: 0 });
  assert.deepEqual(errorsOf(bot), []);
});

Deno.test("two sessions with different keys work side by side (per user and per chat)", async () => {
  const storage = inMemoryStorage();
  const bot = testBot()
    .extend(session({ storage, initial: counter }))
    .extend(session({
      key: "chatSession",
      storage,
      getSessionKey: (ctx) => `chat:${ctx.chatId}`,
      initial: () => ({ messages: 0 }),
    }))
    .on("message", (context) => {
      context.session.count++;
      context.chatSession.messages++;
    });
  await bot.updates.handleUpdate(updates.message(1, "a", -100));
  await bot.updates.handleUpdate(updates.message(2, "b", -100));
  await bot.updates.handleUpdate(updates.message(1, "c", -100));
  assert.deepEqual(errorsOf(bot), []);
  assert.deepEqual(await storage.get("1"), { count: 2 });
  assert.deepEqual(await storage.get("2"), { count: 1 });
  assert.deepEqual(await storage.get("chat:-100"), { messages: 3 });
});

Deno.test("two sessions resolving to one storage record are refused, not silently merged", async () => {
  const storage = inMemoryStorage();
  const bot = testBot()
    .extend(session({ storage, initial: counter }))
    .extend(
      session({
        key: "chatSession",
        storage,
        getSessionKey: (ctx) => ctx.chatId,
        initial: counter,
      }),
    )
    .on("message", (context) => {
      context.session.count++;
    });
  // In a private chat the chat id equals the user id.
  await bot.updates.handleUpdate(updates.message(12));
  assert.equal(errorsOf(bot).length, 1);
  assert.match((errorsOf(bot)[0] as Error).message, /same storage key "12"/);
});

Deno.test("a key that collides with a GramIO context property is refused", () => {
  // Getters of GramIO's context classes, and fields it sets on each instance.
  for (const key of ["chat", "from", "text", "send", "senderId", "update", "payload", "bot"]) {
    assert.throws(
      () => session({ key, storage: inMemoryStorage() }),
      /already a property/,
    );
  }
});

Deno.test("non-object initial values are refused with a clear error", async () => {
  const bot = testBot()
    // @ts-expect-error: a session is an object
    .extend(session({ storage: inMemoryStorage(), initial: () => 5 }))
    .on("message", () => {});
  await bot.updates.handleUpdate(updates.message(13));
  assert.match(
    (errorsOf(bot)[0] as Error).message,
    /initial\(\) .* returned a number.*initial: \(\) => \(\{ value: 0 \}\)/,
  );
});

Deno.test("initial() returning a shared object does not leak between users", async () => {
  const shared = { tags: [] as string[] };
  const storage = inMemoryStorage();
  const bot = testBot()
    .extend(session({ storage, initial: () => shared }))
    .on("message", (context) => {
      context.session.tags.push(String(context.senderId));
    });
  await bot.updates.handleUpdate(updates.message(14));
  await bot.updates.handleUpdate(updates.message(15));
  assert.deepEqual(shared.tags, []);
  assert.deepEqual(await storage.get("15"), { tags: ["15"] });
});

Deno.test("inMemoryStorage isolates stored values from kept references", async () => {
  const storage = inMemoryStorage();
  let kept: { count: number } | undefined;
  const bot = testBot()
    .extend(session({ storage, initial: counter }))
    .on("message", (context) => {
      context.session.count++;
      kept = context.session;
    });
  await bot.updates.handleUpdate(updates.message(16));
  kept!.count = 1000;
  assert.deepEqual(await storage.get("16"), { count: 1 });
});

Deno.test("async initial and async getSessionKey", async () => {
  const storage = inMemoryStorage();
  const bot = testBot()
    .extend(session({
      storage,
      getSessionKey: async (ctx) => {
        await Promise.resolve();
        return `u${ctx.senderId}`;
      },
      initial: async () => {
        await Promise.resolve();
        return { count: 10 };
      },
    }))
    .on("message", (context) => {
      context.session.count++;
    });
  await bot.updates.handleUpdate(updates.message(17));
  assert.deepEqual(await storage.get("u17"), { count: 11 });
});

Deno.test("a derive that already set the session's key is refused, not hidden", async () => {
  const bot = testBot()
    .derive(() => ({ session: "from a derive" }))
    .extend(session({ storage: inMemoryStorage(), initial: counter }))
    .on("message", () => {});
  // Twice: before and after the plugin put its accessor on GramIO's context prototype.
  await bot.updates.handleUpdate(updates.message(21));
  await bot.updates.handleUpdate(updates.message(22));
  const errors = errorsOf(bot);
  assert.equal(errors.length, 2);
  for (const error of errors) {
    assert.ok(error instanceof SessionError);
    assert.match(error.message, /already has a "session" property .*Pick another key/);
  }
});

Deno.test("a bot without the plugin in the same process keeps its own ctx.session", async () => {
  const withPlugin = testBot()
    .extend(session({ storage: inMemoryStorage(), initial: counter }))
    .on("message", (context) => void context.session.count++);
  await withPlugin.updates.handleUpdate(updates.message(23)); // the accessor is on the prototype now

  const seen: unknown[] = [];
  const plain = testBot()
    .derive(() => ({ session: { mine: true } }))
    .on("message", (context) => {
      seen.push(context.session);
      (context as unknown as { session: unknown }).session = "reassigned";
      seen.push(context.session);
    });
  await plain.updates.handleUpdate(updates.message(23));
  assert.deepEqual(errorsOf(plain), []);
  assert.deepEqual(seen, [{ mine: true }, "reassigned"]);

  // Unassigned, it reads as absent, so the usual idioms work.
  const defaults: unknown[] = [];
  const bare = testBot().on("message", (context) => {
    const ctx = context as unknown as { session?: { visits: number } };
    defaults.push(ctx.session);
    ctx.session ??= { visits: 1 };
    defaults.push(ctx.session);
  });
  await bare.updates.handleUpdate(updates.message(23));
  assert.deepEqual(errorsOf(bare), []);
  assert.deepEqual(defaults, [undefined, { visits: 1 }]);
});

Deno.test("a plain object run through the plugin's composer gets the accessor on itself", async () => {
  const plugin = session({ key: "plainSession", storage: inMemoryStorage(), initial: counter });
  const composer = new Composer().extend(plugin).use((ctx, next) => {
    (ctx as unknown as { plainSession: { count: number } }).plainSession.count++;
    return next();
  });
  const ctx = { from: { id: 5 }, senderId: 5, updateType: "message" };
  await composer.run(ctx as never);
  assert.equal(Object.getOwnPropertyDescriptor(Object.prototype, "plainSession"), undefined);
  assert.equal(({} as Record<string, unknown>).plainSession, undefined);
  assert.ok(Object.getOwnPropertyDescriptor(ctx, "plainSession")?.get);
});

Deno.test("two bots in one process with the same key keep separate sessions", async () => {
  const first = inMemoryStorage();
  const second = inMemoryStorage();
  const botA = testBot()
    .extend(session({ storage: first, initial: counter }))
    .on("message", (context) => void (context.session.count += 1));
  const botB = testBot()
    .extend(session({ storage: second, initial: counter }))
    .on("message", (context) => void (context.session.count += 10));
  await Promise.all([
    botA.updates.handleUpdate(updates.message(24)),
    botB.updates.handleUpdate(updates.message(24)),
    botA.updates.handleUpdate(updates.message(25)),
  ]);
  await botB.updates.handleUpdate(updates.message(24));
  assert.deepEqual([errorsOf(botA), errorsOf(botB)], [[], []]);
  assert.deepEqual(await first.get("24"), { count: 1 });
  assert.deepEqual(await first.get("25"), { count: 1 });
  assert.deepEqual(await second.get("24"), { count: 20 });
});

Deno.test("two copies of this module in one process share ctx.session instead of clashing", async () => {
  // A second copy of the source, as when two versions of the package are installed.
  const root = new URL("../", import.meta.url);
  const dir = new URL(`.tmp/copy-${crypto.randomUUID()}/`, root);
  const copyFolder = async (folder: string): Promise<void> => {
    await Deno.mkdir(new URL(folder, dir), { recursive: true });
    for await (const entry of Deno.readDir(new URL(folder, root))) {
      const path = folder + entry.name;
      if (entry.isDirectory) await copyFolder(path + "/");
      else if (entry.isFile) await Deno.copyFile(new URL(path, root), new URL(path, dir));
    }
  };
  await copyFolder("src/");
  await Deno.copyFile(new URL("mod.ts", root), new URL("mod.ts", dir));
  const copy: typeof import("../mod.ts") = await import(new URL("mod.ts", dir).href);
  await Deno.remove(dir, { recursive: true });
  assert.notEqual(copy.session, session);
  const mine = inMemoryStorage();
  const theirs = copy.inMemoryStorage();
  const botA = testBot()
    .extend(session({ storage: mine, initial: counter }))
    .on("message", (context) => void (context.session.count += 1));
  const botB = testBot()
    .extend(copy.session({ storage: theirs, initial: counter }))
    .on("message", (context) => void (context.session.count += 10));
  await botA.updates.handleUpdate(updates.message(26));
  await botB.updates.handleUpdate(updates.message(26));
  await botA.updates.handleUpdate(updates.message(26));
  assert.deepEqual([errorsOf(botA), errorsOf(botB)], [[], []]);
  assert.deepEqual(await mine.get("26"), { count: 2 });
  assert.deepEqual(await theirs.get("26"), { count: 10 });
});

Deno.test("a storage and a key resolver answering with non-native promises are awaited", async () => {
  // A promise of another library (or realm): a thenable, not `instanceof Promise`.
  const later = <T>(value: T): PromiseLike<T> => ({
    then: (resolve, reject) =>
      new Promise<T>((done) => setTimeout(() => done(value), 1)).then(resolve, reject),
  });
  const inner = inMemoryStorage();
  const storage: Storage = {
    get: (key) => later(inner.get(key)) as Promise<unknown>,
    set: (key, value) => later(inner.set(key, value)) as Promise<void>,
    has: (key) => later(inner.has(key)) as Promise<boolean>,
    delete: (key) => later(inner.delete(key)) as Promise<boolean>,
  };
  const bot = testBot()
    .extend(session({
      storage,
      getSessionKey: (ctx) => later(`user-${ctx.senderId}`) as Promise<string>,
      initial: counter,
    }))
    .on("message", (context) => void context.session.count++);
  for (let i = 0; i < 3; i++) await bot.updates.handleUpdate(updates.message(27));
  assert.deepEqual(errorsOf(bot), []);
  assert.deepEqual(await inner.get("user-27"), { count: 3 });
});
