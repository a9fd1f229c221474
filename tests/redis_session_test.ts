import assert from "node:assert/strict";
import { session, SessionDataError, sessionStore } from "../mod.ts";
import { redisStorage } from "../redis.ts";
import { errorsOf, testBot, updates } from "./support/bot.ts";
import { openIoRedis, redisAvailable, testPrefix } from "./support/redis_clients.ts";

Deno.test("Redis sessions: undecodable data is reported and kept, or reset on request; listing", async () => {
  if (!await redisAvailable()) return;
  const redis = await openIoRedis();
  const client = redis.client as unknown as {
    set(key: string, value: string): Promise<unknown>;
    get(key: string): Promise<string | null>;
  };
  const prefix = testPrefix();
  const storage = redisStorage(redis.client, { prefix });
  try {
    await client.set(`${prefix}1`, "{not json");
    let ran = false;
    const strict = testBot()
      .extend(session({ storage, initial: () => ({ count: 0 }) }))
      .on("message", () => void (ran = true));
    await strict.updates.handleUpdate(updates.message(1));
    assert.equal(ran, false);
    assert.ok(errorsOf(strict)[0] instanceof SessionDataError);
    assert.match((errorsOf(strict)[0] as Error).message, /undecodable/);
    assert.equal(await client.get(`${prefix}1`), "{not json", "left as it is");

    const resetting = testBot()
      .extend(session({ storage, onInvalidData: "reset", initial: () => ({ count: 0 }) }))
      .on("message", (context) => void context.session.count++);
    await resetting.updates.handleUpdate(updates.message(1));
    await resetting.updates.handleUpdate(updates.message(2));
    assert.deepEqual(errorsOf(resetting), []);
    assert.deepEqual(await storage.get("1"), { count: 1 });

    const keys: string[] = [];
    for await (const key of sessionStore({ storage }).keys()) keys.push(key);
    assert.deepEqual(keys.sort(), ["1", "2"]);
  } finally {
    await storage.delete("1");
    await storage.delete("2");
    await redis.close();
  }
});
