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
import { runFromEnv } from "./run.ts";

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
  const redis = new Redis(Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379");
  await runFromEnv((token, { api }) => createRedisBot(token, { redis, api }), () => redis.quit());
}
