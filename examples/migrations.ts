/**
 * Changing the shape of stored sessions with `migrations`. The counter bot
 * (examples/counter.ts) stored `{ apple: 3 }`; this newer bot counts apples
 * and pears in `{ basket: { apples, pears } }`. Sessions saved by the old bot
 * are upgraded when they are first read, then saved at the newest version;
 * nobody loses their apples.
 *
 *   BOT_TOKEN=123:abc deno run -A examples/migrations.ts
 *
 * Optional env: TELEGRAM_API_URL (another Bot API server's root), KV_PATH (a
 * Deno KV file instead of `Deno.openKv()`'s default database).
 *
 * @module
 */

import { Bot, type BotOptions, type TelegramUser } from "gramio";
import { type Migrations, session, type Storage } from "../mod.ts";
import { runFromEnv } from "./run.ts";

/** Version 0: what examples/counter.ts stores. */
interface CounterSession {
  apple: number;
}
/** Version 1: renamed, and pears. */
interface FruitSession {
  apples: number;
  pears: number;
}
/** Version 2, the current shape. */
export interface BasketSession {
  basket: { apples: number; pears: number };
}

/** Each entry turns the previous version's data into the next one. */
export const migrations: Migrations = {
  1: (old: CounterSession): FruitSession => ({ apples: old.apple, pears: 0 }),
  2: (old: FruitSession): BasketSession => ({
    basket: { apples: old.apples, pears: old.pears },
  }),
};

/** What the tests change; a deployed bot passes none of it. */
export interface MigrationsBotOptions {
  /** GramIO's `api` option, e.g. `{ baseURL: "http://127.0.0.1:8081/bot" }`. */
  api?: Partial<BotOptions["api"]>;
  /** The bot's `getMe`, to skip that call on start. */
  info?: TelegramUser;
  /** Where sessions live. Default: Deno KV, `Deno.openKv()`. */
  storage?: Storage;
}

/** "pear" adds a pear, any other message an apple. */
export function createMigrationsBot(
  token: string,
  options: MigrationsBotOptions = {},
) {
  return new Bot(token, { api: options.api, info: options.info })
    .extend(
      session({
        key: "sessionKey",
        migrations,
        initial: (): BasketSession => ({ basket: { apples: 0, pears: 0 } }),
        storage: options.storage,
      }),
    )
    .on("message", (context) => {
      const { basket } = context.sessionKey;
      if (context.text === "pear") basket.pears++;
      else basket.apples++;
      return context.send(`apples: ${basket.apples}, pears: ${basket.pears}`);
    });
}

if (import.meta.main) await runFromEnv(createMigrationsBot);
