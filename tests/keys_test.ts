import assert from "node:assert/strict";
import {
  inMemoryStorage,
  perBusinessConnection,
  perChat,
  perTopic,
  perUser,
  perUserInChat,
  session,
  type SessionKeyResolver,
} from "../mod.ts";
import { testBot, updates } from "./support/bot.ts";

/** Resolves a strategy on a real GramIO context built from `update`. */
async function keyOf(
  strategy: SessionKeyResolver,
  update: ReturnType<typeof updates.message>,
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
  assert.equal(await keyOf(perUser, updates.message(11, "hi", -100)), "11");
  assert.equal(await keyOf(perUser, updates.callbackQuery(12)), "12");
  assert.equal(await keyOf(perUser, updates.inlineQuery(13)), "13");
  assert.equal(await keyOf(perUser, updates.messageReaction(14, -100)), "14");
  assert.equal(await keyOf(perUser, updates.channelPost(-1001)), undefined);
});

Deno.test("perChat: the chat, prefixed; nothing without a chat", async () => {
  assert.equal(
    await keyOf(perChat, updates.message(11, "hi", -100)),
    "chat:-100",
  );
  assert.equal(
    await keyOf(perChat, updates.callbackQuery(12, "b", -200)),
    "chat:-200",
  );
  assert.equal(await keyOf(perChat, updates.channelPost(-1001)), "chat:-1001");
  assert.equal(
    await keyOf(perChat, updates.messageReaction(14, -300)),
    "chat:-300",
  );
  assert.equal(await keyOf(perChat, updates.inlineQuery(13)), undefined);
});

Deno.test("perUserInChat: user and chat; nothing when either is missing", async () => {
  assert.equal(
    await keyOf(perUserInChat, updates.message(11, "hi", -100)),
    "11:-100",
  );
  assert.equal(await keyOf(perUserInChat, updates.inlineQuery(13)), undefined);
  assert.equal(
    await keyOf(perUserInChat, updates.channelPost(-1001)),
    undefined,
  );
});

Deno.test("perTopic: chat and message_thread_id; nothing outside topics", async () => {
  assert.equal(
    await keyOf(perTopic, updates.topicMessage(11, -100, 42)),
    "topic:-100:42",
  );
  assert.equal(
    await keyOf(perTopic, updates.message(11, "hi", -100)),
    undefined,
  );
  assert.equal(await keyOf(perTopic, updates.inlineQuery(13)), undefined);
  const replyThread = updates.message(11, "reply", -100, { message_thread_id: 3 });
  assert.equal(await keyOf(perTopic, replyThread), undefined, "a reply thread is not a topic");
});

Deno.test("perBusinessConnection: the connection id; nothing for ordinary messages", async () => {
  assert.equal(
    await keyOf(perBusinessConnection, updates.businessMessage(11, "conn-7")),
    "business:conn-7",
  );
  assert.equal(
    await keyOf(perBusinessConnection, updates.message(11)),
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
