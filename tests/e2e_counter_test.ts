// End to end: the README's counter bot (examples/counter.ts) and the lazy
// example (examples/lazy.ts) over HTTP long polling against telegram-test-api,
// with sessions in real Deno KV files. The restart test runs the counter
// example as two OS processes, one after the other, on one KV file.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { denoKvStorage } from "../mod.ts";
import { createCounterBot } from "../examples/counter.ts";
import { createLazyBot } from "../examples/lazy.ts";
import { countingStorage, totals } from "./support/bot.ts";
import { startTelegramServer, type TestUser } from "./support/telegram.ts";

const COUNTER_SCRIPT = fileURLToPath(
  new URL("../examples/counter.ts", import.meta.url),
);
const PROJECT_DIR = fileURLToPath(new URL("..", import.meta.url));

/** Sends each text and waits for its reply before sending the next. */
async function chat(
  who: TestUser,
  texts: string[],
  timeoutMs?: number,
): Promise<string[]> {
  const replies: string[] = [];
  for (const text of texts) {
    await who.sendText(text);
    replies.push((await who.nextReply({ timeoutMs })).text ?? "");
  }
  return replies;
}

/** A temp dir with a KV file path in it, removed on dispose. */
async function tempKvPath(): Promise<{ path: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "gramio-session-e2e-" });
  return {
    path: `${dir}/sessions.sqlite3`,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

Deno.test("counter example: apple count 2, 3, 4 for one user over long polling; a second user is kept apart", async () => {
  await using file = await tempKvPath();
  using kv = await Deno.openKv(file.path);
  await using server = await startTelegramServer();
  const bot = await server.startBot(
    createCounterBot(server.token, {
      api: server.api,
      storage: denoKvStorage(kv),
    }),
  );
  const alice = server.user({ id: 1001, firstName: "Alice" });
  const bob = server.user({ id: 1002, firstName: "Bob" });

  // Both users at once: neither sees the other's count.
  const [aliceSaw, bobSaw] = await Promise.all([
    chat(alice, ["hi", "how are you", "bye"]),
    chat(bob, ["hello", "again"]),
  ]);
  assert.deepEqual(aliceSaw, [
    "apple count is 2",
    "apple count is 3",
    "apple count is 4",
  ]);
  assert.deepEqual(bobSaw, ["apple count is 2", "apple count is 3"]);
  await bot.stop();

  // What is in the KV file: plain session data under each user's id.
  const stored = denoKvStorage(kv);
  assert.deepEqual(await stored.get("1001"), { apple: 4 });
  assert.deepEqual(await stored.get("1002"), { apple: 3 });
  assert.deepEqual(alice.takeReplies(), []);
  assert.deepEqual(bob.takeReplies(), []);
});

Deno.test("counter example: the count goes on across two OS processes on one KV file (restart)", async () => {
  await using file = await tempKvPath();
  await using server = await startTelegramServer();
  const alice = server.user({ id: 2001, firstName: "Alice" });
  const bob = server.user({ id: 2002, firstName: "Bob" });

  /** `deno run -A examples/counter.ts`, as a user would start it. */
  const startProcess = () =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", COUNTER_SCRIPT],
      cwd: PROJECT_DIR,
      env: {
        BOT_TOKEN: server.token,
        TELEGRAM_API_URL: server.apiURL,
        KV_PATH: file.path,
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  /** SIGTERM (a graceful stop), then the exit status and output. */
  const stopProcess = async (child: Deno.ChildProcess) => {
    child.kill("SIGTERM");
    const { code, stdout, stderr } = await child.output();
    const text = new TextDecoder();
    return { code, stdout: text.decode(stdout), stderr: text.decode(stderr) };
  };
  const run = async (texts: Array<[TestUser, string]>): Promise<string[]> => {
    const child = startProcess();
    const replies: string[] = [];
    try {
      // A generous first timeout: the process has to start up.
      for (const [who, text] of texts) {
        replies.push(...await chat(who, [text], 20_000));
      }
    } finally {
      const exit = await stopProcess(child);
      assert.equal(exit.code, 0, `the bot process failed:\n${exit.stderr}`);
      assert.match(exit.stdout, /@TestNameBot is running/);
    }
    return replies;
  };

  assert.deepEqual(
    await run([[alice, "hi"], [alice, "hi"]]),
    ["apple count is 2", "apple count is 3"],
  );
  assert.deepEqual(
    await run([[alice, "I'm back"], [bob, "hello"], [alice, "and again"]]),
    ["apple count is 4", "apple count is 2", "apple count is 5"],
  );
  // Nothing was handled twice by the second process.
  assert.deepEqual(alice.takeReplies(), []);
  assert.deepEqual(bob.takeReplies(), []);
});

Deno.test("lazy example: counts, /reset clears, and /ping never touches storage (long polling, Deno KV)", async () => {
  await using file = await tempKvPath();
  using kv = await Deno.openKv(file.path);
  const storage = countingStorage(denoKvStorage(kv));
  await using server = await startTelegramServer();
  const bot = await server.startBot(
    createLazyBot(server.token, { api: server.api, storage }),
  );
  const alice = server.user({ id: 3001, firstName: "Alice" });
  const bob = server.user({ id: 3002, firstName: "Bob" });

  // First, before any save is in flight: an eager session would have been
  // read before the handler ran, so before the reply.
  await alice.sendCommand("/ping");
  assert.equal((await alice.nextReply()).text, "pong");
  assert.deepEqual(
    totals(storage.calls),
    { reads: 0, writes: 0, deletes: 0 },
    "an update that never awaits the session makes no storage call",
  );

  assert.deepEqual(await chat(alice, ["a", "b"]), ["count: 1", "count: 2"]);
  assert.deepEqual(await chat(alice, ["/reset", "c"]), [
    "count reset",
    "count: 1",
  ]);
  assert.deepEqual(await chat(bob, ["x"]), ["count: 1"]);
  await bot.stop();

  assert.deepEqual(await storage.get("3001"), { count: 1 });
  assert.deepEqual(await storage.get("3002"), { count: 1 });
});
