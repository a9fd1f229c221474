// Smoke tests of tests/support/telegram.ts: a plain gramio Bot (no session
// plugin) over HTTP long polling against telegram-test-api. Sanitizers are
// opted in explicitly (Deno 2.9 leaves them off by default) to prove that the
// harness leaks no timers, sockets or pending fetches.
import assert from "node:assert/strict";
import { Bot, InlineKeyboard } from "gramio";
import { startTelegramServer, type TestUser, user } from "./support/telegram.ts";

const strict = { sanitizeOps: true, sanitizeResources: true } as const;

function echoBot(
  token: string,
  api: { baseURL: string; retryGetUpdatesWait: number },
) {
  return new Bot(token, { api }).on(
    "message",
    (ctx) => ctx.send(`you said: ${ctx.text}`),
  );
}

/** Sends each text and waits for its reply before the next one. */
async function chat(who: TestUser, texts: string[]): Promise<string[]> {
  const replies: string[] = [];
  for (const text of texts) {
    await who.sendText(text);
    const reply = await who.nextReply();
    assert.equal(reply.chatId, who.chatId);
    replies.push(reply.text ?? "");
  }
  return replies;
}

Deno.test({
  name: "e2e harness: two users talk to one echo bot; each sees only their own replies",
  ...strict,
  async fn() {
    await using server = await startTelegramServer();
    const bot = await server.startBot(echoBot(server.token, server.api));
    const alice = server.user({ id: 1001, firstName: "Alice" });
    const bob = user(server, { id: 1002, firstName: "Bob" });

    const [aliceSaw, bobSaw] = await Promise.all([
      chat(alice, ["a1", "a2", "a3"]),
      chat(bob, ["b1", "b2"]),
    ]);
    assert.deepEqual(aliceSaw, [
      "you said: a1",
      "you said: a2",
      "you said: a3",
    ]);
    assert.deepEqual(bobSaw, ["you said: b1", "you said: b2"]);

    // A burst without waiting in between: all replies arrive, none cross over.
    await Promise.all([
      alice.sendText("x"),
      alice.sendText("y"),
      bob.sendText("z"),
    ]);
    const [aliceBurst, bobBurst] = await Promise.all([
      alice.waitForReplies(2),
      bob.waitForReplies(1),
    ]);
    assert.deepEqual(aliceBurst.map((r) => r.text).sort(), [
      "you said: x",
      "you said: y",
    ]);
    assert.deepEqual(bobBurst.map((r) => r.text), ["you said: z"]);
    assert.deepEqual(alice.takeReplies(), []);
    assert.deepEqual(bob.takeReplies(), []);

    // Stopping must not wait for the pending 30 s long poll.
    const started = performance.now();
    await bot.stop();
    const stopMs = performance.now() - started;
    assert.ok(stopMs < 2000, `bot stop took ${stopMs.toFixed(0)} ms`);
  },
});

Deno.test({
  name: "e2e harness: commands, inline buttons, and server.stop() stopping a running bot",
  ...strict,
  async fn() {
    const server = await startTelegramServer();
    try {
      const bot = new Bot(server.token, { api: server.api })
        .command(
          "start",
          (ctx) =>
            ctx.send("menu", {
              reply_markup: new InlineKeyboard().text("Go", "go"),
            }),
        )
        .callbackQuery("go", async (ctx) => {
          await ctx.answer();
          await ctx.send(`went from ${ctx.from.id}`);
        });
      await server.startBot(bot);
      const carol = server.user({ id: 2001, firstName: "Carol" });
      await carol.sendCommand("/start");
      const menu = await carol.nextReply();
      assert.equal(menu.text, "menu");
      assert.deepEqual(menu.replyMarkup, {
        inline_keyboard: [[{ text: "Go", callback_data: "go" }]],
      });
      await carol.pressButton("go", menu);
      assert.equal((await carol.nextReply()).text, "went from 2001");
    } finally {
      // Stops the bot too (it was never stopped explicitly).
      await server.stop();
    }
  },
});

Deno.test({
  name: "e2e harness: a missing reply times out with what did arrive",
  ...strict,
  async fn() {
    await using server = await startTelegramServer();
    await server.startBot(echoBot(server.token, server.api));
    const dave = server.user({ id: 3001, firstName: "Dave" });
    await dave.sendText("once");
    await assert.rejects(
      dave.waitForReplies(2, { timeoutMs: 150 }),
      /expected 2 replies, none more within 150 ms; got 1: \["you said: once"\]/,
    );
    // The failed wait consumed nothing.
    assert.equal((await dave.nextReply()).text, "you said: once");
  },
});
