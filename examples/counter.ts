/**
 * The counter bot of the README: every message raises the sender's apple
 * count, kept in Deno KV (the default storage), so it survives restarts.
 *
 *   BOT_TOKEN=123:abc deno run -A examples/counter.ts
 *
 * Optional env: TELEGRAM_API_URL, another Bot API server's root (a local
 * `telegram-bot-api`, or an emulator in tests), e.g. http://127.0.0.1:8081;
 * KV_PATH, a Deno KV file for the sessions instead of `Deno.openKv()`'s
 * default database.
 *
 * @module
 */

import { Bot, type BotOptions, type TelegramUser } from "gramio";
import { session, type Storage } from "../mod.ts";
import { runFromEnv } from "./run.ts";

/** What the tests and the demo change; a deployed bot passes none of it. */
export interface CounterBotOptions {
  /** GramIO's `api` option, e.g. `{ baseURL: "http://127.0.0.1:8081/bot" }`. */
  api?: Partial<BotOptions["api"]>;
  /** The bot's `getMe`, to skip that call on start. */
  info?: TelegramUser;
  /** Where sessions live. Default: Deno KV, `Deno.openKv()`. */
  storage?: Storage;
}

/** The README's "Usage" bot, without `.onStart`/`.start()` so tests can drive it. */
export function createCounterBot(
  token: string,
  options: CounterBotOptions = {},
) {
  return new Bot(token, { api: options.api, info: options.info })
    .extend(
      session({
        key: "sessionKey",
        initial: () => ({ apple: 1 }),
        storage: options.storage,
      }),
    )
    .on("message", (context) => {
      context.send(`apple count is ${++context.sessionKey.apple}`);
    });
}

if (import.meta.main) await runFromEnv(createCounterBot);
