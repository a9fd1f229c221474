// Every example type-checks (`deno check .` in deno task test, and the
// first test fails when an example is not imported here) and runs. The bots
// get updates through bot.updates.handleUpdate (the whole GramIO middleware
// chain) and call the Bot API of telegram-test-api, whose messages simulated
// users read. Sessions are in real Deno KV files, or the real Redis.
import assert from "node:assert/strict";
import type { TelegramUser } from "gramio";
import { denoKvStorage, sessionStore } from "../mod.ts";
import { redisStorage } from "../redis.ts";
import * as counterExample from "../examples/counter.ts";
import * as demoExample from "../examples/demo.ts";
import * as denoDeployExample from "../examples/deno_deploy.ts";
import * as lazyExample from "../examples/lazy.ts";
import * as migrationsExample from "../examples/migrations.ts";
import * as perChatExample from "../examples/per_chat.ts";
import * as perTopicExample from "../examples/per_topic.ts";
import * as redisExample from "../examples/redis.ts";
import * as runExample from "../examples/run.ts";
import { updates } from "./support/bot.ts";
import { openIoRedis, redisAvailable, testPrefix } from "./support/redis_clients.ts";
import { startTelegramServer } from "./support/telegram.ts";

const examples: Record<string, object> = {
  "counter.ts": counterExample,
  "demo.ts": demoExample,
  "deno_deploy.ts": denoDeployExample,
  "lazy.ts": lazyExample,
  "migrations.ts": migrationsExample,
  "per_chat.ts": perChatExample,
  "per_topic.ts": perTopicExample,
  "redis.ts": redisExample,
  "run.ts": runExample,
};

/** What telegram-test-api's getMe answers; given, so no bot calls getMe. */
const info: TelegramUser = {
  id: 666,
  is_bot: true,
  first_name: "Test First name",
  username: "TestNameBot",
};

/** A temp dir with a KV database in it, closed and removed on dispose. */
async function tempKv(): Promise<{ kv: Deno.Kv } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "gramio-session-examples-" });
  const kv = await Deno.openKv(`${dir}/sessions.sqlite3`);
  return {
    kv,
    async [Symbol.asyncDispose]() {
      kv.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("examples: every file in examples/ is imported here, so deno test type-checks it", async () => {
  const files: string[] = [];
  for await (const entry of Deno.readDir(new URL("../examples/", import.meta.url))) {
    if (entry.isFile && entry.name.endsWith(".ts")) files.push(entry.name);
  }
  assert.deepEqual(files.sort(), Object.keys(examples).sort());
});

Deno.test("per_chat example: a per-user and a per-chat session side by side, in groups and a private chat", async () => {
  await using db = await tempKv();
  await using server = await startTelegramServer();
  const bot = perChatExample.createPerChatBot(server.token, {
    api: server.api,
    info,
    storage: denoKvStorage(db.kv),
  });
  const group = -100123;
  const inGroup = server.user({
    id: 5001,
    firstName: "Alice",
    chatId: group,
    chatType: "supergroup",
  });
  const alicePrivate = server.user({ id: 5001, firstName: "Alice" });
  const otherGroup = server.user({
    id: 5001,
    firstName: "Alice",
    chatId: -100999,
    chatType: "supergroup",
  });
  /** Handles one message (the reply is sent before it resolves) and returns the reply. */
  const send = async (from: number, chatId: number, view: typeof inGroup) => {
    await bot.updates.handleUpdate(updates.message(from, "hi", chatId));
    const replies = view.takeReplies();
    assert.equal(replies.length, 1);
    return replies[0].text;
  };

  assert.equal(await send(5001, group, inGroup), "you: 1 in all chats; this chat: 1");
  assert.equal(
    await send(5002, group, inGroup),
    "you: 1 in all chats; this chat: 2; before you: User 5001",
  );
  assert.equal(await send(5001, 5001, alicePrivate), "you: 2 in all chats; this chat: 1");
  assert.equal(await send(5001, -100999, otherGroup), "you: 3 in all chats; this chat: 1");
  assert.equal(
    await send(5001, group, inGroup),
    "you: 4 in all chats; this chat: 3; before you: User 5002",
  );

  // Both sessions in one storage, under keys that never collide.
  const stored = denoKvStorage(db.kv);
  assert.deepEqual(await stored.get("5001"), { messages: 4 });
  assert.deepEqual(await stored.get(`chat:${group}`), { messages: 3, lastAuthor: "User 5001" });
});

Deno.test("per_topic example: each forum topic keeps its own notes; outside topics there is no session", async () => {
  await using db = await tempKv();
  await using server = await startTelegramServer();
  const bot = perTopicExample.createPerTopicBot(server.token, {
    api: server.api,
    info,
    storage: denoKvStorage(db.kv),
  });
  const forum = -100500;
  const view = server.user({ id: 6001, firstName: "Alice", chatId: forum, chatType: "supergroup" });
  const topic = (threadId: number) => ({ message_thread_id: threadId, is_topic_message: true });
  /** One message from `from` in topic `threadId` (or the General topic); the reply and its topic. */
  const send = async (from: number, text: string, threadId?: number) => {
    await bot.updates.handleUpdate(
      updates.message(from, text, forum, threadId === undefined ? {} : topic(threadId)),
    );
    const replies = view.takeReplies();
    assert.equal(replies.length, 1);
    return { text: replies[0].text, thread: replies[0].params.message_thread_id };
  };

  assert.deepEqual(await send(6001, "buy milk", 7), { text: "noted: 1 in this topic", thread: 7 });
  assert.deepEqual(await send(6002, "call mom", 9), { text: "noted: 1 in this topic", thread: 9 });
  // Another member in the same topic shares its notes.
  assert.deepEqual(await send(6002, "buy bread", 7), { text: "noted: 2 in this topic", thread: 7 });
  assert.deepEqual(await send(6001, "/notes", 7), { text: "1. buy milk\n2. buy bread", thread: 7 });
  assert.deepEqual(await send(6001, "/notes", 9), { text: "1. call mom", thread: 9 });
  assert.deepEqual(await send(6001, "/notes", 11), { text: "no notes in this topic", thread: 11 });
  // The General topic: no topic, no session, and nothing stored.
  assert.deepEqual(await send(6001, "hello"), {
    text: "Write in a forum topic: each topic keeps its own notes.",
    thread: undefined,
  });

  const keys: string[] = [];
  for await (const key of denoKvStorage(db.kv).keys()) keys.push(key);
  assert.deepEqual(keys.sort(), [`topic:${forum}:7`, `topic:${forum}:9`]);
});

Deno.test("migrations example: sessions stored by the counter example are upgraded to the new shape", async () => {
  await using db = await tempKv();
  await using server = await startTelegramServer();
  const storage = denoKvStorage(db.kv);
  const alice = server.user({ id: 7001, firstName: "Alice" });
  const bob = server.user({ id: 7002, firstName: "Bob" });

  // The old bot: the counter example, which stores { apple: n }.
  const oldBot = counterExample.createCounterBot(server.token, { api: server.api, info, storage });
  for (let i = 0; i < 2; i++) await oldBot.updates.handleUpdate(updates.message(alice.id, "hi"));
  assert.deepEqual((await alice.waitForReplies(2)).map((r) => r.text), [
    "apple count is 2",
    "apple count is 3",
  ]);
  assert.deepEqual(await storage.get("7001"), { apple: 3 });

  // The new bot on the same storage.
  const newBot = migrationsExample.createMigrationsBot(server.token, {
    api: server.api,
    info,
    storage,
  });
  const send = async (who: typeof alice, text: string) => {
    await newBot.updates.handleUpdate(updates.message(who.id, text));
    return (await who.nextReply()).text;
  };
  assert.equal(await send(alice, "pear"), "apples: 3, pears: 1");
  assert.equal(await send(alice, "apple"), "apples: 4, pears: 1");
  assert.equal(await send(bob, "pear"), "apples: 0, pears: 1");

  // Saved at the newest version, in the new shape.
  assert.deepEqual(await storage.get("7001"), {
    "@gramio/session": 1,
    data: { basket: { apples: 4, pears: 1 } },
    version: 2,
  });
});

const redisUp = await redisAvailable();

Deno.test({
  name: "redis example: the counter on the real Redis, counts survive a new bot and a new client",
  ignore: !redisUp,
  async fn() {
    await using server = await startTelegramServer();
    const prefix = testPrefix();
    const alice = server.user({ id: 8001, firstName: "Alice" });
    const bob = server.user({ id: 8002, firstName: "Bob" });
    const run = async (messages: Array<typeof alice>): Promise<string[]> => {
      const { client, close } = await openIoRedis();
      try {
        const bot = redisExample.createRedisBot(server.token, {
          redis: client,
          prefix,
          api: server.api,
          info,
        });
        const replies: string[] = [];
        for (const who of messages) {
          await bot.updates.handleUpdate(updates.message(who.id, "hi"));
          replies.push((await who.nextReply()).text ?? "");
        }
        return replies;
      } finally {
        await close();
      }
    };

    const { client, close } = await openIoRedis();
    const storage = redisStorage(client, { prefix });
    try {
      assert.deepEqual(await run([alice, alice, bob]), [
        "apple count is 2",
        "apple count is 3",
        "apple count is 2",
      ]);
      assert.deepEqual(await run([alice, bob]), ["apple count is 4", "apple count is 3"]);
      assert.deepEqual(await storage.get("8001"), { apple: 4 });
    } finally {
      for await (const key of storage.keys()) await storage.delete(key);
      await close();
    }
  },
});

Deno.test("demo: deno task demo's run succeeds and prints the counts before and after the restart", async () => {
  const lines: string[] = [];
  const ok = await demoExample.runDemo({ print: (line) => lines.push(line), childOutput: "null" });
  const output = lines.join("\n");
  assert.equal(ok, true, output);
  for (const count of [2, 3, 4]) {
    assert.match(output, new RegExp(`Alice: .* -> bot: "apple count is ${count}"`));
  }
  assert.match(
    output,
    /after restart[^]*Alice: .* -> bot: "apple count is 5"[^]*Bob: .* -> bot: "apple count is 2"/,
  );
});

/** The first TypeScript code block after the README heading `heading`. */
function readmeSample(readme: string, heading: string): string {
  const section = readme.indexOf(`\n${heading}\n`);
  assert.notEqual(section, -1, `README has no "${heading}" section`);
  const start = readme.indexOf("```ts\n", section) + "```ts\n".length;
  return readme.slice(start, readme.indexOf("```\n", start));
}

Deno.test({
  name: "README: the Usage bot with the Session Clearing sample runs as pasted, /reset included",
  // The sample's default storage is Deno.openKv(), opened once per process and kept open.
  sanitizeResources: false,
  async fn() {
    const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
    const usage = readmeSample(readme, "## Usage");
    const clearing = readmeSample(readme, "## Session Clearing");
    // The clearing sample is the Usage bot with a /reset command before the catch-all.
    const command = clearing.match(/\n *\/\/ Before the catch-all[^]*?\n {2}\}\)\n/)?.[0];
    assert.ok(command, clearing);
    assert.equal(clearing.replace(command, "\n"), usage);

    // Run it as pasted, pointed at the emulator: the only changes are where the
    // package is, the Bot's token and api option (through globalThis, not the
    // process-wide env, as test files run in parallel), and that the test
    // starts the bot.
    await using server = await startTelegramServer();
    const options = { api: server.api };
    const source = clearing
      .replace('from "@gramio/session"', `from "${new URL("../mod.ts", import.meta.url)}"`)
      .replace(
        "new Bot(process.env.BOT_TOKEN as string)",
        "new Bot(globalThis.README_BOT.token, globalThis.README_BOT.options)",
      )
      .replace("bot.start();", "export { bot };");
    assert.match(source, /README_BOT\.token[^]*export \{ bot \}/);
    const dir = await Deno.makeTempDir({ prefix: "gramio-session-readme-" });
    const logged: unknown[][] = [];
    const log = console.log;
    const id = 900_000 + Math.floor(Math.random() * 100_000);
    try {
      await Deno.writeTextFile(`${dir}/bot.ts`, source);
      Object.assign(globalThis, { README_BOT: { token: server.token, options } });
      const { bot } = await import(`${dir}/bot.ts`);
      console.log = (...args: unknown[]) => void logged.push(args);
      await server.startBot(bot);
      console.log = log;
      assert.deepEqual(logged, [["@TestNameBot started"]], "onStart prints one useful line");

      const alice = server.user({ id, firstName: "Alice" });
      const say = async (text: string) => {
        await (text.startsWith("/") ? alice.sendCommand(text) : alice.sendText(text));
        return (await alice.nextReply()).text;
      };
      assert.equal(await say("hi"), "apple count is 2");
      assert.equal(await say("hi"), "apple count is 3");
      assert.equal(await say("/reset"), "apples reset");
      assert.equal(await say("hi"), "apple count is 2");
    } finally {
      console.log = log;
      Reflect.deleteProperty(globalThis, "README_BOT");
      await sessionStore().delete(String(id));
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
