/**
 * What a hostile tester tries: colliding sessions, odd keys, failing
 * initial(), repeated assignment, garbage from storage, prototype pollution
 * and the session read through another object than its context.
 */

import assert from "node:assert/strict";
import { denoKvStorage, inMemoryStorage, session, SessionDataError, SessionError } from "../mod.ts";
import {
  countingStorage,
  errorsOf,
  liveStorage,
  mapStorage,
  testBot,
  totals,
  updates,
  within,
} from "./support/bot.ts";

for (const lazy of [false, true]) {
  const mode = lazy ? "lazy" : "eager";

  Deno.test(`adversarial, ${mode}: two session plugins resolving to one record are refused, nothing is overwritten`, async () => {
    const storage = inMemoryStorage();
    await storage.set("42", { a: 1 });
    let ran = false;
    const bot = testBot()
      .extend(session({ key: "first", storage, lazy, initial: () => ({ a: 0 }) }))
      .extend(
        session({
          key: "second",
          storage,
          lazy,
          getSessionKey: (ctx) => ctx.chatId,
          initial: () => ({ b: 0 }),
        }),
      )
      .on("message", async (ctx) => {
        (await ctx.first).a = 2;
        (await ctx.second as unknown as Record<string, number>).b = 3;
        ran = true;
      });
    await within(bot.updates.handleUpdate(updates.message(42)));
    const [error] = errorsOf(bot);
    assert.ok(error instanceof SessionError, String(error));
    assert.equal(ran, false);
    assert.deepEqual(await storage.get("42"), { a: 1 });
    // Nothing stays locked.
    const bot2 = testBot()
      .extend(session({ storage, lazy, initial: () => ({ a: 0 }) }))
      .on("message", async (ctx) => void (await ctx.session).a++);
    await within(bot2.updates.handleUpdate(updates.message(42)));
    assert.deepEqual(await storage.get("42"), { a: 2 });
  });

  Deno.test(`adversarial, ${mode}: getSessionKey that throws or rejects fails the update and locks nothing`, async () => {
    for (
      const getSessionKey of [
        () => {
          throw new Error("key boom");
        },
        () => Promise.reject(new Error("key boom")),
      ]
    ) {
      const storage = countingStorage(inMemoryStorage());
      let ran = false;
      const bot = testBot()
        .extend(session({ storage, lazy, getSessionKey }))
        .on("message", () => void (ran = true));
      await within(bot.updates.handleUpdate(updates.message(1)));
      assert.match(String(errorsOf(bot)[0]), /key boom/);
      assert.equal(ran, false);
      assert.deepEqual(totals(storage.calls), { reads: 0, writes: 0, deletes: 0 });
    }
  });

  Deno.test(`adversarial, ${mode}: keys that are not strings or numbers give no session, with an error that says what was returned`, async () => {
    const weird: unknown[] = [{ id: 1 }, Symbol("k"), true, NaN, Infinity, -Infinity, "", null, [
      1,
    ]];
    for (const value of weird) {
      const storage = countingStorage(inMemoryStorage());
      const errors: unknown[] = [];
      const bot = testBot()
        .extend(session({ storage, lazy, getSessionKey: () => value as string }))
        .on("message", async (ctx) => {
          try {
            await ctx.session;
          } catch (error) {
            errors.push(error);
          }
        });
      await bot.updates.handleUpdate(updates.message(1));
      assert.deepEqual(errorsOf(bot), [], String(value));
      assert.ok(errors[0] instanceof SessionError, String(value));
      if (
        typeof value === "object" && value !== null || typeof value === "symbol" || value === true
      ) {
        assert.match((errors[0] as Error).message, /not a string or a number/, String(value));
      }
      assert.deepEqual(totals(storage.calls), { reads: 0, writes: 0, deletes: 0 });
    }
  });

  Deno.test(`adversarial, ${mode}: -0 and 0 are one key; a 100,000-character key works in memory`, async () => {
    const storage = inMemoryStorage();
    const long = "k".repeat(100_000);
    let key: number | string = 0;
    const bot = testBot()
      .extend(session({ storage, lazy, getSessionKey: () => key, initial: () => ({ n: 0 }) }))
      .on("message", async (ctx) => void (await ctx.session).n++);
    await bot.updates.handleUpdate(updates.message(1));
    key = -0;
    await bot.updates.handleUpdate(updates.message(1));
    key = long;
    await bot.updates.handleUpdate(updates.message(1));
    assert.deepEqual(errorsOf(bot), []);
    assert.deepEqual(await storage.get("0"), { n: 2 });
    assert.deepEqual(await storage.get(long), { n: 1 });
  });

  Deno.test(`adversarial, ${mode}: initial() that throws or rejects: reported, nothing written, key free again`, async () => {
    for (
      const broken of [
        () => {
          throw new Error("initial boom");
        },
        () => Promise.reject(new Error("initial boom")),
      ]
    ) {
      const storage = countingStorage(inMemoryStorage());
      let failing = true;
      const bot = testBot()
        .extend(session({
          storage,
          lazy,
          initial: () => (failing ? broken() : { n: 0 }) as { n: number },
        }))
        .on("message", async (ctx) => void (await ctx.session).n++);
      await within(bot.updates.handleUpdate(updates.message(1)));
      assert.match(String(errorsOf(bot)[0]), /initial boom/);
      assert.equal(totals(storage.calls).writes, 0);
      failing = false;
      await within(bot.updates.handleUpdate(updates.message(1)));
      assert.deepEqual(await storage.get("1"), { n: 1 });
    }
  });

  Deno.test(`adversarial, ${mode}: $clear() whose initial() fails, caught by the handler, deletes nothing`, async () => {
    const storage = inMemoryStorage();
    await storage.set("1", { n: 5 });
    let failing = false;
    let caught: unknown;
    const bot = testBot()
      .extend(session({
        storage,
        lazy,
        initial: () => {
          if (failing) throw new Error("initial boom");
          return { n: 0 };
        },
      }))
      .on("message", async (ctx) => {
        const s = await ctx.session;
        failing = true;
        try {
          await s.$clear();
        } catch (error) {
          caught = error;
        }
      });
    await bot.updates.handleUpdate(updates.message(1));
    assert.deepEqual(errorsOf(bot), []);
    assert.match(String(caught), /initial boom/);
    assert.deepEqual(await storage.get("1"), { n: 5 });
  });

  Deno.test(`adversarial, ${mode}: initial() that touches the session itself fails instead of hanging`, async () => {
    const storage = inMemoryStorage();
    const bot = testBot()
      .extend(session({
        storage,
        lazy,
        initial: async (ctx): Promise<{ n: number }> => {
          const own = await (ctx as unknown as { session: Promise<{ $clear(): Promise<void> }> })
            .session;
          await own.$clear();
          return { n: 0 };
        },
      }))
      .on("message", async (ctx) => void (await ctx.session).n++);
    await within(bot.updates.handleUpdate(updates.message(1)));
    assert.equal(errorsOf(bot).length, 1);
    assert.equal(await storage.get("1"), undefined);
  });

  Deno.test(`adversarial, ${mode}: reassigning and changing the session many times saves the last state once`, async () => {
    const storage = countingStorage(inMemoryStorage());
    const bot = testBot()
      .extend(
        session({ storage, lazy, initial: (): { a?: number; b?: number; c?: number } => ({}) }),
      )
      .on("message", async (ctx) => {
        ctx.session = { a: 1 };
        (await ctx.session).a!++;
        ctx.session = { b: 1 };
        (await ctx.session).b!++;
        ctx.session = { ...(await ctx.session), c: 1 };
        (await ctx.session).c! += 10;
      });
    await bot.updates.handleUpdate(updates.message(1));
    assert.deepEqual(errorsOf(bot), []);
    assert.equal(totals(storage.calls).writes, 1);
    assert.deepEqual(await storage.get("1"), { b: 2, c: 11 });
  });
}

Deno.test("adversarial: storage returning non-object garbage is a SessionDataError; handlers do not run", async () => {
  const garbage: unknown[] = [42, "text", true, 10n, () => ({ n: 1 })];
  for (const value of garbage) {
    const storage = liveStorage(new Map([["1", value]]));
    let ran = false;
    const bot = testBot()
      .extend(session({ storage, initial: () => ({ n: 0 }) }))
      .on("message", () => void (ran = true));
    await bot.updates.handleUpdate(updates.message(1));
    assert.ok(errorsOf(bot)[0] instanceof SessionDataError, String(errorsOf(bot)[0]));
    assert.equal(ran, false);
    assert.equal(storage.map.get("1"), value);
  }
});

Deno.test("adversarial: a frozen object handed out by a storage is a usable session", async () => {
  const storage = liveStorage(new Map([["1", Object.freeze({ n: 1, list: Object.freeze([1]) })]]));
  const bot = testBot()
    .extend(session({ storage, initial: () => ({ n: 0, list: [] as number[] }) }))
    .on("message", (ctx) => {
      ctx.session.n++;
      ctx.session.list.push(2);
    });
  await bot.updates.handleUpdate(updates.message(1));
  assert.deepEqual(errorsOf(bot), []);
  assert.deepEqual(storage.map.get("1"), { n: 2, list: [1, 2] });
});

Deno.test("adversarial: __proto__ and constructor in stored or assigned data never pollute prototypes", async () => {
  const stored = JSON.parse(
    '{"__proto__": {"isAdmin": true}, "constructor": {"prototype": {"isAdmin": true}}, "n": 0}',
  );
  const storage = liveStorage(new Map([["1", stored]]));
  const seen: unknown[] = [];
  const bot = testBot()
    .extend(session({ storage, initial: (): Record<string, unknown> => ({ n: 0 }) }))
    .on("message", (ctx) => {
      const s = ctx.session as Record<string, unknown>;
      seen.push(Object.getPrototypeOf(s) === Object.prototype, s.isAdmin);
      if (ctx.text === "assign") {
        ctx.session = JSON.parse('{"__proto__": {"isRoot": true}, "m": 1}');
        return;
      }
      (s.__proto__ as { isAdmin: boolean }).isAdmin = false; // an own field here, changed like any other
      (s.n as number)++;
    });
  await bot.updates.handleUpdate(updates.message(1));
  await bot.updates.handleUpdate(updates.message(1, "assign"));
  assert.deepEqual(errorsOf(bot), []);
  assert.deepEqual(seen, [true, undefined, true, undefined]);
  const saved = storage.map.get("1") as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(saved), Object.prototype);
  assert.ok(Object.hasOwn(saved, "__proto__"));
  assert.equal(JSON.stringify(saved), '{"__proto__":{"isRoot":true},"m":1}');
  assert.equal(({} as Record<string, unknown>).isAdmin, undefined);
  assert.equal(({} as Record<string, unknown>).isRoot, undefined);
});

Deno.test("adversarial: a change inside an own __proto__ field is saved", async () => {
  const storage = liveStorage(new Map([["1", JSON.parse('{"__proto__": {"x": 1}}')]]));
  const bot = testBot()
    .extend(session({ storage, initial: (): Record<string, unknown> => ({}) }))
    .on(
      "message",
      (ctx) => void ((ctx.session as Record<string, { x: number }>)["__proto__"].x = 2),
    );
  await bot.updates.handleUpdate(updates.message(1));
  assert.deepEqual(errorsOf(bot), []);
  assert.equal(JSON.stringify(storage.map.get("1")), '{"__proto__":{"x":2}}');
});

Deno.test("adversarial: session keys named __proto__, constructor, hasOwnProperty are ordinary keys", async () => {
  const storage = inMemoryStorage();
  const plain = mapStorage();
  let key = "";
  const bot = testBot()
    .extend(session({ storage, getSessionKey: () => key, initial: () => ({ n: 0 }) }))
    .extend(
      session({
        key: "other",
        storage: plain,
        getSessionKey: () => `o:${key}`,
        initial: () => ({ n: 0 }),
      }),
    )
    .on("message", (ctx) => {
      ctx.session.n++;
      ctx.other.n += 2;
    });
  for (key of ["__proto__", "constructor", "hasOwnProperty", "__proto__"]) {
    await bot.updates.handleUpdate(updates.message(1));
  }
  assert.deepEqual(errorsOf(bot), []);
  assert.deepEqual(await storage.get("__proto__"), { n: 2 });
  assert.deepEqual(await storage.get("constructor"), { n: 1 });
  assert.deepEqual(await storage.get("hasOwnProperty"), { n: 1 });
  assert.deepEqual(plain.map.get("o:__proto__"), { n: 4 });
  assert.equal(({} as Record<string, unknown>).n, undefined);
});

Deno.test("adversarial: the session read through an object derived from the context is that context's session", async () => {
  const storage = inMemoryStorage();
  const seen: unknown[] = [];
  const bot = testBot()
    .extend(session({ storage, initial: () => ({ n: 0 }) }))
    .on("message", (ctx) => {
      const derived = Object.create(ctx) as typeof ctx;
      seen.push(derived.session === ctx.session);
      derived.session.n = 5;
    });
  await bot.updates.handleUpdate(updates.message(1));
  assert.deepEqual(errorsOf(bot), []);
  assert.deepEqual(seen, [true]);
  assert.deepEqual(await storage.get("1"), { n: 5 });
});

Deno.test("adversarial: another update's context reads its own session while in flight, and is reported after", async () => {
  const storage = inMemoryStorage();
  let first: { session: { n: number } } | undefined;
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const seen: unknown[] = [];
  const bot = testBot()
    .extend(session({ storage, initial: () => ({ n: 0 }) }))
    .on("message", async (ctx) => {
      if (ctx.text === "first") {
        first = ctx;
        ctx.session.n = 1;
        await held;
        return;
      }
      seen.push(first!.session.n, ctx.session.n);
      release();
    });
  const one = bot.updates.handleUpdate(updates.message(1, "first"));
  await within(bot.updates.handleUpdate(updates.message(2, "second")));
  await one;
  assert.deepEqual(seen, [1, 0]);
  assert.deepEqual(errorsOf(bot), []);
  // Late use reads the session as its update left it, and is reported.
  assert.equal(first!.session.n, 1);
  // GramIO runs onError handlers after a few ticks of its own.
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.ok(errorsOf(bot).some((error) => error instanceof SessionError));
});

Deno.test("adversarial: a Deno KV key over its size limit is a SessionStorageError, and the bot goes on", async () => {
  const dir = await Deno.makeTempDir();
  const kv = await Deno.openKv(`${dir}/kv.db`);
  try {
    let key = "x".repeat(5000);
    let ran = 0;
    const bot = testBot()
      .extend(
        session({
          storage: denoKvStorage(kv),
          getSessionKey: () => key,
          initial: () => ({ n: 0 }),
        }),
      )
      .on("message", (ctx) => void (ran++, ctx.session.n++));
    await within(bot.updates.handleUpdate(updates.message(1)));
    assert.equal((errorsOf(bot)[0] as Error)?.name, "SessionStorageError");
    assert.equal(ran, 0);
    key = "short";
    await within(bot.updates.handleUpdate(updates.message(1)));
    assert.equal(ran, 1);
  } finally {
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("adversarial: $clear() on a session that is an array empties it instead of leaving holes", async () => {
  const storage = inMemoryStorage();
  await storage.set("1", [1, 2, 3]);
  const bot = testBot()
    .extend(session({ storage, initial: (): number[] => [] }))
    .on("message", async (ctx) => {
      await ctx.session.$clear();
      ctx.session.push(9);
    });
  await bot.updates.handleUpdate(updates.message(1));
  assert.deepEqual(errorsOf(bot), []);
  assert.deepEqual(await storage.get("1"), [9]);
});

Deno.test("adversarial: a session that is itself a Map, Set or Date is refused with the fix, not silently never saved", async () => {
  for (
    const make of [() => new Map<string, number>(), () => new Set<number>(), () => new Date(0)]
  ) {
    const storage = countingStorage(inMemoryStorage());
    let ran = false;
    const bot = testBot()
      .extend(session({ storage, initial: make as () => object }))
      .on("message", () => void (ran = true));
    await bot.updates.handleUpdate(updates.message(1));
    assert.match(
      String(errorsOf(bot)[0]),
      /Put it in a field, e\.g\. initial: \(\) => \(\{ items: new (Map|Set|Date)\(\) \}\)/,
    );
    assert.equal(ran, false);
    const assigning = testBot()
      .extend(session({ storage, initial: (): object => ({}) }))
      .on("message", (ctx) => void (ctx.session = make()));
    await assigning.updates.handleUpdate(updates.message(1));
    assert.match(String(errorsOf(assigning)[0]), /was assigned a (Map|Set|Date)/);
    assert.equal(totals(storage.calls).writes, 0);
  }
});
