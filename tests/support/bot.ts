/**
 * Real GramIO bots for unit-level tests: updates go through
 * `bot.updates.handleUpdate` (the whole middleware chain, no network), and
 * storages are real ones wrapped by a call counter.
 */

import { Bot, type TelegramUpdate } from "gramio";
import type { SetOptions, Storage, VersionedStorage } from "../../src/storage.ts";
import { isVersionedStorage } from "../../src/storage.ts";
import { markReturnsCopies, returnsCopies } from "../../src/returns_copies.ts";

const errorsByBot = new WeakMap<object, unknown[]>();

/** A bot that never calls getMe; errors from handlers are collected (see {@linkcode errorsOf}). */
export function testBot(): Bot {
  const bot = new Bot("1:test", {
    info: { id: 1, is_bot: true, first_name: "Test", username: "test_bot" },
  });
  const errors: unknown[] = [];
  errorsByBot.set(bot, errors);
  bot.onError(({ error }) => {
    errors.push(error);
  });
  return bot;
}

/** The errors `bot.onError` received so far. */
export function errorsOf(bot: object): unknown[] {
  return errorsByBot.get(bot) ?? [];
}

let updateId = 0;
const date = 1_700_000_000;

const user = (id: number) => ({ id, is_bot: false, first_name: `User ${id}` });
const privateChat = (id: number) => ({
  id,
  type: "private" as const,
  first_name: `User ${id}`,
});
const chatOf = (chatId: number) =>
  chatId < 0 ? { id: chatId, type: "supergroup" as const, title: "Group" } : privateChat(chatId);

function messagePayload(
  from: number | undefined,
  text: string,
  chatId: number,
  extra = {},
) {
  return {
    message_id: ++updateId,
    date,
    chat: chatOf(chatId),
    ...(from === undefined ? {} : { from: user(from) }),
    text,
    ...extra,
  };
}

/** Factories of raw updates, one per update type the tests use. */
export const updates = {
  message: (
    from: number,
    text = "hi",
    chatId = from,
    extra = {},
  ): TelegramUpdate => ({
    update_id: ++updateId,
    message: messagePayload(from, text, chatId, extra),
  }),
  editedMessage: (
    from: number,
    text = "edited",
    chatId = from,
  ): TelegramUpdate => ({
    update_id: ++updateId,
    edited_message: {
      ...messagePayload(from, text, chatId),
      edit_date: date + 1,
    },
  }),
  channelPost: (chatId: number, text = "post"): TelegramUpdate => ({
    update_id: ++updateId,
    channel_post: {
      message_id: ++updateId,
      date,
      chat: { id: chatId, type: "channel", title: "Channel" },
      text,
    },
  }),
  callbackQuery: (
    from: number,
    data = "button",
    chatId = from,
  ): TelegramUpdate => ({
    update_id: ++updateId,
    callback_query: {
      id: String(++updateId),
      from: user(from),
      chat_instance: "instance",
      data,
      message: messagePayload(1, "menu", chatId),
    },
  }),
  inlineQuery: (from: number, query = "q"): TelegramUpdate => ({
    update_id: ++updateId,
    inline_query: {
      id: String(++updateId),
      from: user(from),
      query,
      offset: "",
    },
  }),
  myChatMember: (from: number, chatId = from): TelegramUpdate => ({
    update_id: ++updateId,
    my_chat_member: {
      chat: chatOf(chatId),
      from: user(from),
      date,
      old_chat_member: { status: "member", user: user(1) },
      new_chat_member: { status: "kicked", user: user(1), until_date: 0 },
    },
  }),
  messageReaction: (from: number, chatId = from): TelegramUpdate => ({
    update_id: ++updateId,
    message_reaction: {
      chat: chatOf(chatId),
      message_id: 1,
      user: user(from),
      date,
      old_reaction: [],
      new_reaction: [{ type: "emoji", emoji: "👍" }],
    },
  }),
  businessMessage: (from: number, connection = "biz-1"): TelegramUpdate => ({
    update_id: ++updateId,
    business_message: {
      ...messagePayload(from, "biz", from),
      business_connection_id: connection,
    },
  }),
  topicMessage: (
    from: number,
    chatId: number,
    threadId: number,
  ): TelegramUpdate => ({
    update_id: ++updateId,
    message: messagePayload(from, "topic", chatId, {
      message_thread_id: threadId,
      is_topic_message: true,
    }),
  }),
};

/** Storage calls, by method. */
export interface CallCounts {
  get: number;
  set: number;
  has: number;
  delete: number;
  getVersioned: number;
  setIfVersion: number;
}

/** Reads (plain or versioned) and writes (plain or compare-and-set) in one number each. */
export function totals(
  calls: CallCounts,
): { reads: number; writes: number; deletes: number } {
  return {
    reads: calls.get + calls.getVersioned,
    writes: calls.set + calls.setIfVersion,
    deletes: calls.delete,
  };
}

/**
 * Wraps a real storage and counts its calls. It keeps the wrapped storage's
 * compare-and-set support (or lack of it).
 */
export function countingStorage<S extends Storage>(
  inner: S,
): S & { calls: CallCounts } {
  const calls: CallCounts = {
    get: 0,
    set: 0,
    has: 0,
    delete: 0,
    getVersioned: 0,
    setIfVersion: 0,
  };
  const counted: Storage & { calls: CallCounts } = {
    calls,
    richValues: inner.richValues,
    get: (key) => (calls.get++, inner.get(key)),
    set: (
      key,
      value,
      options?: SetOptions,
    ) => (calls.set++, inner.set(key, value, options)),
    has: (key) => (calls.has++, inner.has(key)),
    delete: (key) => (calls.delete++, inner.delete(key)),
  };
  if (isVersionedStorage(inner)) {
    const versioned = inner as VersionedStorage;
    Object.assign(counted, {
      getVersioned: (
        key: string,
      ) => (calls.getVersioned++, versioned.getVersioned(key)),
      setIfVersion: (
        key: string,
        value: unknown,
        version: string | null,
        options?: SetOptions,
      ) => (
        calls.setIfVersion++, versioned.setIfVersion(key, value, version, options)
      ),
    });
    if (versioned.deleteIfVersion) {
      // Counted as a delete: the tests count deletes, whichever kind.
      Object.assign(counted, {
        deleteIfVersion: (key: string, version: string | null) => (
          calls.delete++, versioned.deleteIfVersion!(key, version)
        ),
      });
    }
  }
  // Values pass through unchanged: the plugin takes the same path as on the bare storage.
  if (returnsCopies(inner)) markReturnsCopies(counted);
  return counted as S & { calls: CallCounts };
}

/** A plain (no compare-and-set) storage over a Map, as @gramio/storage's in-memory adapter. */
export function mapStorage(
  map = new Map<string, unknown>(),
): Storage & { map: Map<string, unknown> } {
  return {
    map,
    richValues: true,
    get: (key) => structuredClone(map.get(key)),
    set: (key, value) => void map.set(key, structuredClone(value)),
    has: (key) => map.has(key),
    delete: (key) => map.delete(key),
  };
}

/** Like @gramio/storage's inMemoryStorage: a Map of the very objects set (no copies). */
export function liveStorage(
  map = new Map<string, unknown>(),
): Storage & { map: Map<string, unknown> } {
  return {
    map,
    get: (key) => map.get(key),
    set: (key, value) => void map.set(key, value),
    has: (key) => map.has(key),
    delete: (key) => map.delete(key),
  };
}

/** A promise with its resolve function, for holding a handler at a known point. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/**
 * A second bot instance: its own handle on the same stored data (a separate
 * object, so a separate lock table, as in another process).
 */
export function secondHandle(storage: VersionedStorage): VersionedStorage {
  const handle: VersionedStorage = {
    richValues: storage.richValues,
    get: (key) => storage.get(key),
    set: (key, value, options) => storage.set(key, value, options),
    has: (key) => storage.has(key),
    delete: (key) => storage.delete(key),
    getVersioned: (key) => storage.getVersioned(key),
    setIfVersion: (key, value, version, options) =>
      storage.setIfVersion(key, value, version, options),
  };
  if (storage.deleteIfVersion) {
    handle.deleteIfVersion = (key, version) => storage.deleteIfVersion!(key, version);
  }
  return returnsCopies(storage) ? markReturnsCopies(handle) : handle;
}

/** Fails the test instead of hanging when `work` never settles. */
export async function within<T>(work: Promise<T>, ms = 3000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still waiting after ${ms} ms (deadlock?)`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
