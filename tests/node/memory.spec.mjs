// The built package under Node's and Bun's test runners: the session plugin
// with real gramio and inMemoryStorage, updates through handleUpdate.
import assert from "node:assert/strict";
import { test } from "node:test";
import { inMemoryStorage, perChat, session, SessionError } from "@gramio/session";
import { redisStorage } from "@gramio/session/redis";
import { message, testBot } from "./support/bot.mjs";

test("eager session: the counter bot counts per user", async () => {
  const storage = inMemoryStorage();
  const replies = [];
  const bot = testBot()
    .extend(
      session({ key: "sessionKey", storage, initial: () => ({ apple: 1 }) }),
    )
    .on("message", (context) => {
      replies.push(
        `${context.senderId}: apple count is ${++context.sessionKey.apple}`,
      );
    });
  for (const from of [1, 1, 2, 1]) {
    await bot.updates.handleUpdate(message(from));
  }
  assert.deepEqual(bot.errors, []);
  assert.deepEqual(replies, [
    "1: apple count is 2",
    "1: apple count is 3",
    "2: apple count is 2",
    "1: apple count is 4",
  ]);
  assert.deepEqual(await storage.get("1"), { apple: 4 });
  assert.deepEqual(await storage.get("2"), { apple: 2 });
});

test("lazy session: no storage call when a handler does not await it", async () => {
  const inner = inMemoryStorage();
  const calls = [];
  const storage = {
    get: (key) => (calls.push(`get ${key}`), inner.get(key)),
    set: (
      key,
      value,
      options,
    ) => (calls.push(`set ${key}`), inner.set(key, value, options)),
    has: (key) => (calls.push(`has ${key}`), inner.has(key)),
    delete: (key) => (calls.push(`delete ${key}`), inner.delete(key)),
  };
  const bot = testBot()
    .extend(session({ storage, lazy: true, initial: () => ({ count: 0 }) }))
    .on("message", async (context) => {
      if (context.text !== "count") return;
      const data = await context.session;
      data.count++;
    });
  await bot.updates.handleUpdate(message(5, "hello"));
  assert.deepEqual(calls, []);
  await bot.updates.handleUpdate(message(5, "count"));
  await bot.updates.handleUpdate(message(5, "count"));
  assert.deepEqual(bot.errors, []);
  assert.deepEqual(await inner.get("5"), { count: 2 });
  assert.ok(
    calls.includes("get 5") && calls.includes("set 5"),
    calls.join(", "),
  );
});

test("$clear deletes the session; the next update starts from initial", async () => {
  const storage = inMemoryStorage();
  const seen = [];
  const bot = testBot()
    .extend(
      session({ storage, getSessionKey: perChat, initial: () => ({ n: 0 }) }),
    )
    .on("message", async (context) => {
      if (context.text === "/reset") return await context.session.$clear();
      seen.push(++context.session.n);
    });
  for (const text of ["a", "b", "/reset", "c"]) {
    await bot.updates.handleUpdate(message(9, text));
  }
  assert.deepEqual(bot.errors, []);
  assert.deepEqual(seen, [1, 2, 1]);
  assert.deepEqual(await storage.get("chat:9"), { n: 1 });
});

test("the package's exports load and are the documented kinds", () => {
  assert.equal(typeof redisStorage, "function");
  assert.ok(new SessionError("x") instanceof Error);
  assert.throws(() => redisStorage({}), /ioredis .*node-redis .*or Bun RedisClient/);
});

test("no storage option: memory with one warning that recommends what works on this runtime", async () => {
  const warnings = [];
  const warn = console.warn;
  console.warn = (...args) => warnings.push(args.join(" "));
  try {
    const counts = [];
    const bot = testBot()
      .extend(session({ initial: () => ({ n: 0 }) }))
      .on("message", (context) => {
        counts.push(++context.session.n);
      });
    for (const from of [31, 31]) await bot.updates.handleUpdate(message(from));
    assert.deepEqual(bot.errors, []);
    assert.deepEqual(counts, [1, 2]);
  } finally {
    console.warn = warn;
  }
  assert.equal(warnings.length, 1, warnings.join("\n"));
  assert.match(warnings[0], /kept in memory and lost on restart/);
  if (typeof Bun === "undefined") {
    assert.match(warnings[0], /denoKvStorage\(await openKv\("\.\/sessions\.db"\)\)/);
    assert.match(warnings[0], /@deno\/kv/);
  } else {
    // @deno/kv refuses to open a database on Bun: recommend Bun's own Redis client.
    assert.match(warnings[0], /redisStorage\(new RedisClient\(\)\)/);
    assert.doesNotMatch(warnings[0], /denoKvStorage\(/);
  }
});

test("a stored own __proto__ key stays a field (Node keeps the __proto__ setter)", async () => {
  const storage = inMemoryStorage();
  // JSON.parse makes "__proto__" an own data property, as data from a web form or an API can.
  const data = JSON.parse('{"__proto__": {"x": 1}, "y": 2}');
  await storage.set("1", data);
  const stored = await storage.get("1");
  assert.deepEqual(Object.keys(stored), ["__proto__", "y"]);
  assert.equal(Object.getPrototypeOf(stored), Object.prototype);
  assert.equal(stored.x, undefined);
});
