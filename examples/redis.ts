/**
 * The README's Redis example: the counter bot with its sessions in Redis
 * (through an ioredis client), so several bot processes can share them.
 *
 *   BOT_TOKEN=123:abc REDIS_URL=redis://127.0.0.1:6379 deno run -A examples/redis.ts
 *
 * Optional env: REDIS_URL (default redis://127.0.0.1:6379), TELEGRAM_API_URL
 * (another Bot API server's root).
 *
 * @module
 */

import { Redis } from "ioredis";
import { Bot, type BotOptions, type TelegramUser } from "gramio";
import { session } from "../mod.ts";
import { type RedisClientLike, redisStorage } from "../redis.ts";

/** What the tests change. */
export interface RedisBotOptions {
  /** An ioredis, node-redis or Bun client. */
  redis: RedisClientLike;
  /** Prepended to the Redis key of every session. Default `"gramio-session:"`. */
  prefix?: string;
  /** GramIO's `api` option, e.g. `{ baseURL: "http://127.0.0.1:8081/bot" }`. */
  api?: Partial<BotOptions["api"]>;
  /** The bot's `getMe`, to skip that call on start. */
  info?: TelegramUser;
}

/** The counter bot on Redis. */
export function createRedisBot(token: string, options: RedisBotOptions) {
  return new Bot(token, { api: options.api, info: options.info })
    .extend(
      session({
        key: "sessionKey",
        initial: () => ({ apple: 1 }),
        storage: redisStorage(options.redis, { prefix: options.prefix }),
      }),
    )
    .on("message", (context) => {
      context.send(`apple count is ${++context.sessionKey.apple}`);
    });
}

if (import.meta.main) {
  const token = Deno.env.get("BOT_TOKEN");
  if (!token) {
    throw new Error("Set BOT_TOKEN to your bot's token (from @BotFather).");
  }
  const apiRoot = Deno.env.get("TELEGRAM_API_URL");
  const redis = new Redis(
    Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379",
  );

  const bot = createRedisBot(token, {
    redis,
    api: apiRoot ? { baseURL: `${apiRoot}/bot` } : undefined,
  }).onStart(({ info }) => console.log(`@${info.username} is running`));

  // Stop gracefully: bot.stop() waits for running handlers and session saves.
  const shutdown = async () => {
    await bot.stop();
    await redis.quit();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", shutdown);
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", shutdown);

  await bot.start();
}
