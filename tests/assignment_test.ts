/**
 * Assigning the whole session (`ctx.session = value`, `= null`), eager and
 * lazy, through a real GramIO bot. No cast anywhere: the default key accepts
 * new data, `null` and `undefined` at the type level.
 */
import assert from "node:assert/strict";
import { inMemoryStorage, session, type Storage } from "../mod.ts";
import { countingStorage, errorsOf, gate, testBot, updates, within } from "./support/bot.ts";

interface Profile {
  name: string;
  prefs: { lang: string };
  tags: string[];
}

Deno.test("two users assigning one shared object each get their own copy", async () => {
  const storage = inMemoryStorage();
  const DEFAULTS: Profile = { name: "anon", prefs: { lang: "en" }, tags: [] };
  const bot = testBot()
    .extend(
      session({ storage, initial: (): Profile => ({ name: "", prefs: { lang: "" }, tags: [] }) }),
    )
    .on("message", (context) => {
      context.session = DEFAULTS;
      // The same update goes on changing its session.
      if (context.text === "/german") {
        context.session.prefs.lang = "de";
        context.session.tags.push(`user ${context.senderId}`);
      }
    });
  await bot.updates.handleUpdate(updates.message(1, "/german"));
  await bot.updates.handleUpdate(updates.message(2, "/reset"));
  // Both in flight at once: one changes its copy while the other still holds its own.
  await Promise.all([
    bot.updates.handleUpdate(updates.message(3, "/reset")),
    bot.updates.handleUpdate(updates.message(4, "/german")),
  ]);
  assert.deepEqual(errorsOf(bot), []);
  assert.deepEqual(
    DEFAULTS,
    { name: "anon", prefs: { lang: "en" }, tags: [] },
    "constant unchanged",
  );
  assert.deepEqual(await storage.get("1"), {
    name: "anon",
    prefs: { lang: "de" },
    tags: ["user 1"],
  });
  for (const user of ["2", "3"]) {
    assert.deepEqual(await storage.get(user), { name: "anon", prefs: { lang: "en" }, tags: [] });
  }
  assert.deepEqual(await storage.get("4"), {
    name: "anon",
    prefs: { lang: "de" },
    tags: ["user 4"],
  });
});

Deno.test("the assigned object is copied at assignment: changes go through ctx.session", async () => {
  const storage = inMemoryStorage();
  let sameObject: boolean | undefined;
  const bot = testBot()
    .extend(session({ storage, initial: () => ({ n: 0, list: [] as number[] }) }))
    .on("message", (context) => {
      const fresh = { n: 1, list: [1] };
      context.session = fresh;
      sameObject = context.session === fresh;
      fresh.list.push(99); // not the session any more
      context.session.n++;
      context.session.list.push(2);
    });
  await bot.updates.handleUpdate(updates.message(3));
  assert.deepEqual(errorsOf(bot), []);
  assert.equal(sameObject, false);
  assert.deepEqual(await storage.get("3"), { n: 2, list: [1, 2] });
});

Deno.test("lazy: assigning replaces the session without reading it and saves it unconditionally", async () => {
  const storage = countingStorage(inMemoryStorage());
  await storage.set("4", { n: 5, old: true });
  storage.calls.set = 0;
  let first: unknown;
  let again: unknown;
  const bot = testBot()
    .extend(
      session({ storage, lazy: true, initial: () => ({ n: 0 }) as { n: number; old?: boolean } }),
    )
    .on("message", async (context) => {
      context.session = { n: 1 };
      const s = await context.session;
      first = { ...s };
      s.n++;
      again = (await context.session) === s;
    });
  await bot.updates.handleUpdate(updates.message(4));
  assert.deepEqual(errorsOf(bot), []);
  assert.deepEqual(first, { n: 1 });
  assert.equal(again, true, "awaiting again gives the same object");
  assert.equal(storage.calls.get + storage.calls.getVersioned, 0, "nothing read");
  assert.deepEqual([storage.calls.set, storage.calls.setIfVersion], [1, 0], "a plain set");
  assert.deepEqual(await storage.get("4"), { n: 2 });
});

Deno.test("lazy: assigning after the session was read replaces it, saved like any change", async () => {
  const storage = countingStorage(inMemoryStorage());
  await storage.set("5", { n: 5 });
  const bot = testBot()
    .extend(session({ storage, lazy: true, initial: () => ({ n: 0 }) }))
    .on("message", async (context) => {
      const before = await context.session;
      assert.equal(before.n, 5);
      context.session = { n: 50 };
      assert.equal((await context.session).n, 50);
    });
  await bot.updates.handleUpdate(updates.message(5));
  assert.deepEqual(errorsOf(bot), []);
  assert.equal(storage.calls.getVersioned, 1);
  assert.equal(storage.calls.setIfVersion, 1, "compare-and-set: the version is known");
  assert.deepEqual(await storage.get("5"), { n: 50 });
});

Deno.test("lazy: assigning while the read is in flight replaces what is read", async () => {
  const memory = inMemoryStorage();
  await memory.set("6", { n: 5 });
  // Answers a tick later, so the read is still in flight when the handler assigns.
  const storage: Storage = {
    get: async (key) => await memory.get(key),
    set: async (key, value) => await memory.set(key, value),
    has: async (key) => await memory.has(key),
    delete: async (key) => await memory.delete(key),
  };
  let pending: unknown;
  let after: unknown;
  const bot = testBot()
    .extend(session({ storage, lazy: true, initial: () => ({ n: 0 }) }))
    .on("message", async (context) => {
      const reading = context.session; // started, not awaited
      context.session = { n: 60 };
      after = { ...(await context.session) };
      pending = { ...(await reading) };
    });
  await bot.updates.handleUpdate(updates.message(6));
  assert.deepEqual(errorsOf(bot), []);
  assert.deepEqual(after, { n: 60 });
  assert.deepEqual(pending, { n: 60 }, "the read in flight already ended with the assignment");
  assert.deepEqual(await storage.get("6"), { n: 60 });
});

Deno.test("lazy: an assigned session still takes turns with other updates of the user", async () => {
  const storage = inMemoryStorage();
  const hold = gate();
  const bot = testBot()
    .extend(session({ storage, lazy: true, initial: () => ({ n: 0 }) }))
    .on("message", async (context) => {
      if (context.text === "/set") {
        context.session = { n: 100 };
        await hold.promise;
        (await context.session).n++;
        return;
      }
      (await context.session).n++;
    });
  const first = bot.updates.handleUpdate(updates.message(7, "/set"));
  const second = bot.updates.handleUpdate(updates.message(7, "/inc"));
  hold.open();
  await within(Promise.all([first, second]));
  assert.deepEqual(errorsOf(bot), []);
  assert.deepEqual(await storage.get("7"), { n: 102 });
});

Deno.test("lazy: $clear() after an assignment without a read deletes the stored session", async () => {
  const storage = inMemoryStorage();
  await storage.set("8", { n: 5 });
  const bot = testBot()
    .extend(session({ storage, lazy: true, initial: () => ({ n: 0 }) }))
    .on("message", async (context) => {
      context.session = { n: 1 };
      await (await context.session).$clear();
    });
  await bot.updates.handleUpdate(updates.message(8));
  assert.deepEqual(errorsOf(bot), []);
  assert.equal(await storage.get("8"), undefined);
});

for (const lazy of [false, true]) {
  for (const empty of [null, undefined]) {
    Deno.test(`${lazy ? "lazy" : "eager"}: ctx.session = ${empty} clears the session like $clear()`, async () => {
      const storage = countingStorage(inMemoryStorage());
      await storage.set("9", { n: 5 });
      const seen: unknown[] = [];
      const bot = testBot()
        .extend(session({ storage, lazy, initial: () => ({ n: 0 }) }))
        .on("message", async (context) => {
          if (context.text === "/forget") {
            context.session = empty;
            // Lazy: reads wait for the clear. Eager: the object is reset once initial() returns.
            if (lazy) seen.push({ ...(await context.session) });
            return;
          }
          seen.push({ ...(await context.session) });
        });
      await bot.updates.handleUpdate(updates.message(9, "/forget"));
      assert.deepEqual(errorsOf(bot), []);
      assert.equal(storage.calls.delete, 1);
      assert.equal(await storage.get("9"), undefined);
      await bot.updates.handleUpdate(updates.message(9, "/show"));
      assert.deepEqual(seen, lazy ? [{ n: 0 }, { n: 0 }] : [{ n: 0 }]);
    });
  }
}

for (const lazy of [false, true]) {
  Deno.test(`${lazy ? "lazy" : "eager"}: assignments apply in order, also after = null`, async () => {
    const storage = inMemoryStorage();
    await storage.set("13", { n: 5 });
    const bot = testBot()
      .extend(session({ storage, lazy, initial: () => ({ n: 0 }) }))
      .on("message", (context) => {
        context.session = { n: 1 };
        context.session = null;
        context.session = { n: 3 };
        context.session = null;
        context.session = undefined;
        context.session = { n: 6 };
      });
    await bot.updates.handleUpdate(updates.message(13));
    assert.deepEqual(errorsOf(bot), []);
    assert.deepEqual(await storage.get("13"), { n: 6 });
  });
}

Deno.test("eager: the save waits for a clear by assignment, so the old data never comes back", async () => {
  const storage = inMemoryStorage();
  await storage.set("10", { n: 5, secret: "x" });
  const bot = testBot()
    .extend(session({
      storage,
      initial: async () => {
        // Slow, like I/O: answers after the handlers' microtasks have all run.
        await new Promise((resolve) => setTimeout(resolve, 1));
        return { n: 0 } as { n: number; secret?: string };
      },
    }))
    .on("message", (context) => {
      context.session = null; // a setter cannot be awaited
      context.session.n = 7; // on the old object, which the clear then resets
    });
  await bot.updates.handleUpdate(updates.message(10));
  assert.deepEqual(errorsOf(bot), []);
  assert.equal(await storage.get("10"), undefined);
});

Deno.test("a clear by assignment that fails reports the error, writes nothing and unlocks", async () => {
  const storage = inMemoryStorage();
  await storage.set("11", { n: 5 });
  let failing = true;
  const bot = testBot()
    .extend(session({
      storage,
      initial: () => {
        if (failing) throw new Error("initial failed");
        return { n: 0 };
      },
    }))
    .on("message", (context) => {
      if (context.text === "/forget") context.session = null;
      else context.session.n++;
    });
  await bot.updates.handleUpdate(updates.message(11, "/forget"));
  assert.match(String(errorsOf(bot)[0]), /initial failed/);
  assert.deepEqual(await storage.get("11"), { n: 5 });
  failing = false;
  await within(bot.updates.handleUpdate(updates.message(11, "/inc")));
  assert.deepEqual(await storage.get("11"), { n: 6 });
});

Deno.test("assigning a non-object says how to delete instead", async () => {
  const bot = testBot()
    .extend(session({ storage: inMemoryStorage(), initial: () => ({ n: 0 }) }))
    .on("message", (context) => {
      (context as unknown as { session: unknown }).session = 5;
    });
  await bot.updates.handleUpdate(updates.message(12));
  assert.match(
    String(errorsOf(bot)[0]),
    /must be assigned an object \(got number\)\. To delete the session, assign null/,
  );
});
