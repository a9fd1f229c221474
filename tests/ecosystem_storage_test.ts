/**
 * The session next to GramIO's other plugins that take a storage: one of our
 * storages shared with a scenes-like plugin, `@gramio/storage-*` adapters that
 * keep JSON only, and derives after `session()` that return a `session`.
 */
import assert from "node:assert/strict";
import { type Bot, Plugin } from "gramio";
import {
  denoKvStorage,
  inMemoryStorage,
  session,
  SessionDataError,
  SessionError,
  sessionStore,
  type Storage,
} from "../mod.ts";
import { redisStorage } from "../redis.ts";
import { countingStorage, errorsOf, mapStorage, testBot, updates } from "./support/bot.ts";
import type { ScenesStorage, ScenesStorageData } from "./support/gramio_storage.ts";
import { jsonStorage } from "./support/json_storage.ts";
import { openIoRedis, redisAvailable, testPrefix } from "./support/redis_clients.ts";
import { scenesLike } from "./support/scenes_like.ts";

const counter = () => ({ count: 0 });

// ---------------------------------------------------------------------------
// One storage object for sessions and a scenes-like plugin.

/** A signup scene and a message counter on one storage object; checks both and the listing. */
async function sharedStorageScenario(storage: ScenesStorage & Storage): Promise<void> {
  const options = { storage, initial: counter };
  const { plugin, log } = scenesLike(storage);
  const bot = testBot()
    .extend(session(options))
    .extend(plugin)
    .on("message", (context) => void context.session.count++);
  const sessions = sessionStore(options);
  const listed = async () => {
    const keys: string[] = [];
    for await (const key of sessions.keys()) keys.push(key);
    return keys.sort();
  };

  await bot.updates.handleUpdate(updates.message(501, "/signup"));
  await bot.updates.handleUpdate(updates.message(502, "hello"));
  const during = await storage.get("@gramio/scenes:501");
  assert.equal(during?.name, "signup");
  assert.ok((during?.state as { startedAt: unknown }).startedAt instanceof Date);
  assert.equal(await storage.has("@gramio/scenes:501"), true);
  // The scene's record is in the same storage, but it is not a session.
  assert.deepEqual(await listed(), ["501", "502"]);

  await bot.updates.handleUpdate(updates.message(501, "Ann"));
  await bot.updates.handleUpdate(updates.message(501, "30"));
  assert.deepEqual(errorsOf(bot), []);
  assert.deepEqual(log.finished, [{
    name: "Ann",
    age: 30,
    startedAt: new Date(1_700_000_000_000),
  }]);
  assert.deepEqual(log.deletes, [true, false]);
  assert.equal(await storage.has("@gramio/scenes:501"), false);
  assert.deepEqual(await sessions.get("501"), { count: 3 });
  assert.deepEqual(await listed(), ["501", "502"]);
}

Deno.test("a scenes-like plugin keeps @gramio/scenes:<id> records in the session's in-memory storage", async () => {
  await sharedStorageScenario(inMemoryStorage<ScenesStorageData>());
});

Deno.test("a scenes-like plugin keeps its records in the session's Deno KV storage (Deno Deploy)", async () => {
  const dir = await Deno.makeTempDir();
  const kv = await Deno.openKv(`${dir}/shared.db`);
  try {
    await sharedStorageScenario(denoKvStorage<ScenesStorageData>(kv));
  } finally {
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a scenes-like plugin keeps its records in the session's Redis storage", async () => {
  if (!await redisAvailable()) return;
  const { client, close } = await openIoRedis();
  const storage = redisStorage<ScenesStorageData>(client, { prefix: testPrefix() });
  try {
    await sharedStorageScenario(storage);
  } finally {
    for await (const key of storage.keys()) await storage.delete(key);
    await close();
  }
});

Deno.test("Deno KV storage keeps @gramio/storage's contract: set resolves nothing, delete and has say whether it was there", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const storage = denoKvStorage(kv);
    const big = { blob: "x".repeat(100_000) }; // chunked: delete removes its chunks too
    assert.equal(await storage.set("@gramio/scenes:1", { name: "a" }), undefined);
    await storage.set("big", big);
    assert.equal(await storage.has("@gramio/scenes:1"), true);
    assert.equal(await storage.delete("@gramio/scenes:1"), true);
    assert.equal(await storage.delete("@gramio/scenes:1"), false);
    assert.equal(await storage.has("@gramio/scenes:1"), false);
    assert.equal(await storage.delete("big"), true);
    let left = 0;
    for await (const _ of kv.list({ prefix: ["gramio-session"] })) left++;
    assert.equal(left, 0);
  } finally {
    kv.close();
  }
});

Deno.test("in-memory storage: delete says whether there was a value, an expired one counts as gone", () => {
  let now = 0;
  const storage = inMemoryStorage({ clock: () => now });
  storage.set("a", { x: 1 });
  storage.set("b", { x: 1 }, { ttl: 10 });
  now = 20;
  assert.equal(storage.delete("a"), true);
  assert.equal(storage.delete("a"), false);
  assert.equal(storage.delete("b"), false);
});

Deno.test("a session key under @gramio/ is refused: it would overwrite another plugin's record", async () => {
  const storage = inMemoryStorage();
  storage.set("@gramio/scenes:5", { name: "signup" });
  let ran = 0;
  const bot = testBot()
    .extend(session({ storage, getSessionKey: (ctx) => `@gramio/scenes:${ctx.senderId}` }))
    .on("message", (context) => {
      ran++;
      (context.session as Record<string, unknown>).name = "overwritten";
    });
  await bot.updates.handleUpdate(updates.message(5));
  assert.equal(ran, 0);
  const [error] = errorsOf(bot);
  assert.ok(error instanceof SessionError);
  assert.match(
    error.message,
    /getSessionKey gave the session key "@gramio\/scenes:5".*Use another key/,
  );
  assert.deepEqual(storage.get("@gramio/scenes:5"), { name: "signup" });
  await assert.rejects(
    () => sessionStore({ storage }).get("@gramio/scenes:5"),
    /sessionStore gave the session key "@gramio\/scenes:5"/,
  );
});

// ---------------------------------------------------------------------------
// JSON-only storages (@gramio/storage-redis and the like).

interface Rich {
  tags?: Set<string>;
  seen?: Date;
  byChat?: Map<number, string>;
  count: number;
}

Deno.test("JSON-only storage: Date, Set and Map survive to the next update", async () => {
  const storage = jsonStorage();
  const seen: unknown[] = [];
  const bot = testBot()
    .extend(session({ storage, initial: (): Rich => ({ count: 0 }) }))
    .on("message", (context) => {
      const s = context.session;
      if (context.text === "first") {
        s.tags = new Set(["a"]);
        s.seen = new Date(1_700_000_000_000);
        s.byChat = new Map([[1, "x"]]);
      } else {
        s.tags!.add("b"); // "tags.add is not a function" when the Set came back as {}
        seen.push(s.seen instanceof Date && s.seen.getTime(), s.byChat?.get(1));
      }
      s.count++;
    });
  await bot.updates.handleUpdate(updates.message(601, "first"));
  await bot.updates.handleUpdate(updates.message(601, "second"));
  assert.deepEqual(errorsOf(bot), []);
  assert.deepEqual(seen, [1_700_000_000_000, "x"]);
  const stored = await sessionStore<Rich>({ storage }).get("601");
  assert.deepEqual(stored?.tags, new Set(["a", "b"]));
  assert.equal(stored?.count, 2);
});

Deno.test("JSON-only storage: BigInt, NaN, -0, undefined in arrays and shared objects round-trip", async () => {
  const storage = jsonStorage();
  const shared = { n: 1 };
  const sessions = sessionStore({ storage });
  await sessions.update("608", (s) => {
    Object.assign(s, {
      big: 2n ** 70n,
      nan: NaN,
      negZero: -0,
      list: [1, undefined],
      a: shared,
      b: shared,
    });
  });
  const stored = await sessions.get("608") as Record<string, unknown> & { a: object; b: object };
  assert.equal(stored.big, 2n ** 70n);
  assert.ok(Number.isNaN(stored.nan));
  assert.ok(Object.is(stored.negZero, -0));
  assert.deepEqual(stored.list, [1, undefined]);
  assert.equal(stored.a, stored.b);
});

Deno.test("JSON-only storage: a session JSON keeps is stored as plain JSON, as before", async () => {
  const storage = jsonStorage();
  // Written by the original plugin on @gramio/storage-redis: read as it is.
  await storage.set("602", { count: 5, profile: { name: "Ann" }, optional: null });
  const bot = testBot()
    .extend(session({ storage, initial: counter }))
    .on("message", (context) => {
      context.session.count++;
      (context.session as Record<string, unknown>).gone = undefined; // JSON leaves it out
    });
  await bot.updates.handleUpdate(updates.message(602));
  assert.deepEqual(errorsOf(bot), []);
  assert.equal(
    storage.raw.get("602"),
    JSON.stringify({ count: 6, profile: { name: "Ann" }, optional: null }),
  );
});

Deno.test("JSON-only storage: rich values with ttl and migrations round-trip in the envelope", async () => {
  const storage = jsonStorage();
  const now = 1_000;
  const options = {
    storage,
    ttl: 60_000,
    clock: () => now,
    migrations: { 1: (old: object) => ({ ...old, tags: new Set<string>() }) },
    initial: (): Rich => ({ count: 0, tags: new Set() }),
  };
  await storage.set("603", { count: 1 }); // version 0, plain JSON
  const bot = testBot()
    .extend(session(options))
    .on("message", (context) => {
      context.session.tags!.add(context.text ?? "");
      context.session.count++;
    });
  await bot.updates.handleUpdate(updates.message(603, "a"));
  await bot.updates.handleUpdate(updates.message(603, "b"));
  assert.deepEqual(errorsOf(bot), []);
  const raw = JSON.parse(storage.raw.get("603")!);
  assert.equal(raw.encoding, "devalue");
  assert.equal(raw.expiresAt, 61_000);
  assert.equal(raw.version, 1);
  const stored = await sessionStore<Rich>(options).get("603");
  assert.deepEqual(stored, { count: 3, tags: new Set(["a", "b"]) });
});

Deno.test("JSON-only storage: a class instance is refused at save, naming the key and the field", async () => {
  class Owner {
    constructor(readonly id: number) {}
  }
  const storage = jsonStorage();
  await storage.set("604", { count: 1 });
  const bot = testBot()
    .extend(session({ storage, initial: counter }))
    .on("message", (context) => {
      context.session.count++;
      (context.session as Record<string, unknown>).profile = { owner: new Owner(1) };
    });
  await bot.updates.handleUpdate(updates.message(604));
  const [error] = errorsOf(bot);
  assert.ok(error instanceof SessionError, String(error));
  assert.equal(error.sessionKey, "604");
  assert.match(
    error.message,
    /Session "604" was not saved: the value at "profile\.owner" cannot be stored/,
  );
  assert.match(error.message, /keeps JSON only/);
  assert.equal(storage.raw.get("604"), JSON.stringify({ count: 1 })); // untouched
});

Deno.test("JSON-only storage: an encoded record that cannot be decoded is a SessionDataError, or reset", async () => {
  const storage = jsonStorage();
  await storage.set("605", { "@gramio/session": 1, data: "not devalue [", encoding: "devalue" });
  await storage.set("606", { "@gramio/session": 1, data: "[]", encoding: "zstd" });
  const strict = testBot()
    .extend(session({ storage, initial: counter }))
    .on("message", (context) => void context.session.count++);
  await strict.updates.handleUpdate(updates.message(605));
  await strict.updates.handleUpdate(updates.message(606));
  const [undecodable, unknown] = errorsOf(strict);
  assert.ok(undecodable instanceof SessionDataError);
  assert.match(undecodable.message, /Session "605": the stored value is undecodable/);
  assert.ok(unknown instanceof SessionDataError);
  assert.match(unknown.message, /encoded as "zstd", which this version cannot read/);

  const lenient = testBot()
    .extend(session({ storage, initial: counter, onInvalidData: "reset" }))
    .on("message", (context) => void context.session.count++);
  await lenient.updates.handleUpdate(updates.message(605));
  assert.deepEqual(errorsOf(lenient), []);
  assert.equal(storage.raw.get("605"), JSON.stringify({ count: 1 }));
});

Deno.test("rich storages keep values as they are: ours, and a foreign one that says richValues", async () => {
  for (const storage of [inMemoryStorage(), countingStorage(inMemoryStorage()), mapStorage()]) {
    const bot = testBot()
      .extend(session({ storage, initial: (): Rich => ({ count: 0 }) }))
      .on("message", (context) => void (context.session.seen = new Date(5)));
    await bot.updates.handleUpdate(updates.message(607));
    assert.deepEqual(errorsOf(bot), []);
    assert.deepEqual(await storage.get("607"), { count: 0, seen: new Date(5) });
  }
});

// ---------------------------------------------------------------------------
// A derive after session() that returns { session }.

Deno.test("a derive after session() that returns { session } is refused, not a silent replacement", async () => {
  for (const lazy of [false, true]) {
    const storage = inMemoryStorage();
    storage.set("701", { count: 4 });
    let ran = 0;
    const bot = testBot()
      .extend(session({ storage, lazy, initial: counter }))
      .derive(() => ({ session: { count: 99 } }))
      .on("message", () => void ran++);
    await bot.updates.handleUpdate(updates.message(701));
    await bot.updates.handleUpdate(updates.message(701)); // the accessor is on the prototype by now
    assert.equal(ran, 0);
    const errors = errorsOf(bot);
    assert.equal(errors.length, 2, `lazy: ${lazy}`);
    for (const error of errors) {
      assert.ok(error instanceof SessionError, String(error));
      assert.match(
        error.message,
        /A derive \(or decorate\) after session\(\) returned a "session" property.*another name/,
      );
    }
    assert.deepEqual(storage.get("701"), { count: 4 });
  }
});

Deno.test("event derives, decorate and a plugin's derive after session() are refused too", async () => {
  // Each adds a derive or decorate returning { session } to a bot that has session() already.
  const builds: ((bot: Bot) => Bot)[] = [
    (bot) => bot.derive("message", () => ({ session: { count: 99 } })) as unknown as Bot,
    (bot) =>
      bot.derive("message", function named() {
        return { other: 1, session: { count: 99 } };
      }) as unknown as Bot,
    (bot) => bot.decorate({ session: { count: 99 } }) as unknown as Bot,
    (bot) =>
      bot.extend(
        new Plugin("replacer").derive(() => ({ session: { count: 99 } })),
      ) as unknown as Bot,
  ];
  for (const [i, build] of builds.entries()) {
    const storage = inMemoryStorage();
    const handled: unknown[] = [];
    const bot = build(testBot().extend(session({ storage, initial: counter })) as unknown as Bot)
      .on("message", (context) => void handled.push(context));
    await bot.updates.handleUpdate(updates.message(703));
    assert.equal(handled.length, 0, `build ${i}`);
    const [error] = errorsOf(bot);
    assert.ok(error instanceof SessionError, `build ${i}: ${error}`);
    assert.match(error.message, /after session\(\) returned a "session" property/);
    assert.equal(storage.has("703"), false);
  }
  // With another key, a derived "session" is just the derive's value.
  for (const [i, build] of builds.entries()) {
    const seen: unknown[] = [];
    const bot = build(
      testBot().extend(
        session({ storage: inMemoryStorage(), key: "sessionKey" }),
      ) as unknown as Bot,
    ).on("message", (context) => void seen.push((context as { session?: unknown }).session));
    await bot.updates.handleUpdate(updates.message(702));
    assert.deepEqual(errorsOf(bot), [], `build ${i}`);
    assert.deepEqual(seen, [{ count: 99 }], `build ${i}`);
  }
});

Deno.test("assigning ctx.session in a handler or a derive's body still replaces it", async () => {
  const storage = inMemoryStorage();
  const bot = testBot()
    .extend(session({ storage, initial: counter }))
    .derive("message", (context) => {
      context.session.count += 10; // changing the session inside a derive is fine
      return { greeting: "hi" };
    })
    .on("message", (context, next) => {
      if (context.text === "assign") {
        context.session = { count: 100 };
      }
      if (context.text === "object-assign") {
        Object.assign(context, { session: { count: 200, $clear: context.session.$clear } });
      }
      return next();
    });
  await bot.updates.handleUpdate(updates.message(704, "plain"));
  assert.deepEqual(storage.get("704"), { count: 10 });
  await bot.updates.handleUpdate(updates.message(704, "assign"));
  assert.deepEqual(storage.get("704"), { count: 100 });
  await bot.updates.handleUpdate(updates.message(704, "object-assign"));
  assert.deepEqual(errorsOf(bot), []);
  assert.deepEqual(storage.get("704"), { count: 200 });
  assert.deepEqual(errorsOf(bot), []);
});

Deno.test("telling a derive from an assignment leaves Error's stack settings as they were", async () => {
  const v8Error = Error as ErrorConstructor & {
    prepareStackTrace?: unknown;
    stackTraceLimit: number;
  };
  const { prepareStackTrace, stackTraceLimit } = v8Error;
  const mine = (error: Error) => `custom: ${error.message}`;
  v8Error.prepareStackTrace = mine;
  v8Error.stackTraceLimit = 7;
  try {
    const bot = testBot()
      .extend(session({ storage: inMemoryStorage(), initial: counter }))
      .on("message", (context) => {
        context.session = { count: 1 };
      });
    await bot.updates.handleUpdate(updates.message(705));
    assert.deepEqual(errorsOf(bot), []);
    assert.equal(v8Error.prepareStackTrace, mine);
    assert.equal(v8Error.stackTraceLimit, 7);
  } finally {
    v8Error.prepareStackTrace = prepareStackTrace;
    v8Error.stackTraceLimit = stackTraceLimit;
  }
});
