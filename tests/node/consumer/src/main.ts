// A Node user's bot, written against the published package: `tsc` (strict,
// NodeNext, skipLibCheck off) type-checks it with the built .d.ts files, then
// `node dist/main.js` runs it. Exits non-zero when an assertion fails.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { openKv } from "@deno/kv";
import { Bot, type TelegramUpdate } from "gramio";
import { Redis } from "ioredis";
import {
  type DenoKvStorage,
  denoKvStorage,
  inMemoryStorage,
  type KvLike,
  perChat,
  session,
  SessionError,
  type Storage,
} from "@gramio/session";
import { type RedisClientLike, type RedisStorage, redisStorage } from "@gramio/session/redis";

interface Apples {
  apple: number;
  note?: "maybe-empty";
}

interface Visits {
  visits: number;
  firstSeen: Date;
  tags: Map<string, number>;
}

const dir = await mkdtemp(join(tmpdir(), "gramio-session-consumer-"));
// @deno/kv's Kv must fit the structural KvLike without casts.
const kv: KvLike = await openKv(join(dir, "sessions.db"));
const kvStorage: DenoKvStorage<Visits> = denoKvStorage<Visits>(kv, {
  prefix: ["consumer"],
});
const memory: Storage = inMemoryStorage();

const replies: string[] = [];
const bot = new Bot("1:consumer", {
  info: {
    id: 1,
    is_bot: true,
    first_name: "Consumer",
    username: "consumer_bot",
  },
})
  .extend(
    session({
      key: "sessionKey",
      storage: memory,
      initial: (): Apples => ({ apple: 1 }),
    }),
  )
  .extend(
    session({
      key: "visits",
      lazy: true,
      storage: kvStorage,
      getSessionKey: perChat,
      initial: (): Visits => ({
        visits: 0,
        firstSeen: new Date(0),
        tags: new Map(),
      }),
    }),
  )
  .on("message", async (context) => {
    const apples = ++context.sessionKey.apple;
    // Lazy: a Promise of the session.
    const visits = await context.visits;
    visits.visits++;
    visits.tags.set(
      context.text ?? "",
      (visits.tags.get(context.text ?? "") ?? 0) + 1,
    );
    replies.push(`apple count is ${apples}, visit ${visits.visits}`);

    // The types are real, not `any`:
    // @ts-expect-error apple is a number
    const wrong: string = context.sessionKey.apple;
    // @ts-expect-error a lazy session is a Promise: no fields before await
    void context.visits.visits;
    // @ts-expect-error not a field of Apples
    void context.sessionKey.banana;
    const clear: () => Promise<void> = context.sessionKey.$clear;
    void wrong;
    void clear;
  });

let updateId = 0;
const message = (from: number, text: string): TelegramUpdate => ({
  update_id: ++updateId,
  message: {
    message_id: updateId,
    date: 1_700_000_000,
    chat: { id: from, type: "private", first_name: `User ${from}` },
    from: { id: from, is_bot: false, first_name: `User ${from}` },
    text,
  },
});

try {
  for (const text of ["a", "b", "a"]) {
    await bot.updates.handleUpdate(message(7, text));
  }
  await bot.updates.handleUpdate(message(8, "a"));
  assert.deepEqual(replies, [
    "apple count is 2, visit 1",
    "apple count is 3, visit 2",
    "apple count is 4, visit 3",
    "apple count is 2, visit 1",
  ]);
  const stored = await kvStorage.get("chat:7");
  assert.ok(
    stored?.firstSeen instanceof Date,
    "a Date comes back from Deno KV as a Date",
  );
  assert.deepEqual(stored.tags, new Map([["a", 2], ["b", 1]]));
  assert.ok(new SessionError("x") instanceof Error);
  console.log(
    "consumer: session(), lazy mode, inMemoryStorage and denoKvStorage(@deno/kv) work",
  );
} finally {
  kv.close?.();
  await rm(dir, { recursive: true, force: true });
}

// ioredis fits RedisClientLike; the round trip runs when Redis is up.
const client = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", {
  lazyConnect: true,
  maxRetriesPerRequest: 0,
  retryStrategy: () => null,
});
const asClient: RedisClientLike = client;
const redis: RedisStorage = redisStorage(asClient, {
  prefix: `consumer:${process.pid}:`,
});
client.on("error", () => {}); // reported by connect() below
let connected = false;
try {
  await client.connect();
  connected = true;
} catch (error) {
  if (process.env.CI) {
    throw new Error(`Redis is unreachable and CI is set: ${error}`);
  }
  console.warn(
    `consumer: SKIPPED the Redis round trip: Redis is unreachable (${error})`,
  );
}
if (connected) {
  try {
    const value = { when: new Date(5), map: new Map([["k", 1n]]) };
    await redis.set("42", value, { ttl: 60_000 });
    assert.deepEqual(await redis.get("42"), value);
    await redis.delete("42");
    assert.equal(await redis.has("42"), false);
    console.log("consumer: redisStorage(ioredis) round trip works");
  } finally {
    await client.quit();
  }
}
