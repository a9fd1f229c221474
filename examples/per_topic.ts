/**
 * One session per forum topic (`perTopic`): every topic of a forum group
 * keeps its own notes. Write in a topic to add a note, `/notes` lists them.
 *
 *   BOT_TOKEN=123:abc deno run -A examples/per_topic.ts
 *
 * Optional env: TELEGRAM_API_URL (another Bot API server's root), KV_PATH (a
 * Deno KV file instead of `Deno.openKv()`'s default database).
 *
 * @module
 */

import { Bot, type BotOptions, type TelegramUser } from "gramio";
import { perTopic, session, type Storage } from "../mod.ts";
import { runFromEnv } from "./run.ts";

/** What the tests change; a deployed bot passes none of it. */
export interface PerTopicBotOptions {
  /** GramIO's `api` option, e.g. `{ baseURL: "http://127.0.0.1:8081/bot" }`. */
  api?: Partial<BotOptions["api"]>;
  /** The bot's `getMe`, to skip that call on start. */
  info?: TelegramUser;
  /** Where sessions live. Default: Deno KV, `Deno.openKv()`. */
  storage?: Storage;
}

/** A bot that keeps a list of notes per forum topic. */
export function createPerTopicBot(
  token: string,
  options: PerTopicBotOptions = {},
) {
  return new Bot(token, { api: options.api, info: options.info })
    .extend(
      session({
        key: "topicSession",
        getSessionKey: perTopic,
        initial: () => ({ notes: [] as string[] }),
        storage: options.storage,
      }),
    )
    .on("message", (context) => {
      // Outside a topic (private chats, a forum's General topic) there is no
      // topic session: touching context.topicSession there would throw.
      if (!context.isTopicMessage()) {
        return context.send(
          "Write in a forum topic: each topic keeps its own notes.",
        );
      }
      const { notes } = context.topicSession;
      if (context.text === "/notes") {
        return context.send(
          notes.length === 0
            ? "no notes in this topic"
            : notes.map((note, i) => `${i + 1}. ${note}`).join("\n"),
        );
      }
      notes.push(context.text ?? "(no text)");
      return context.send(`noted: ${notes.length} in this topic`);
    });
}

if (import.meta.main) await runFromEnv(createPerTopicBot);
