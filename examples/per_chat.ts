/**
 * Two sessions side by side: `context.userSession` follows the user across
 * every chat (the default key, the sender's id), `context.chatSession` is
 * shared by everyone in one chat (`perChat`). Add the bot to a group and
 * write from two accounts.
 *
 *   BOT_TOKEN=123:abc deno run -A examples/per_chat.ts
 *
 * Optional env: TELEGRAM_API_URL (another Bot API server's root), KV_PATH (a
 * Deno KV file instead of `Deno.openKv()`'s default database).
 *
 * @module
 */

import { Bot, type BotOptions, type TelegramUser } from "gramio";
import { perChat, session, type Storage } from "../mod.ts";
import { runFromEnv } from "./run.ts";

/** What the tests change; a deployed bot passes none of it. */
export interface PerChatBotOptions {
  /** GramIO's `api` option, e.g. `{ baseURL: "http://127.0.0.1:8081/bot" }`. */
  api?: Partial<BotOptions["api"]>;
  /** The bot's `getMe`, to skip that call on start. */
  info?: TelegramUser;
  /** Where both sessions live (their keys never collide). Default: Deno KV. */
  storage?: Storage;
}

/** A bot that counts each user's messages everywhere and each chat's messages. */
export function createPerChatBot(
  token: string,
  options: PerChatBotOptions = {},
) {
  return new Bot(token, { api: options.api, info: options.info })
    .extend(
      session({
        key: "userSession",
        initial: () => ({ messages: 0 }),
        storage: options.storage,
      }),
    )
    .extend(
      session({
        key: "chatSession",
        getSessionKey: perChat,
        initial: () => ({ messages: 0, lastAuthor: "" }),
        storage: options.storage,
      }),
    )
    .on("message", (context) => {
      const mine = ++context.userSession.messages;
      const chat = context.chatSession;
      const previous = chat.lastAuthor;
      chat.messages++;
      chat.lastAuthor = context.from?.firstName ?? "someone";
      return context.send(
        `you: ${mine} in all chats; this chat: ${chat.messages}` +
          (previous ? `; before you: ${previous}` : ""),
      );
    });
}

if (import.meta.main) await runFromEnv(createPerChatBot);
