// End to end: a bot that asks a question and waits for the answer (a
// prompt-like plugin registered after session(), the natural order), over HTTP
// long polling against telegram-test-api, with sessions in a real Deno KV file.
import assert from "node:assert/strict";
import { Bot } from "gramio";
import { denoKvStorage, session } from "../mod.ts";
import { type PromptAnswer, promptLike } from "./support/prompt_like.ts";
import { startTelegramServer } from "./support/telegram.ts";

for (const lazy of [false, true]) {
  Deno.test(`e2e (${lazy ? "lazy" : "eager"}): /start asks the name, the answer is greeted and kept, the next message is answered`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "gramio-session-prompt-" });
    try {
      using kv = await Deno.openKv(`${dir}/sessions.sqlite3`);
      const storage = denoKvStorage(kv);
      await using server = await startTelegramServer();
      type Profile = { name?: string; visits: number };
      const bot = new Bot(server.token, { api: server.api })
        .extend(session({ storage, lazy, initial: (): Profile => ({ visits: 0 }) }))
        .extend(promptLike())
        .command("start", async (context) => {
          const ctx = context as unknown as {
            session: Profile | Promise<Profile>;
            prompt(text: string): Promise<PromptAnswer>;
          };
          (await ctx.session).visits++;
          const answer = await ctx.prompt("What is your name?");
          (await ctx.session).name = answer.text;
          await context.send(`Nice to meet you, ${answer.text}!`);
        })
        .on("message", async (context) => {
          const s = await (context as unknown as { session: Profile | Promise<Profile> }).session;
          s.visits++;
          await context.send(`Hello again, ${s.name} (visit ${s.visits})`);
        });
      const running = await server.startBot(bot);
      const alice = server.user({ id: 4001, firstName: "Alice" });

      await alice.sendCommand("/start");
      assert.equal((await alice.nextReply()).text, "What is your name?");
      await alice.sendText("Alice");
      assert.equal((await alice.nextReply()).text, "Nice to meet you, Alice!");
      await alice.sendText("hi");
      assert.equal((await alice.nextReply()).text, "Hello again, Alice (visit 2)");
      await running.stop(); // waits for the last save
      assert.deepEqual(await storage.get("4001"), { name: "Alice", visits: 2 });
      assert.deepEqual(alice.takeReplies(), []);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
