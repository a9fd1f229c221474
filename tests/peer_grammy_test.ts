/**
 * grammY's session test suite (test/convenience/session.test.ts), re-expressed
 * for this plugin: a real GramIO bot, real storages. Where grammY's semantics
 * differ on purpose (a session is always an object; unchanged sessions are not
 * written; several `session()` plugins instead of `type: "multi"`), the test
 * states ours and says so.
 */

import assert from "node:assert/strict";
import {
  inMemoryStorage,
  type Migrations,
  session,
  SessionDataError,
  SessionError,
} from "../mod.ts";
import type { Storage } from "../src/storage.ts";
import { ENVELOPE_MARK } from "../src/record.ts";
import { errorsOf, gate, mapStorage, testBot, updates } from "./support/bot.ts";

/** A plain storage that records every call with its arguments and result. */
function recordingStorage(inner: Storage = mapStorage()) {
  const calls = {
    get: [] as { key: string; returned: unknown }[],
    set: [] as { key: string; value: unknown }[],
    delete: [] as string[],
  };
  const storage: Storage = {
    get: async (key) => {
      const returned = await inner.get(key);
      calls.get.push({ key, returned: structuredClone(returned) });
      return returned;
    },
    set: (key, value) => {
      calls.set.push({ key, value: structuredClone(value) });
      return inner.set(key, value);
    },
    has: (key) => inner.has(key),
    delete: (key) => {
      calls.delete.push(key);
      return inner.delete(key);
    },
  };
  return { storage, calls };
}

const modes = [false, true] as const;
const mode = (lazy: boolean) => (lazy ? "lazy" : "eager");

for (const lazy of modes) {
  // grammY: "should pass through updates"
  Deno.test(`grammY port, ${mode(lazy)}: later middleware gets the very same context`, async () => {
    const seen: unknown[] = [];
    let given: unknown;
    const bot = testBot()
      .use((ctx, next) => {
        given = ctx;
        return next();
      })
      .extend(session({ storage: inMemoryStorage(), lazy }))
      .use((ctx) => void seen.push(ctx));
    await bot.updates.handleUpdate(updates.message(42));
    assert.deepEqual(errorsOf(bot), []);
    assert.equal(seen.length, 1);
    assert.equal(seen[0], given);
  });

  // grammY: "should throw when reading from empty session key" (default key and () => undefined)
  Deno.test(`grammY port, ${mode(lazy)}: reading the session of an update without a key throws`, async () => {
    for (const getSessionKey of [undefined, () => undefined]) {
      const storage = recordingStorage();
      const bot = testBot()
        .extend(session({ storage: storage.storage, lazy, getSessionKey }))
        .use(async (ctx) => {
          await ctx.session;
        });
      // A channel post has no sender: the default key is missing.
      await bot.updates.handleUpdate(updates.channelPost(-100500));
      const [error] = errorsOf(bot);
      assert.ok(error instanceof SessionError, String(error));
      assert.match(error.message, /getSessionKey returned no key/);
      assert.deepEqual(storage.calls, { get: [], set: [], delete: [] });
    }
  });

  // grammY: "should throw when writing to empty session key"
  Deno.test(`grammY port, ${mode(lazy)}: assigning the session of an update without a key throws`, async () => {
    const storage = recordingStorage();
    const bot = testBot()
      .extend(session({ storage: storage.storage, lazy, getSessionKey: () => undefined }))
      .use((ctx) => {
        ctx.session = { n: 0 };
      });
    await bot.updates.handleUpdate(updates.message(42));
    const [error] = errorsOf(bot);
    assert.ok(error instanceof SessionError, String(error));
    assert.deepEqual(storage.calls, { get: [], set: [], delete: [] });
  });

  // grammY: "should skip write upon error" (and the lazy variant that assigns after a read)
  Deno.test(`grammY port, ${mode(lazy)}: a handler that assigns then throws writes nothing`, async () => {
    const storage = recordingStorage();
    await storage.storage.set("42", { n: 0 });
    storage.calls.set.length = 0;
    const bot = testBot()
      .extend(session({ storage: storage.storage, lazy, initial: () => ({ n: 0 }) }))
      .use(async (ctx) => {
        const old = await ctx.session;
        ctx.session = { n: old.n + 1 };
        throw new Error("err");
      });
    await bot.updates.handleUpdate(updates.message(42));
    assert.match(String(errorsOf(bot)[0]), /err/);
    assert.deepEqual(storage.calls.get.map((c) => c.key), ["42"]);
    assert.equal(storage.calls.set.length, 0);
    assert.equal(storage.calls.delete.length, 0);
    assert.deepEqual(await storage.storage.get("42"), { n: 0 });
  });

  // grammY: "should do IO with primitives". Deliberate difference: a session is
  // always an object, so the value is wrapped; the read / write / delete trace is the same.
  Deno.test(`grammY port, ${mode(lazy)}: write on change, delete on = undefined (wrapped value)`, async () => {
    const storage = recordingStorage();
    await storage.storage.set("42", { value: 0 });
    storage.calls.set.length = 0;
    const bot = testBot()
      .extend(session({ storage: storage.storage, lazy, initial: () => ({ value: 0 }) }))
      .use(async (ctx) => {
        if ((await ctx.session).value === 0) ctx.session = { value: 1 };
        else ctx.session = undefined;
      });
    await bot.updates.handleUpdate(updates.message(42));
    await bot.updates.handleUpdate(updates.message(42));
    assert.deepEqual(errorsOf(bot), []);
    assert.deepEqual(storage.calls.get, [
      { key: "42", returned: { value: 0 } },
      { key: "42", returned: { value: 1 } },
    ]);
    assert.deepEqual(storage.calls.set, [{ key: "42", value: { value: 1 } }]);
    assert.deepEqual(storage.calls.delete, ["42"]);
    assert.equal(await storage.storage.get("42"), undefined);
  });

  // grammY: "should work with custom session keys" (grammY's `prefix` option is
  // part of getSessionKey here; a number key is used as its decimal string).
  Deno.test(`grammY port, ${mode(lazy)}: a custom key (number or prefixed) is what storage sees`, async () => {
    for (
      const [getSessionKey, expected] of [
        [(ctx: { chatId?: number }) => (ctx.chatId ? ctx.chatId ** 2 : undefined), "1764"],
        [
          (ctx: { chatId?: number }) => (ctx.chatId ? `xyz-${ctx.chatId ** 2}` : undefined),
          "xyz-1764",
        ],
      ] as const
    ) {
      const storage = recordingStorage();
      await storage.storage.set(expected, { value: 0 });
      storage.calls.set.length = 0;
      const bot = testBot()
        .extend(
          session({ storage: storage.storage, lazy, getSessionKey, initial: () => ({ value: 0 }) }),
        )
        .use(async (ctx) => {
          if ((await ctx.session).value === 0) ctx.session = { value: 1 };
          else ctx.session = null;
        });
      await bot.updates.handleUpdate(updates.message(7, "hi", 42));
      await bot.updates.handleUpdate(updates.message(8, "hi", 42));
      assert.deepEqual(errorsOf(bot), []);
      assert.deepEqual(storage.calls.get.map((c) => [c.key, c.returned]), [
        [expected, { value: 0 }],
        [expected, { value: 1 }],
      ]);
      assert.deepEqual(storage.calls.set, [{ key: expected, value: { value: 1 } }]);
      assert.deepEqual(storage.calls.delete, [expected]);
    }
  });

  // grammY: "should do IO with objects". Difference: our $clear / `= undefined`
  // resets the object to initial() at once, so initial() runs 3 times, not 2.
  Deno.test(`grammY port, ${mode(lazy)}: object IO over five updates: three writes, a delete, a fresh start`, async () => {
    const storage = recordingStorage();
    let initialCalls = 0;
    const bot = testBot()
      .extend(session({
        storage: storage.storage,
        lazy,
        initial: (): Record<string, number> => (initialCalls++, {}),
      }))
      .use(async (ctx) => {
        const s = await ctx.session;
        switch (Object.keys(s).length) {
          case 0:
            s.foo = 0;
            break;
          case 1:
            s.foo++;
            s.bar = 0;
            break;
          case 2:
            s.bar++;
            s.baz = 0;
            break;
          case 3:
            ctx.session = undefined;
            break;
        }
      });
    for (let i = 0; i < 5; i++) await bot.updates.handleUpdate(updates.message(42));
    assert.deepEqual(errorsOf(bot), []);
    assert.deepEqual(storage.calls.get.map((c) => c.returned), [
      undefined,
      { foo: 0 },
      { foo: 1, bar: 0 },
      { foo: 1, bar: 1, baz: 0 },
      undefined,
    ]);
    assert.deepEqual(storage.calls.set.map((c) => c.value), [
      { foo: 0 },
      { foo: 1, bar: 0 },
      { foo: 1, bar: 1, baz: 0 },
      { foo: 0 },
    ]);
    assert.deepEqual(storage.calls.delete, ["42"]);
    assert.equal(initialCalls, 3);
  });

  // grammY multi session: "should pass through updates", "should do IO with
  // objects". Ours: one session() plugin per fragment, each with its own key
  // and storage.
  Deno.test(`grammY port, ${mode(lazy)}: two session plugins on two storages do their IO independently`, async () => {
    const first = recordingStorage();
    const second = recordingStorage();
    const bot = testBot()
      .extend(session({
        key: "prop0",
        storage: first.storage,
        lazy,
        initial: (): Record<string, number> => ({}),
      }))
      .extend(session({
        key: "prop1",
        storage: second.storage,
        lazy,
        initial: (): Record<string, number> => ({}),
      }))
      .use(async (ctx) => {
        const prop0 = await ctx.prop0;
        const prop1 = await ctx.prop1;
        switch (Object.keys(prop0).length) {
          case 0:
            prop0.foo = 0;
            prop1.foo = 0;
            break;
          case 1:
            prop0.foo++;
            prop0.bar = 0;
            prop1.foo++;
            break;
          case 2:
            prop0.bar++;
            prop0.baz = 0;
            prop1.foo++;
            break;
          case 3:
            await prop0.$clear();
            await prop1.$clear();
            break;
        }
      });
    for (let i = 0; i < 5; i++) await bot.updates.handleUpdate(updates.message(42));
    assert.deepEqual(errorsOf(bot), []);
    assert.deepEqual(first.calls.set.map((c) => c.value), [
      { foo: 0 },
      { foo: 1, bar: 0 },
      { foo: 1, bar: 1, baz: 0 },
      { foo: 0 },
    ]);
    assert.deepEqual(second.calls.set.map((c) => c.value), [
      { foo: 0 },
      { foo: 1 },
      { foo: 2 },
      { foo: 0 },
    ]);
    assert.deepEqual(first.calls.delete, ["42"]);
    assert.deepEqual(second.calls.delete, ["42"]);
    assert.equal(first.calls.get.length, 5);
    assert.equal(second.calls.get.length, 5);
  });

  // grammY multi session: "should throw when reading/writing to empty session key"
  // for one fragment: the other fragment still works.
  Deno.test(`grammY port, ${mode(lazy)}: one of two sessions without a key throws; the other is saved`, async () => {
    const keyed = recordingStorage();
    let caught: unknown;
    const bot = testBot()
      .extend(session({ key: "userData", storage: keyed.storage, lazy, initial: () => ({ n: 0 }) }))
      .extend(
        session({ key: "none", storage: inMemoryStorage(), lazy, getSessionKey: () => undefined }),
      )
      .use(async (ctx) => {
        (await ctx.userData).n++;
        try {
          await ctx.none;
        } catch (error) {
          caught = error;
        }
        assert.throws(() => (ctx.none = { n: 1 } as never), SessionError);
      });
    await bot.updates.handleUpdate(updates.message(42));
    assert.deepEqual(errorsOf(bot), []);
    assert.ok(caught instanceof SessionError);
    assert.deepEqual(keyed.calls.set, [{ key: "42", value: { n: 1 } }]);
  });

  // grammY multi session: "should skip write upon error"
  Deno.test(`grammY port, ${mode(lazy)}: a throwing handler saves neither of two sessions`, async () => {
    const first = recordingStorage();
    const second = recordingStorage();
    const bot = testBot()
      .extend(session({ key: "a", storage: first.storage, lazy, initial: () => ({ n: 0 }) }))
      .extend(session({ key: "b", storage: second.storage, lazy, initial: () => ({ n: 0 }) }))
      .use(async (ctx) => {
        (await ctx.a).n = 1;
        (await ctx.b).n = 1;
        throw new Error("err");
      });
    await bot.updates.handleUpdate(updates.message(42));
    assert.match(String(errorsOf(bot)[0]), /err/);
    assert.equal(first.calls.get.length, 1);
    assert.equal(second.calls.get.length, 1);
    assert.equal(first.calls.set.length + first.calls.delete.length, 0);
    assert.equal(second.calls.set.length + second.calls.delete.length, 0);
  });
}

// grammY lazy: "should not read after write"
Deno.test("grammY port, lazy: assigning, then awaiting, reads nothing and writes once", async () => {
  const storage = recordingStorage();
  let seen: unknown;
  const bot = testBot()
    .extend(session({ storage: storage.storage, lazy: true, initial: () => ({ n: 5 }) }))
    .use(async (ctx) => {
      ctx.session = { n: 0 };
      seen = { ...(await ctx.session) };
    });
  await bot.updates.handleUpdate(updates.message(42));
  assert.deepEqual(errorsOf(bot), []);
  assert.deepEqual(seen, { n: 0 });
  assert.equal(storage.calls.get.length, 0);
  assert.deepEqual(storage.calls.set, [{ key: "42", value: { n: 0 } }]);
});

// grammY lazy: "should not write if nothing was read"
Deno.test("grammY port, lazy: an untouched session is neither read nor written", async () => {
  const storage = recordingStorage();
  const bot = testBot()
    .extend(session({ storage: storage.storage, lazy: true, initial: () => ({ n: 0 }) }))
    .use(() => {});
  await bot.updates.handleUpdate(updates.message(42));
  assert.deepEqual(storage.calls, { get: [], set: [], delete: [] });
});

// grammY lazy: "should discard read if it completes after manual write"
Deno.test("grammY port, lazy: an assignment made while the read is in flight wins over what is read", async () => {
  const slow = gate();
  const inner = mapStorage();
  await inner.set("42", { n: 0 });
  const storage: Storage = {
    ...inner,
    get: async (key) => {
      await slow.promise;
      return inner.get(key);
    },
  };
  const seen: unknown[] = [];
  const bot = testBot()
    .extend(session({ storage, lazy: true, initial: () => ({ n: -1 }) }))
    .use(async (ctx) => {
      const reading = Promise.resolve(ctx.session).then(async (s) => {
        seen.push(s.n, (await ctx.session).n);
      });
      ctx.session = { n: 42 };
      slow.open();
      await reading;
    });
  await bot.updates.handleUpdate(updates.message(42));
  assert.deepEqual(errorsOf(bot), []);
  assert.deepEqual(seen, [42, 42]);
  assert.deepEqual(await inner.get("42"), { n: 42 });
});

// grammY lazy: "should await written promises". Deliberate difference: a
// promise is not session data; assigning one is refused with the fix, instead
// of being stored as an empty object.
Deno.test("grammY port, lazy and eager: assigning a promise is refused, never stored as {}", async () => {
  for (const lazy of modes) {
    const storage = recordingStorage();
    const bot = testBot()
      .extend(session({ storage: storage.storage, lazy, initial: () => ({ n: 0 }) }))
      .use((ctx) => {
        (ctx as unknown as { session: unknown }).session = Promise.resolve({ n: 42 });
      });
    await bot.updates.handleUpdate(updates.message(42));
    assert.match(String(errorsOf(bot)[0]), /Promise.*await/s);
    assert.equal(storage.calls.set.length, 0);
  }
});

// grammY lazy: "should wait for read ops to complete"
Deno.test("grammY port, lazy: a read the handler did not await finishes before the update ends", async () => {
  const storage = recordingStorage();
  let done = false;
  const bot = testBot()
    .extend(session({ storage: storage.storage, lazy: true, initial: () => ({ n: 0 }) }))
    .use((ctx) => {
      Promise.resolve(ctx.session).then((s) => {
        s.n = 1;
        done = true;
      });
    });
  await bot.updates.handleUpdate(updates.message(42));
  assert.deepEqual(errorsOf(bot), []);
  assert.equal(done, true);
  assert.deepEqual(storage.calls.get.map((c) => c.key), ["42"]);
  // The change made in the unawaited callback is saved (grammY writes the initial value).
  assert.deepEqual(storage.calls.set, [{ key: "42", value: { n: 1 } }]);
});

// grammY lazy: "should throw when used with multi sessions" has no counterpart
// (no multi type). grammY enhanceStorage: timeouts and migrations, through the plugin.

/** A clock the test moves by hand. */
function manualClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

// grammY enhanceStorage: "should support timeouts"
Deno.test("grammY port: ttl makes a session read as initial() again, then it lives again", async () => {
  const clock = manualClock();
  const storage = mapStorage();
  const seen: number[] = [];
  const bot = testBot()
    .extend(session({ storage, ttl: 100, clock: clock.now, initial: () => ({ n: 0 }) }))
    .use((ctx) => {
      seen.push(ctx.session.n);
      ctx.session.n = 42;
    });
  await bot.updates.handleUpdate(updates.message(42));
  await bot.updates.handleUpdate(updates.message(42));
  clock.advance(101);
  await bot.updates.handleUpdate(updates.message(42));
  await bot.updates.handleUpdate(updates.message(42));
  assert.deepEqual(errorsOf(bot), []);
  assert.deepEqual(seen, [0, 42, 0, 42]);
});

const numberMigrations: Migrations = {
  3: (old: { n: number }) => ({ n: old.n * 2 }),
  12: (old: { n: number }) => ({ n: old.n ** 2 }),
  1: (old: { n: number }) => ({ n: old.n + 10 }),
};

// grammY enhanceStorage: "from the start", "from the middle", "up-to-date",
// "missing migrations" (stored version 8 runs only 12).
for (
  const [name, stored, expected] of [
    ["from the start (unversioned data)", { n: 0 }, 400],
    ["from the middle (version 3)", { [ENVELOPE_MARK]: 1, data: { n: 5 }, version: 3 }, 25],
    [
      "none for up-to-date data (version 12)",
      { [ENVELOPE_MARK]: 1, data: { n: 42 }, version: 12 },
      42,
    ],
    ["after a gap (version 8)", { [ENVELOPE_MARK]: 1, data: { n: 5 }, version: 8 }, 25],
  ] as const
) {
  Deno.test(`grammY port: migrations run in numeric order ${name}`, async () => {
    const storage = mapStorage();
    await storage.set("42", stored);
    let seen: number | undefined;
    const bot = testBot()
      .extend(session({ storage, migrations: numberMigrations, initial: () => ({ n: 0 }) }))
      .use((ctx) => void (seen = ctx.session.n));
    await bot.updates.handleUpdate(updates.message(42));
    assert.deepEqual(errorsOf(bot), []);
    assert.equal(seen, expected);
  });
}

// grammY enhanceStorage: "should not migrate undefined values"
Deno.test("grammY port: migrations never run on a session that does not exist", async () => {
  const bot = testBot()
    .extend(session({
      storage: mapStorage(),
      migrations: {
        1: () => {
          throw new Error("nope");
        },
      },
      initial: () => ({ n: 0 }),
    }))
    .use((ctx) => void ctx.session.n++);
  await bot.updates.handleUpdate(updates.message(42));
  assert.deepEqual(errorsOf(bot), []);
});

// grammY enhanceStorage: "should be able to combine timeouts and migrations"
Deno.test("grammY port: ttl and migrations together", async () => {
  const clock = manualClock();
  const storage = mapStorage();
  await storage.set("42", { n: 0 });
  const seen: number[] = [];
  const bot = testBot()
    .extend(session({
      storage,
      ttl: 100,
      clock: clock.now,
      migrations: numberMigrations,
      initial: () => ({ n: -1 }),
    }))
    .use((ctx) => void seen.push(ctx.session.n));
  await bot.updates.handleUpdate(updates.message(42)); // migrated (400) and saved with a stamp
  clock.advance(101);
  await bot.updates.handleUpdate(updates.message(42)); // expired
  assert.deepEqual(errorsOf(bot), []);
  assert.deepEqual(seen, [400, -1]);
});

// Deliberate difference from grammY's "IO with primitives": a stored
// primitive is not a session; it is reported and left as it is.
Deno.test("grammY port: a stored primitive is a SessionDataError, not a session", async () => {
  const storage = mapStorage();
  await storage.set("42", 0);
  let ran = false;
  const bot = testBot()
    .extend(session({ storage, initial: () => ({ n: 0 }) }))
    .use(() => void (ran = true));
  await bot.updates.handleUpdate(updates.message(42));
  assert.ok(errorsOf(bot)[0] instanceof SessionDataError);
  assert.equal(ran, false);
  assert.equal(await storage.get("42"), 0);
});

// grammyjs/storages denokv "Pizza counter tests", on a real Deno KV file.
Deno.test("grammY storages port: a counter on a Deno KV file", async () => {
  const { denoKvStorage } = await import("../mod.ts");
  const dir = await Deno.makeTempDir();
  const kv = await Deno.openKv(`${dir}/kv.db`);
  try {
    const seen: number[] = [];
    const bot = testBot()
      .extend(session({ storage: denoKvStorage(kv), initial: () => ({ pizzaCount: 0 }) }))
      .use((ctx) => {
        seen.push(ctx.session.pizzaCount);
        ctx.session.pizzaCount = Number(ctx.session.pizzaCount) + 1;
      });
    await bot.updates.handleUpdate(updates.message(42));
    await bot.updates.handleUpdate(updates.message(42));
    assert.deepEqual(errorsOf(bot), []);
    assert.deepEqual(seen, [0, 1]);
  } finally {
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
});
