// redisStorage from the built package with Bun's built-in RedisClient against
// the real Redis at 127.0.0.1:6379 (REDIS_URL overrides). Bun only: run with
// `bun test`. Redis down: skipped with a loud message, or a failure when CI is set.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import process from "node:process";
import { inMemoryStorage, session } from "@gramio/session";
import { redisStorage } from "@gramio/session/redis";
import { message, testBot } from "./support/bot.mjs";

const url = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
// Bun's global rather than `import ... from "bun"`, which Deno's `deno check .` cannot resolve.
const RedisClient = globalThis.Bun?.RedisClient;
let client;
let unreachable;
if (!RedisClient) {
  unreachable = "Bun's RedisClient needs Bun: run this file with `bun test`";
} else {
  client = new RedisClient(url, {
    autoReconnect: false,
    connectionTimeout: 2000,
  });
  try {
    await client.connect();
    assert.equal(await client.send("PING", []), "PONG");
  } catch (error) {
    unreachable = `Redis at ${url} is unreachable (${error?.message ?? error})`;
    if (process.env.CI) {
      throw new Error(`${unreachable}; CI is set, so this is a failure`);
    }
    console.warn(
      `\n!!! SKIPPING the Bun RedisClient tests: ${unreachable}. Start Redis or set CI to fail instead.\n`,
    );
  }
}
const skip = unreachable ?? false;
const prefix = `gramio-session-bun-test:${process.pid}:${Date.now()}:`;

after(async () => {
  if (unreachable) return client?.close();
  const storage = redisStorage(client, { prefix });
  for await (const key of storage.keys()) await storage.delete(key);
  client.close();
});

test("Bun RedisClient: values round-trip with Date, Map, Set and BigInt", {
  skip,
}, async () => {
  const storage = redisStorage(client, { prefix });
  const value = {
    seen: new Date(1_700_000_000_000),
    tags: new Map([["a", 1], ["b", 2]]),
    ids: new Set([1n, 2n]),
    nested: { list: [1, "two", null] },
  };
  await storage.set("round-trip", value);
  const back = await storage.get("round-trip");
  assert.ok(back.seen instanceof Date);
  assert.ok(back.tags instanceof Map);
  assert.deepEqual(back, value);
  assert.equal(await storage.has("round-trip"), true);
  assert.equal(await storage.delete("round-trip"), true);
  assert.equal(await storage.get("round-trip"), undefined);
});

test(
  "Bun RedisClient: setIfVersion rejects a stale version",
  { skip },
  async () => {
    const storage = redisStorage(client, { prefix });
    assert.equal(await storage.setIfVersion("cas", { n: 1 }, null), true);
    const { value, version } = await storage.getVersioned("cas");
    assert.deepEqual(value, { n: 1 });
    assert.equal(await storage.setIfVersion("cas", { n: 2 }, version), true);
    assert.equal(
      await storage.setIfVersion("cas", { n: 3 }, version),
      false,
      "stale version must lose",
    );
    assert.equal(
      await storage.setIfVersion("cas", { n: 4 }, null),
      false,
      "null means must not exist",
    );
    assert.deepEqual(await storage.get("cas"), { n: 2 });
  },
);

test(
  "Bun RedisClient: ttl becomes PX, keys() lists this prefix",
  { skip },
  async () => {
    const storage = redisStorage(client, { prefix });
    await storage.set("ttl", { n: 1 }, { ttl: 60_000 });
    const pttl = Number(await client.send("PTTL", [`${prefix}ttl`]));
    assert.ok(pttl > 0 && pttl <= 60_000, `PTTL ${pttl}`);
    const keys = [];
    for await (const key of storage.keys()) keys.push(key);
    assert.ok(keys.includes("ttl"), keys.join(", "));
  },
);

test(
  "Bun RedisClient: the counter bot's sessions survive a new bot",
  { skip },
  async () => {
    const run = async (updates) => {
      const replies = [];
      const bot = testBot()
        .extend(session({
          key: "sessionKey",
          storage: redisStorage(client, { prefix: `${prefix}counter:` }),
          initial: () => ({ apple: 1 }),
        }))
        .on("message", (context) => {
          replies.push(
            `${context.senderId}: apple count is ${++context.sessionKey.apple}`,
          );
        });
      for (const from of updates) await bot.updates.handleUpdate(message(from));
      assert.deepEqual(bot.errors, []);
      return replies;
    };
    assert.deepEqual(await run([1, 1, 2]), [
      "1: apple count is 2",
      "1: apple count is 3",
      "2: apple count is 2",
    ]);
    assert.deepEqual(await run([1]), ["1: apple count is 4"]);
    assert.ok(inMemoryStorage()); // the main entry and ./redis load side by side
  },
);
