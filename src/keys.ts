/**
 * Key strategies for `getSessionKey`: which updates share a session. Each
 * returns `undefined` for an update that has no such scope (a channel post has
 * no sender, an inline query no chat); such updates get no session at all
 * rather than one shared session.
 *
 * @module
 */

import type { AnyBot, Context } from "gramio";

/**
 * The context `getSessionKey` and `initial` receive: any update's context. The
 * ids that only some updates have are optional.
 */
export type SessionContext = Context<AnyBot> & {
  /** The sender's user id (or the voter chat of a poll answer); absent in channel posts. */
  readonly senderId?: number;
  /** The chat's id; absent in inline queries and other chat-less updates. */
  readonly chatId?: number;
  /** The forum topic (`message_thread_id`) of a message. */
  readonly threadId?: number;
  /** The business connection a business message came through. */
  readonly businessConnectionId?: string;
};

/** A session key strategy: a string (or number) key, or `undefined` for "no session". */
export type SessionKeyResolver = (
  ctx: SessionContext,
) => string | number | undefined | Promise<string | number | undefined>;

/** Reads a context getter; some getters throw on updates that lack the field. */
function field(source: unknown, name: string): unknown {
  if (typeof source !== "object" || source === null) return undefined;
  try {
    return (source as Record<string, unknown>)[name];
  } catch {
    return undefined;
  }
}

function id(value: unknown): string | undefined {
  return typeof value === "number" ||
      (typeof value === "string" && value !== "")
    ? String(value)
    : undefined;
}

function chatIdOf(ctx: SessionContext): string | undefined {
  // The raw chat first, for the same reason as in perUser.
  return rawId(ctx, "chat") ?? id(field(ctx, "chatId")) ?? id(field(field(ctx, "chat"), "id"));
}

/**
 * One session per user, across all chats: the key is the sender's id
 * (`"12345"`). The default, and the key format of the original plugin.
 *
 * @example
 * ```ts
 * import { perUser, session } from "@gramio/session";
 *
 * session({ getSessionKey: perUser, initial: () => ({ language: "en" }) });
 * ```
 */
export function perUser(ctx: SessionContext): string | undefined {
  // The raw update's sender first: GramIO's `senderId` getter builds a User
  // object on every read (~0.3 µs per update with its garbage). Same id.
  const sender = rawId(ctx, "from");
  if (sender !== undefined) return sender;
  // Reactions carry the user as `user` and have no `senderId`.
  return id(field(ctx, "senderId")) ?? id(field(field(ctx, "user"), "id")) ??
    id(field(field(ctx, "from"), "id"));
}

/** `ctx.payload[name].id` of the raw Telegram object, when it is a number. */
function rawId(ctx: SessionContext, name: "from" | "chat"): string | undefined {
  const value = field(field(field(ctx, "payload"), name), "id");
  return typeof value === "number" ? String(value) : undefined;
}

/**
 * One session per chat, shared by everyone in it (`"chat:-100123"`): group
 * settings, a game in a group. `undefined` for updates without a chat.
 *
 * @example
 * ```ts
 * import { perChat, session } from "@gramio/session";
 *
 * session({ key: "chatSession", getSessionKey: perChat, initial: () => ({ topic: "" }) });
 * ```
 */
export function perChat(ctx: SessionContext): string | undefined {
  const chat = chatIdOf(ctx);
  return chat === undefined ? undefined : `chat:${chat}`;
}

/**
 * One session per user in each chat (`"12345:-100123"`): a user's state in a
 * group that must not follow them elsewhere. `undefined` without a sender or
 * a chat.
 *
 * @example
 * ```ts
 * import { perUserInChat, session } from "@gramio/session";
 *
 * session({ getSessionKey: perUserInChat, initial: () => ({ warnings: 0 }) });
 * ```
 */
export function perUserInChat(ctx: SessionContext): string | undefined {
  const user = perUser(ctx);
  const chat = chatIdOf(ctx);
  return user === undefined || chat === undefined ? undefined : `${user}:${chat}`;
}

/**
 * One session per forum topic (`"topic:-100123:42"`), from the message's
 * `message_thread_id` (for callback queries, of the message the button is
 * on). `undefined` outside topics, including a forum's General topic.
 *
 * @example
 * ```ts
 * import { perTopic, session } from "@gramio/session";
 *
 * session({ key: "topicSession", getSessionKey: perTopic, initial: () => ({ pinned: [] as string[] }) });
 * ```
 */
export function perTopic(ctx: SessionContext): string | undefined {
  // The message itself, or for a callback query the message its button is on.
  const message = isTopicMessage(ctx) ? ctx : field(ctx, "message");
  // A reply thread in an ordinary supergroup has a message_thread_id too:
  // only messages marked as topic messages belong to a forum topic.
  if (!isTopicMessage(message)) return undefined;
  const thread = id(field(message, "threadId"));
  const chat = id(field(message, "chatId")) ?? id(field(field(message, "chat"), "id"));
  return thread === undefined || chat === undefined ? undefined : `topic:${chat}:${thread}`;
}

function isTopicMessage(source: unknown): boolean {
  const payload = field(source, "payload");
  return field(payload, "is_topic_message") === true;
}

/**
 * One session per business connection (`"business:AbC..."`): state of a
 * business account the bot manages. `undefined` for updates that did not come
 * through a business connection.
 *
 * @example
 * ```ts
 * import { perBusinessConnection, session } from "@gramio/session";
 *
 * session({ key: "business", getSessionKey: perBusinessConnection, initial: () => ({ replies: 0 }) });
 * ```
 */
export function perBusinessConnection(ctx: SessionContext): string | undefined {
  const connection = id(field(ctx, "businessConnectionId"));
  return connection === undefined ? undefined : `business:${connection}`;
}
