import assert from "node:assert/strict";
import {
  inMemoryStorage,
  keyOf,
  perBusinessConnection,
  perChat,
  perTopic,
  perUser,
  perUserInChat,
  session,
  SessionError,
  type SessionKeyResolver,
} from "../mod.ts";
import { countingStorage, errorsOf, testBot, totals, updates } from "./support/bot.ts";
import type { TelegramUpdate } from "gramio";
import { captureWarnings } from "./support/console.ts";

/** Resolves a strategy on a real GramIO context built from `update`. */
async function resolve(
  strategy: SessionKeyResolver,
  update: TelegramUpdate,
) {
  let key: unknown = "not resolved";
  const bot = testBot()
    .extend(session({
      storage: inMemoryStorage(),
      lazy: true,
      getSessionKey: (ctx) => {
        const resolved = strategy(ctx);
        key = resolved;
        return resolved;
      },
    }));
  await bot.updates.handleUpdate(update);
  return key;
}

Deno.test("perUser: the sender's id; reactions' user; nothing for channel posts", async () => {
  assert.equal(await resolve(perUser, updates.message(11, "hi", -100)), "11");
  assert.equal(await resolve(perUser, updates.callbackQuery(12)), "12");
  assert.equal(await resolve(perUser, updates.inlineQuery(13)), "13");
  assert.equal(await resolve(perUser, updates.messageReaction(14, -100)), "14");
  assert.equal(await resolve(perUser, updates.channelPost(-1001)), undefined, "no sender at all");
});

Deno.test("perChat: the chat, prefixed; nothing without a chat", async () => {
  assert.equal(
    await resolve(perChat, updates.message(11, "hi", -100)),
    "chat:-100",
  );
  assert.equal(
    await resolve(perChat, updates.callbackQuery(12, "b", -200)),
    "chat:-200",
  );
  assert.equal(await resolve(perChat, updates.channelPost(-1001)), "chat:-1001");
  assert.equal(
    await resolve(perChat, updates.messageReaction(14, -300)),
    "chat:-300",
  );
  assert.equal(await resolve(perChat, updates.inlineQuery(13)), undefined);
});

Deno.test("perUserInChat: user and chat; nothing when either is missing", async () => {
  assert.equal(
    await resolve(perUserInChat, updates.message(11, "hi", -100)),
    "11:-100",
  );
  assert.equal(await resolve(perUserInChat, updates.inlineQuery(13)), undefined);
  assert.equal(
    await resolve(perUserInChat, updates.channelPost(-1001)),
    undefined,
  );
});

Deno.test("perTopic: chat and message_thread_id; nothing outside topics", async () => {
  assert.equal(
    await resolve(perTopic, updates.topicMessage(11, -100, 42)),
    "topic:-100:42",
  );
  assert.equal(
    await resolve(perTopic, updates.message(11, "hi", -100)),
    undefined,
  );
  assert.equal(await resolve(perTopic, updates.inlineQuery(13)), undefined);
  const replyThread = updates.message(11, "reply", -100, { message_thread_id: 3 });
  assert.equal(await resolve(perTopic, replyThread), undefined, "a reply thread is not a topic");
});

Deno.test("perBusinessConnection: the connection id; nothing for ordinary messages", async () => {
  assert.equal(
    await resolve(perBusinessConnection, updates.businessMessage(11, "conn-7")),
    "business:conn-7",
  );
  assert.equal(
    await resolve(perBusinessConnection, updates.message(11)),
    undefined,
  );
});

Deno.test("strategies keep per-user and per-chat sessions apart on one storage", async () => {
  const storage = inMemoryStorage();
  const bot = testBot()
    .extend(
      session({ storage, getSessionKey: perUser, initial: () => ({ n: 0 }) }),
    )
    .extend(
      session({
        key: "chatSession",
        storage,
        getSessionKey: perChat,
        initial: () => ({ n: 0 }),
      }),
    )
    .on("message", (context) => {
      context.session.n++;
      context.chatSession.n += 10;
    });
  await bot.updates.handleUpdate(updates.message(21)); // private chat: chat id == user id
  assert.deepEqual(await storage.get("21"), { n: 1 });
  assert.deepEqual(await storage.get("chat:21"), { n: 10 });
});

// Real payloads of messages whose sender is a chat: Telegram puts a placeholder
// account, shared by every chat, in `from`, and the real sender in `sender_chat`.
let nextId = 5_000;
const date = 1_700_000_000;
const GROUP_ANONYMOUS_BOT = {
  id: 1087968824,
  is_bot: true,
  first_name: "Group",
  username: "GroupAnonymousBot",
};
const CHANNEL_BOT = { id: 136817688, is_bot: true, first_name: "Channel", username: "Channel_Bot" };
const TELEGRAM = { id: 777000, is_bot: false, first_name: "Telegram" };
const group = (id: number) => ({ id, type: "supergroup" as const, title: `Group ${id}` });
const channel = (id: number) => ({ id, type: "channel" as const, title: `Channel ${id}` });

const chatSenders = {
  /** An anonymous admin of `groupId` writes in it. */
  anonymousAdmin: (groupId: number, text = "hi"): TelegramUpdate => ({
    update_id: ++nextId,
    message: {
      message_id: ++nextId,
      from: GROUP_ANONYMOUS_BOT,
      sender_chat: group(groupId),
      chat: group(groupId),
      date,
      text,
    },
  }),
  /** A user writes in `groupId` on behalf of their channel `channelId`. */
  onBehalfOfChannel: (channelId: number, groupId: number, text = "hi"): TelegramUpdate => ({
    update_id: ++nextId,
    message: {
      message_id: ++nextId,
      from: CHANNEL_BOT,
      sender_chat: channel(channelId),
      chat: group(groupId),
      date,
      text,
    },
  }),
  /** A post of `channelId` forwarded automatically to its discussion group. */
  automaticForward: (channelId: number, groupId: number): TelegramUpdate => ({
    update_id: ++nextId,
    message: {
      message_id: ++nextId,
      from: TELEGRAM,
      sender_chat: channel(channelId),
      chat: group(groupId),
      date,
      is_automatic_forward: true,
      forward_origin: { type: "channel", chat: channel(channelId), message_id: 7, date },
      text: "post",
    },
  }),
  /** A channel post as Telegram sends it: the channel is the sender chat. */
  channelPost: (channelId: number): TelegramUpdate => ({
    update_id: ++nextId,
    channel_post: {
      message_id: ++nextId,
      sender_chat: channel(channelId),
      chat: channel(channelId),
      date,
      text: "post",
    },
  }),
  /** A reaction left anonymously on behalf of `actorChatId`. */
  anonymousReaction: (actorChatId: number, groupId: number): TelegramUpdate => ({
    update_id: ++nextId,
    message_reaction: {
      chat: group(groupId),
      message_id: 1,
      actor_chat: group(actorChatId),
      date,
      old_reaction: [],
      new_reaction: [{ type: "emoji", emoji: "👍" }],
    },
  }),
  /** A poll answered on behalf of a chat. */
  chatPollAnswer: (voterChatId: number): TelegramUpdate => ({
    update_id: ++nextId,
    poll_answer: {
      poll_id: "p",
      voter_chat: channel(voterChatId),
      option_ids: [0],
      option_persistent_ids: ["0"],
    },
  }),
};

Deno.test("perUser: a chat as the sender is keyed by that chat, never by the placeholder in from", async () => {
  assert.equal(await resolve(perUser, chatSenders.anonymousAdmin(-1001)), "senderChat:-1001");
  assert.equal(
    await resolve(perUser, chatSenders.onBehalfOfChannel(-2001, -1001)),
    "senderChat:-2001",
  );
  assert.equal(
    await resolve(perUser, chatSenders.automaticForward(-2001, -1001)),
    "senderChat:-2001",
    "the channel, as when it posts itself",
  );
  assert.equal(await resolve(perUser, chatSenders.channelPost(-2001)), "senderChat:-2001");
  assert.equal(
    await resolve(perUser, chatSenders.anonymousReaction(-1001, -1001)),
    "senderChat:-1001",
  );
  assert.equal(await resolve(perUser, chatSenders.chatPollAnswer(-2001)), "senderChat:-2001");
  // A placeholder account without sender_chat is nobody's session.
  const placeholderOnly = updates.message(1, "hi", -1001);
  (placeholderOnly.message as { from: unknown }).from = GROUP_ANONYMOUS_BOT;
  assert.equal(await resolve(perUser, placeholderOnly), undefined);
});

Deno.test("perUserInChat: a chat as the sender is keyed by that chat in this chat", async () => {
  assert.equal(
    await resolve(perUserInChat, chatSenders.anonymousAdmin(-1001)),
    "senderChat:-1001:-1001",
  );
  assert.equal(
    await resolve(perUserInChat, chatSenders.onBehalfOfChannel(-2001, -1001)),
    "senderChat:-2001:-1001",
  );
  assert.equal(
    await resolve(perUserInChat, chatSenders.onBehalfOfChannel(-2002, -1001)),
    "senderChat:-2002:-1001",
  );
  assert.equal(
    await resolve(perUserInChat, chatSenders.automaticForward(-2001, -1001)),
    "senderChat:-2001:-1001",
  );
});

Deno.test("perUser: anonymous admins of two groups do not share a session", async () => {
  const storage = inMemoryStorage();
  const seen: number[] = [];
  const bot = testBot()
    .extend(session({ storage, initial: () => ({ messages: 0 }) }))
    .on("message", (context) => void seen.push(++context.session.messages));
  await bot.updates.handleUpdate(chatSenders.anonymousAdmin(-1001));
  await bot.updates.handleUpdate(chatSenders.anonymousAdmin(-1001));
  await bot.updates.handleUpdate(chatSenders.anonymousAdmin(-1002));
  await bot.updates.handleUpdate(chatSenders.onBehalfOfChannel(-2001, -1002));
  await bot.updates.handleUpdate(chatSenders.automaticForward(-2002, -1002));
  await bot.updates.handleUpdate(updates.message(42, "hi", -1002));
  assert.deepEqual(errorsOf(bot), []);
  assert.deepEqual(seen, [1, 2, 1, 1, 1, 1]);
  const keys = [];
  for await (const key of storage.keys()) keys.push(key);
  assert.deepEqual(keys.sort(), [
    "42",
    "senderChat:-1001",
    "senderChat:-1002",
    "senderChat:-2001",
    "senderChat:-2002",
  ]);
});

Deno.test("perUserInChat: two channels posting in one group do not share a session", async () => {
  const storage = inMemoryStorage();
  const bot = testBot()
    .extend(session({ storage, getSessionKey: perUserInChat, initial: () => ({ posts: 0 }) }))
    .on("message", (context) => void context.session.posts++);
  await bot.updates.handleUpdate(chatSenders.onBehalfOfChannel(-2001, -1001));
  await bot.updates.handleUpdate(chatSenders.onBehalfOfChannel(-2001, -1001));
  await bot.updates.handleUpdate(chatSenders.onBehalfOfChannel(-2002, -1001));
  await bot.updates.handleUpdate(chatSenders.anonymousAdmin(-1001));
  await bot.updates.handleUpdate(chatSenders.anonymousAdmin(-1003));
  assert.deepEqual(errorsOf(bot), []);
  assert.deepEqual(await storage.get("senderChat:-2001:-1001"), { posts: 2 });
  assert.deepEqual(await storage.get("senderChat:-2002:-1001"), { posts: 1 });
  assert.deepEqual(await storage.get("senderChat:-1001:-1001"), { posts: 1 });
  assert.deepEqual(await storage.get("senderChat:-1003:-1003"), { posts: 1 });
  assert.equal(await storage.get(`${GROUP_ANONYMOUS_BOT.id}:-1001`), undefined);
});

Deno.test("key spaces: user, sender chat and chat keys never overlap nor hold a placeholder id", async () => {
  const samples = [
    updates.message(42, "hi", -1001),
    chatSenders.anonymousAdmin(-1001),
    chatSenders.onBehalfOfChannel(-2001, -1001),
    chatSenders.channelPost(-2001),
  ];
  const spaces = [perUser, perChat, perUserInChat, perTopic, perBusinessConnection];
  const owner = new Map<string, string>();
  for (const strategy of spaces) {
    for (const update of samples) {
      const key = await resolve(strategy, update);
      if (typeof key !== "string") continue;
      const earlier = owner.get(key);
      assert.ok(
        earlier === undefined || earlier === strategy.name,
        `${key}: ${earlier} and ${strategy.name}`,
      );
      owner.set(key, strategy.name);
      for (const placeholder of [GROUP_ANONYMOUS_BOT, CHANNEL_BOT, TELEGRAM]) {
        assert.ok(!key.split(":").includes(String(placeholder.id)), `${key}: a placeholder id`);
      }
      if (strategy !== perUser) {
        assert.doesNotMatch(key, /^\d+$/, "only perUser keys are bare user ids");
      }
    }
  }
});

Deno.test("keyOf: builds the key, or undefined when any part is missing", () => {
  const chatId: number | undefined = -100;
  assert.equal(keyOf`chat:${chatId}`, "chat:-100");
  assert.equal(keyOf`${42}:${"abc"}:${10n}`, "42:abc:10");
  assert.equal(keyOf`plain`, "plain");
  for (const missing of [undefined, null, NaN, Infinity, ""]) {
    assert.equal(keyOf`chat:${missing}`, undefined, String(missing));
    assert.equal(keyOf`${1}:${missing}`, undefined, String(missing));
  }
  assert.throws(
    () => keyOf`chat:${{ id: 1 } as unknown as string}`,
    /part 1 of the key is a object/,
  );
});

Deno.test("keyOf: chat-less updates get no session instead of sharing chat:undefined", async () => {
  const storage = countingStorage(inMemoryStorage());
  const bot = testBot()
    .extend(session({
      storage,
      getSessionKey: (ctx) => keyOf`game:${ctx.chatId}`,
      initial: () => ({ n: 0 }),
    }))
    .on("inline_query", (context) => {
      assert.throws(() => context.session, /getSessionKey returned no key/);
    })
    .on("message", (context) => void context.session.n++);
  await bot.updates.handleUpdate(updates.inlineQuery(1));
  await bot.updates.handleUpdate(updates.inlineQuery(2));
  await bot.updates.handleUpdate(updates.message(3, "hi", -100));
  assert.deepEqual(errorsOf(bot), []);
  assert.deepEqual(totals(storage.calls), { reads: 1, writes: 1, deletes: 0 });
  assert.deepEqual(await storage.get("game:-100"), { n: 1 });
});

Deno.test("a custom key built from a missing value is refused: no shared session, an error with the fix", async () => {
  const storage = countingStorage(inMemoryStorage());
  const errors: unknown[] = [];
  const handled: string[] = [];
  const bot = testBot()
    .extend(session({
      storage,
      getSessionKey: (ctx) => `chat:${ctx.chatId}`,
      initial: () => ({ n: 0 }),
    }))
    .on("inline_query", (context) => {
      handled.push(context.query);
      try {
        context.session.n++;
      } catch (error) {
        errors.push(error);
      }
    });
  const warnings = await captureWarnings(async () => {
    await bot.updates.handleUpdate(updates.inlineQuery(1, "first"));
    await bot.updates.handleUpdate(updates.inlineQuery(2, "second"));
  });
  assert.deepEqual(handled, ["first", "second"], "handlers still run");
  assert.deepEqual(totals(storage.calls), { reads: 0, writes: 0, deletes: 0 });
  assert.equal(errors.length, 2);
  const error = errors[0] as SessionError;
  assert.ok(error instanceof SessionError);
  assert.equal(error.sessionKey, "chat:undefined");
  assert.match(error.message, /"chat:undefined", a key built from a missing value \(undefined\)/);
  assert.match(error.message, /Return undefined for "no session", or build the key with keyOf/);
  assert.equal(warnings.length, 1, "warned once, also for handlers that never touch the session");
  assert.match(warnings[0], /chat:undefined/);
});

Deno.test("the missing-value check refuses whole parts only; lazy sessions reject with it", async () => {
  const accepted: string[] = [];
  const refused: string[] = [];
  for (
    const key of [
      "chat:undefined",
      "undefined",
      "null",
      "NaN",
      "undefined:5",
      "5:null",
      "user_null",
      "a-NaN-b",
      "nullable",
      "NaNa:1",
      "x:annulled",
      "Undefined",
      "id:5",
    ]
  ) {
    const bot = testBot()
      .extend(session({ storage: inMemoryStorage(), lazy: true, getSessionKey: () => key }))
      .on("message", async (context) => {
        try {
          await context.session;
          accepted.push(key);
        } catch (error) {
          assert.ok(error instanceof SessionError);
          refused.push(key);
        }
      });
    await captureWarnings(() => bot.updates.handleUpdate(updates.message(5)));
  }
  assert.deepEqual(refused, [
    "chat:undefined",
    "undefined",
    "null",
    "NaN",
    "undefined:5",
    "5:null",
    "user_null",
    "a-NaN-b",
  ]);
  assert.deepEqual(accepted, ["nullable", "NaNa:1", "x:annulled", "Undefined", "id:5"]);
});
