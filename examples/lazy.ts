/**
 * Lazy sessions: the session is read from storage only when a handler awaits
 * `context.sessionKey`. `/ping` never touches it, so it costs no storage call;
 * `/reset` clears it.
 *
 *   BOT_TOKEN=123:abc deno run -A examples/lazy.ts
 *
 * Optional env: TELEGRAM_API_URL (another Bot API server's root), KV_PATH (a
 * Deno KV file instead of `Deno.openKv()`'s default database).
 *
 * @module
 */

import { Bot, type BotOptions, type TelegramUser } from "gramio";
import { session, type Storage } from "../mod.ts";
import { runFromEnv } from "./run.ts";

/** What the tests change; a deployed bot passes none of it. */
export interface LazyBotOptions {
  /** GramIO's `api` option, e.g. `{ baseURL: "http://127.0.0.1:8081/bot" }`. */
  api?: Partial<BotOptions["api"]>;
  /** The bot's `getMe`, to skip that call on start. */
  info?: TelegramUser;
  /** Where sessions live. Default: Deno KV, `Deno.openKv()`. */
  storage?: Storage;
}

/** The README's lazy-session bot, plus `/ping` (no session) and `/reset`. */
export function createLazyBot(token: string, options: LazyBotOptions = {}) {
  return new Bot(token, { api: options.api, info: options.info })
    .extend(
      session({
        key: "sessionKey",
        lazy: true,
        initial: () => ({ count: 0 }),
        storage: options.storage,
      }),
    )
    // Never awaits context.sessionKey: no storage read, no write, no lock.
    .command("ping", (context) => context.send("pong"))
    .on("message", async (context) => {
      // Storage is not read until here:
      const s = await context.sessionKey;
      if (context.text === "/reset") {
        await s.$clear();
        await context.send("count reset");
        return;
      }
      s.count++;
      await context.send(`count: ${s.count}`);
    });
}

if (import.meta.main) await runFromEnv(createLazyBot);
