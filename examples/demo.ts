/**
 * `deno task demo`: sessions that survive a restart, without a real bot.
 *
 * Starts a local Telegram Bot API emulator (telegram-test-api), runs the
 * counter bot (examples/counter.ts) on long polling with its sessions in a
 * Deno KV file, and lets a simulated user talk to it. Then the bot is stopped
 * and a new bot process is started on the same KV file: the count goes on.
 * Exits 0 when every reply was the expected one.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { denoKvStorage } from "../mod.ts";
import { startTelegramServer, type TestUser } from "../tests/support/telegram.ts";
import { createCounterBot } from "./counter.ts";

const COUNTER_SCRIPT = fileURLToPath(new URL("./counter.ts", import.meta.url));
const PROJECT_DIR = fileURLToPath(new URL("..", import.meta.url));

/** Options of {@linkcode runDemo}. */
export interface DemoOptions {
  /** Where the demo's lines go. Default `console.log`. */
  print?: (line: string) => void;
  /** Where the restarted bot process writes. Default: this process's output. */
  childOutput?: "inherit" | "null";
}

/** Runs the demo; resolves to whether every reply was the expected one. */
export async function runDemo(options: DemoOptions = {}): Promise<boolean> {
  const print = options.print ?? console.log;
  const dir = await Deno.makeTempDir({ prefix: "gramio-session-demo-" });
  const kvPath = `${dir}/sessions.sqlite3`;
  const server = await startTelegramServer();
  let kv: Deno.Kv | undefined;
  let child: Deno.ChildProcess | undefined;
  let ok = true;

  const say = async (who: TestUser, name: string, text: string, expected: string) => {
    await who.sendText(text);
    // The first reply of a new process waits for it to start.
    const reply = (await who.nextReply({ timeoutMs: 20_000 })).text;
    const good = reply === expected;
    ok &&= good;
    const line = `  ${`${name}:`.padEnd(7)}${JSON.stringify(text).padEnd(14)} -> bot: ${
      JSON.stringify(reply)
    }`;
    print(good ? line : `${line}   MISMATCH, expected ${JSON.stringify(expected)}`);
  };

  try {
    print(`Telegram Bot API emulator at ${server.apiURL}`);
    print(`Sessions in the Deno KV file ${kvPath}\n`);
    const alice = server.user({ id: 1001, firstName: "Alice" });
    const bob = server.user({ id: 1002, firstName: "Bob" });

    print("Bot #1 (this process, long polling):");
    kv = await Deno.openKv(kvPath);
    const first = await server.startBot(
      createCounterBot(server.token, { api: server.api, storage: denoKvStorage(kv) }),
    );
    await say(alice, "Alice", "hi", "apple count is 2");
    await say(alice, "Alice", "how are you", "apple count is 3");
    await say(alice, "Alice", "bye", "apple count is 4");
    await first.stop();
    kv.close();
    kv = undefined;
    print("Bot #1 stopped.\n");

    print("Bot #2 after restart (a new process: deno run examples/counter.ts, same KV file):");
    child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", COUNTER_SCRIPT],
      cwd: PROJECT_DIR,
      env: { BOT_TOKEN: server.token, TELEGRAM_API_URL: server.apiURL, KV_PATH: kvPath },
      stdin: "null",
      stdout: options.childOutput ?? "inherit",
      stderr: options.childOutput ?? "inherit",
    }).spawn();
    await say(alice, "Alice", "back again", "apple count is 5");
    await say(bob, "Bob", "hello", "apple count is 2");
    print("");
    print(
      ok
        ? "OK: Alice's count went on after the restart, and Bob's session is his own."
        : "FAILED: some replies were not the expected ones.",
    );
    return ok;
  } finally {
    kv?.close();
    if (child) {
      child.kill("SIGTERM"); // counter.ts stops gracefully on SIGTERM
      await child.status;
    }
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  let ok = false;
  try {
    ok = await runDemo();
  } catch (error) {
    console.error("The demo failed:", error);
  }
  Deno.exit(ok ? 0 : 1);
}
