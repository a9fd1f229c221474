/**
 * User data round-trips whatever its shape, also when it looks like the
 * plugin's own record envelope (`{ "@gramio/session": 1, data }`), through
 * every built-in storage (memory, a Deno KV file, the real Redis) and a
 * plain JSON-style adapter.
 */
import assert from "node:assert/strict";
import { denoKvStorage, inMemoryStorage, session, sessionStore, type Storage } from "../mod.ts";
import { redisStorage } from "../redis.ts";
import { ENVELOPE_MARK } from "../src/record.ts";
import { errorsOf, mapStorage, testBot, updates } from "./support/bot.ts";
import { openIoRedis, redisAvailable, testPrefix } from "./support/redis_clients.ts";

/** Session data that a naive reader would take for the plugin's envelope. */
const lookalikes: Record<string, unknown>[] = [
  { [ENVELOPE_MARK]: 1, data: 42 },
  { [ENVELOPE_MARK]: 1, data: { x: 1 } },
  { [ENVELOPE_MARK]: 1, data: { x: 1 }, version: 3, expiresAt: 1 },
  { [ENVELOPE_MARK]: 1, note: "mine" },
  { [ENVELOPE_MARK]: "free text", data: null },
];

/** Stores each lookalike through a handler, then reads it back in a new bot and with sessionStore. */
async function roundTrip(storage: Storage, ttl?: number): Promise<void> {
  for (const [i, data] of lookalikes.entries()) {
    const user = 100 + i;
    const options = { storage, ttl, initial: (): Record<string, unknown> => ({}) };
    const writer = testBot()
      .extend(session(options))
      .on(
        "message",
        (context) => void (context.session = structuredClone(data) as typeof context.session),
      );
    await writer.updates.handleUpdate(updates.message(user));
    assert.deepEqual(errorsOf(writer), []);

    let read: unknown;
    const reader = testBot()
      .extend(session(options))
      .on("message", (context) => void (read = { ...context.session }));
    await reader.updates.handleUpdate(updates.message(user));
    assert.deepEqual(errorsOf(reader), [], JSON.stringify(data));
    assert.deepEqual(read, data);
    assert.deepEqual({ ...await sessionStore(options).get(String(user)) }, data);
    await storage.delete(String(user));
  }
}

Deno.test("data shaped like the record envelope round-trips through memory", async () => {
  await roundTrip(inMemoryStorage());
  await roundTrip(inMemoryStorage(), 60_000);
});

Deno.test("data shaped like the record envelope round-trips through a plain @gramio/storage-style adapter", async () => {
  await roundTrip(mapStorage());
  await roundTrip(mapStorage(), 60_000);
});

Deno.test("data shaped like the record envelope round-trips through a Deno KV file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gramio-session-record-" });
  const kv = await Deno.openKv(`${dir}/sessions.sqlite3`);
  try {
    await roundTrip(denoKvStorage(kv));
    await roundTrip(denoKvStorage(kv), 60_000);
  } finally {
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("data shaped like the record envelope round-trips through Redis", async () => {
  if (!await redisAvailable()) return;
  const redis = await openIoRedis();
  try {
    await roundTrip(redisStorage(redis.client, { prefix: testPrefix() }));
    await roundTrip(redisStorage(redis.client, { prefix: testPrefix() }), 60_000);
  } finally {
    await redis.close();
  }
});

Deno.test("plain data without the marker field is still stored as it is", async () => {
  const storage = inMemoryStorage();
  const bot = testBot()
    .extend(session({ storage, initial: () => ({ count: 0 }) }))
    .on("message", (context) => void context.session.count++);
  await bot.updates.handleUpdate(updates.message(1));
  assert.deepEqual(await storage.get("1"), { count: 1 });
});
