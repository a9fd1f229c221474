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
  const payload = field(ctx, "payload") as { chat?: { id?: unknown } } | undefined;
  return rawChatId(payload?.chat) ?? id(field(ctx, "chatId")) ??
    id(field(field(ctx, "chat"), "id"));
}

/**
 * Whether `id` is one of the accounts Telegram puts in `from` when the real
 * sender is a chat: anonymous group admins (`GroupAnonymousBot`), posts on
 * behalf of a channel (`Channel_Bot`), automatic forwards from a linked
 * channel (Telegram, 777000). Every chat on Telegram shares them, so they are
 * never a user's session.
 */
function isPlaceholderSender(id: number): boolean {
  return id === 1087968824 || id === 136817688 || id === 777000;
}

/** The fields of a raw Telegram object that name its sender. */
interface RawSender {
  from?: { id?: unknown };
  user?: { id?: unknown };
  sender_chat?: { id?: unknown };
  actor_chat?: { id?: unknown };
  voter_chat?: { id?: unknown };
}

/**
 * The chat a message (or reaction, or poll answer) was sent on behalf of:
 * `sender_chat` of messages (also channel posts), `actor_chat` of anonymous
 * reactions, `voter_chat` of anonymous poll answers.
 */
function senderChatOf(payload: RawSender): string | undefined {
  return rawChatId(payload.sender_chat) ?? rawChatId(payload.actor_chat) ??
    rawChatId(payload.voter_chat);
}

function rawChatId(chat: { id?: unknown } | undefined): string | undefined {
  const value = chat?.id;
  return typeof value === "number" ? String(value) : undefined;
}

/**
 * One session per sender, across all chats: the key is the sender's user id
 * (`"12345"`), the default and the key format of the original plugin. When a
 * chat is the sender (a channel post, a message of an anonymous group admin
 * or on behalf of a channel, an automatic forward from a linked channel, an
 * anonymous reaction or poll answer), the key is that chat's:
 * `"senderChat:-100123"`; never the placeholder account Telegram puts in
 * `from` for such messages, which every chat shares.
 *
 * @example
 * ```ts
 * import { perUser, session } from "@gramio/session";
 *
 * session({ getSessionKey: perUser, initial: () => ({ language: "en" }) });
 * ```
 */
export function perUser(ctx: SessionContext): string | undefined {
  // The raw update first: GramIO's `senderId` getter builds a User object on
  // every read (~0.3 µs per update with its garbage). Same id.
  const raw = field(ctx, "payload");
  const payload = (typeof raw === "object" && raw !== null ? raw : {}) as RawSender;
  const from = payload.from?.id;
  if (typeof from === "number") {
    if (payload.sender_chat !== undefined) return senderChatKey(rawChatId(payload.sender_chat));
    // A placeholder without sender_chat: nobody's session.
    return isPlaceholderSender(from) ? undefined : String(from);
  }
  const senderChat = senderChatOf(payload);
  if (senderChat !== undefined) return `senderChat:${senderChat}`;
  // Reactions and poll answers carry the user as `user`.
  const user = id(payload.user?.id) ?? id(field(ctx, "senderId")) ??
    id(field(field(ctx, "user"), "id")) ?? id(field(field(ctx, "from"), "id"));
  return user === undefined || isPlaceholderSender(Number(user)) ? undefined : user;
}

function senderChatKey(chat: string | undefined): string | undefined {
  return chat === undefined ? undefined : `senderChat:${chat}`;
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
 * group that must not follow them elsewhere. A chat as the sender (see
 * {@linkcode perUser}) is keyed by that chat in this chat
 * (`"senderChat:-100777:-100123"`): two channels posting in one group do not
 * share a session. `undefined` without a sender or a chat.
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

/**
 * What a {@linkcode keyOf} template may interpolate; a missing one means "no session".
 *
 * @example
 * ```ts
 * import { type KeyPart, keyOf } from "@gramio/session";
 *
 * const chatId: KeyPart = undefined;
 * console.log(keyOf`chat:${chatId}`); // undefined
 * ```
 */
export type KeyPart = string | number | bigint | null | undefined;

/**
 * Builds a session key from a template, or `undefined` ("no session") when
 * any interpolated part is missing: `undefined`, `null`, `NaN`, an infinite
 * number or an empty string. Interpolating an id that some updates lack (the
 * chat of an inline query) then gives those updates no session instead of one
 * shared `"chat:undefined"` session.
 *
 * @example
 * ```ts
 * import { keyOf, session } from "@gramio/session";
 *
 * session({
 *   getSessionKey: (ctx) => keyOf`game:${ctx.chatId}`, // undefined for inline queries
 *   initial: () => ({ round: 0 }),
 * });
 * ```
 */
export function keyOf(
  strings: TemplateStringsArray,
  ...parts: KeyPart[]
): string | undefined {
  let key = strings[0];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (
      part === undefined || part === null || part === "" ||
      (typeof part === "number" && !Number.isFinite(part))
    ) return undefined;
    if (typeof part !== "string" && typeof part !== "number" && typeof part !== "bigint") {
      throw new TypeError(
        `keyOf: part ${i + 1} of the key is a ${typeof part}: interpolate ids ` +
          "(strings or numbers), e.g. keyOf`chat:${ctx.chatId}`.",
      );
    }
    key += String(part) + strings[i + 1];
  }
  return key;
}

/**
 * A whole part (between characters other than letters and digits, so `_` and
 * `-` separate parts too) that string interpolation of a missing value
 * produces: `chat:undefined`, `user_null`, `NaN`.
 */
const MISSING_PART = /(?:^|[^A-Za-z0-9])(?:undefined|null|NaN)(?:[^A-Za-z0-9]|$)/;

/** Whether a custom key was built from a missing value: one regex test, no allocation. */
export function hasMissingPart(key: string): boolean {
  return MISSING_PART.test(key);
}

/** The missing value a custom key was built from (`"undefined"`...), if any. */
export function missingPartOf(key: string): string | undefined {
  return MISSING_PART.exec(key)?.[0].replace(/[^A-Za-z]/g, "");
}

/** The built-in strategies: their keys never hold a missing part, so they skip the check. */
export const BUILT_IN_STRATEGIES: ReadonlySet<unknown> = new Set([
  perUser,
  perChat,
  perUserInChat,
  perTopic,
  perBusinessConnection,
]);
