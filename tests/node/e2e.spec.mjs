// The counter bot from the README, built package + real gramio, long polling
// against telegram-test-api over HTTP on 127.0.0.1. Runs under Node and Bun.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Bot } from "gramio";
import { inMemoryStorage, session } from "@gramio/session";
import { startTelegramServer } from "./support/telegram.mjs";

const counterBot = (server, storage) =>
  new Bot(server.token, { api: server.api })
    .extend(
      session({ key: "sessionKey", storage, initial: () => ({ apple: 1 }) }),
    )
    .on(
      "message",
      (context) => context.send(`apple count is ${++context.sessionKey.apple}`),
    );

test("counter bot over long polling: counts per user, users kept apart", async () => {
  const server = await startTelegramServer();
  try {
    const storage = inMemoryStorage();
    await server.startBot(counterBot(server, storage), {
      longPollingTimeout: 10,
    });
    const alice = server.user({ id: 101, firstName: "Alice" });
    const bob = server.user({ id: 202, firstName: "Bob" });

    const texts = [];
    for (let i = 0; i < 3; i++) {
      await alice.sendText(`hi ${i}`);
      texts.push((await alice.nextReply()).text);
    }
    assert.deepEqual(texts, [
      "apple count is 2",
      "apple count is 3",
      "apple count is 4",
    ]);

    await bob.sendText("hello");
    assert.equal((await bob.nextReply()).text, "apple count is 2");
    assert.deepEqual(
      alice.takeReplies(),
      [],
      "Bob's update must not reach Alice's chat",
    );
    // A reply is sent before its handler returns and the session is saved:
    // stopping waits for the handlers.
    await server.stop();
    assert.deepEqual(await storage.get("101"), { apple: 4 });
    assert.deepEqual(await storage.get("202"), { apple: 2 });
  } finally {
    await server.stop();
  }
});

test("counter bot over long polling: a burst of one user's updates loses no increment", async () => {
  const server = await startTelegramServer();
  try {
    await server.startBot(counterBot(server, inMemoryStorage()), {
      longPollingTimeout: 10,
    });
    const carol = server.user({ id: 303, firstName: "Carol" });
    // Sent before the bot answers any: GramIO runs them concurrently.
    await Promise.all([
      carol.sendText("1"),
      carol.sendText("2"),
      carol.sendText("3"),
      carol.sendText("4"),
    ]);
    const texts = (await carol.waitForReplies(4)).map((reply) => reply.text)
      .sort();
    assert.deepEqual(texts, [
      "apple count is 2",
      "apple count is 3",
      "apple count is 4",
      "apple count is 5",
    ]);
  } finally {
    await server.stop();
  }
});
