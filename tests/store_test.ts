import assert from "node:assert/strict";
import {
  denoKvStorage,
  inMemoryStorage,
  type Migrations,
  session,
  SessionError,
  sessionStore,
} from "../mod.ts";
import { ENVELOPE_MARK } from "../src/record.ts";
import { errorsOf, gate, mapStorage, testBot, updates, within } from "./support/bot.ts";

Deno.test("sessionStore reads, changes, deletes and lists the plugin's sessions", async () => {
  const options = { storage: inMemoryStorage(), initial: () => ({ coins: 0 }) };
  const bot = testBot()
    .extend(session(options))
    .on("message", (context) => void context.session.coins++);
  await bot.updates.handleUpdate(updates.message(1));
  await bot.updates.handleUpdate(updates.message(2));
  const sessions = sessionStore(options);

  assert.deepEqual(await sessions.get("1"), { coins: 1 });
  assert.equal(await sessions.get("404"), undefined);
  const keys: string[] = [];
  for await (const key of sessions.keys()) keys.push(key);
  assert.deepEqual(keys.sort(), ["1", "2"]);

  for (const key of keys) {
    await sessions.update(key, (s) => void (s.coins += 10));
  }
  assert.deepEqual(await sessions.update("3", (s) => void (s.coins = 5)), {
    coins: 5,
  });
  await sessions.delete("2");
  assert.equal(await sessions.get("2"), undefined);

  let seen = -1;
  const reader = testBot()
    .extend(session(options))
    .on("message", (context) => void (seen = context.session.coins));
  await reader.updates.handleUpdate(updates.message(1));
  assert.equal(seen, 11);
});

Deno.test("sessionStore changes are safe against a concurrent update of the same key", async () => {
  const options = { storage: inMemoryStorage(), initial: () => ({ coins: 0 }) };
  const inside = gate();
  const release = gate();
  const bot = testBot()
    .extend(session(options))
    .on("message", async (context) => {
      const before = context.session.coins;
      inside.open();
      await release.promise;
      context.session.coins = before + 1;
    });
  const update = bot.updates.handleUpdate(updates.message(5));
  await inside.promise;
  // The cron job's change waits for the update's lock instead of racing it.
  const cron = sessionStore(options).update("5", (s) => void (s.coins += 100));
  release.open();
  await Promise.all([update, cron]);
  assert.deepEqual(errorsOf(bot), []);
  assert.deepEqual(await sessionStore(options).get("5"), { coins: 101 });
});

Deno.test("sessionStore applies ttl and migrations like the plugin", async () => {
  let now = 0;
  const migrations: Migrations = {
    1: (old: { n: number }) => ({ count: old.n }),
  };
  const storage = inMemoryStorage();
  await storage.set("6", { n: 4 });
  const sessions = sessionStore({
    storage,
    migrations,
    ttl: 100,
    clock: () => now,
    initial: () => ({ count: 0 }),
  });
  assert.deepEqual(await sessions.get("6"), { count: 4 });
  await sessions.update("6", (s) => void s.count++);
  assert.deepEqual(await storage.get("6"), {
    [ENVELOPE_MARK]: 1,
    version: 1,
    expiresAt: 100,
    data: { count: 5 },
  });
  now = 100;
  assert.equal(await sessions.get("6"), undefined);
});

Deno.test("sessionStore: a change that throws saves nothing", async () => {
  const storage = inMemoryStorage();
  const sessions = sessionStore({ storage, initial: () => ({ count: 0 }) });
  await assert.rejects(
    sessions.update("7", (s) => {
      s.count = 9;
      throw new Error("nope");
    }),
    /nope/,
  );
  assert.equal(await storage.has("7"), false);
  await sessions.update("7", (s) => void s.count++); // the lock was released
  assert.deepEqual(await storage.get("7"), { count: 1 });
});

Deno.test("sessionStore.keys() explains a storage that cannot list", () => {
  const sessions = sessionStore({ storage: mapStorage() });
  assert.throws(
    () => sessions.keys(),
    (error) => error instanceof SessionError && /keys\(\) method/.test(error.message),
  );
});

Deno.test("sessionStore lists and edits sessions on a Deno KV file", async () => {
  const dir = await Deno.makeTempDir();
  const kv = await Deno.openKv(`${dir}/sessions.db`);
  try {
    const options = { storage: denoKvStorage(kv), initial: () => ({ coins: 0 }) };
    const bot = testBot()
      .extend(session(options))
      .on("message", (context) => void context.session.coins++);
    for (const user of [1, 2, 3]) await bot.updates.handleUpdate(updates.message(user));
    const sessions = sessionStore(options);
    const keys: string[] = [];
    for await (const key of sessions.keys()) keys.push(key);
    assert.deepEqual(keys.sort(), ["1", "2", "3"]);
    await sessions.update("2", (s) => void (s.coins += 5));
    assert.deepEqual((await kv.get(["gramio-session", "2"])).value, { coins: 6 });
  } finally {
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sessionStore outside updates: using the key being updated inside update() is refused, not hung", async () => {
  const storage = inMemoryStorage();
  await storage.set("8", { count: 1 });
  const sessions = sessionStore({ storage, initial: () => ({ count: 0 }) });
  const nested = {
    get: () => sessions.get("8"),
    update: () => sessions.update("8", (t) => void t.count++),
    delete: () => sessions.delete("8"),
  };
  for (const [name, call] of Object.entries(nested)) {
    await within(assert.rejects(
      sessions.update("8", async (s) => {
        s.count = 99;
        await call();
      }),
      (error) =>
        error instanceof SessionError && /already held/.test(error.message) &&
        error.sessionKey === "8",
      name,
    ));
  }
  assert.deepEqual(await storage.get("8"), { count: 1 }, "nothing was saved");
  // Other keys, also in another storage, still work from inside the callback.
  const other = sessionStore({ storage: inMemoryStorage(), initial: () => ({ count: 0 }) });
  await within(sessions.update("8", async (s) => {
    await sessions.update("9", (t) => void (t.count = 5));
    await other.update("8", (t) => void (t.count = 7));
    s.count = (await sessions.get("9"))!.count + (await other.get("8"))!.count;
  }));
  assert.deepEqual(await storage.get("8"), { count: 12 });
});

Deno.test("sessionStore().get() returns plain data with no $clear that would do nothing", async () => {
  const options = { storage: inMemoryStorage(), initial: () => ({ coins: 0 }) };
  const sessions = sessionStore(options);
  await sessions.update("9", (s) => void (s.coins = 3));
  const got = await sessions.get("9");
  assert.ok(got);
  assert.equal("$clear" in got, false);
  // @ts-expect-error: get() is typed as the data, without $clear.
  got.$clear;
  assert.deepEqual(await sessions.get("9"), { coins: 3 });
});
