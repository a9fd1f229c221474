import assert from "node:assert/strict";
import createDebug from "debug";
import { format } from "node:util";
import { inMemoryStorage, session } from "../mod.ts";
import { log } from "../src/log.ts";
import { testBot, updates } from "./support/bot.ts";

/** Turns `DEBUG=gramio:session` on for one callback and returns what it logged. */
async function captureLogs(run: () => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  const logger = log as unknown as { log?: (...args: unknown[]) => void };
  const previous = createDebug.disable();
  createDebug.enable("gramio:session");
  logger.log = (...args: unknown[]) => void lines.push(format(...args));
  try {
    await run();
  } finally {
    delete logger.log;
    createDebug.disable();
    if (previous) createDebug.enable(previous);
  }
  return lines;
}

Deno.test("DEBUG=gramio:session logs key, load, save, skip and clear, never contents", async () => {
  let now = 0;
  const storage = inMemoryStorage();
  const bot = testBot()
    .extend(
      session({
        storage,
        ttl: 1000,
        clock: () => now,
        initial: () => ({ secret: "hunter2", n: 0 }),
      }),
    )
    .command("clear", async (context) => await context.session.$clear())
    .command("read", (context) => void context.session.n)
    .on("message", (context) => void context.session.n++);
  const command = (name: string) =>
    updates.message(5, `/${name}`, 5, {
      entities: [{ type: "bot_command", offset: 0, length: name.length + 1 }],
    });
  const lines = await captureLogs(async () => {
    await bot.updates.handleUpdate(updates.message(5, "hi"));
    await bot.updates.handleUpdate(command("read"));
    now = 5000;
    await bot.updates.handleUpdate(command("read"));
    await bot.updates.handleUpdate(command("clear"));
    await bot.updates.handleUpdate(updates.channelPost(-1001));
  });
  const text = lines.join("\n");
  assert.match(text, /session key=5 message update/);
  assert.match(text, /key=5 load memory miss [\d.]+ms/);
  assert.match(text, /key=5 save memory \d+ bytes [\d.]+ms/);
  assert.match(text, /key=5 load memory hit/);
  assert.match(text, /key=5 skip save \(unchanged\)/);
  assert.match(text, /key=5 expire/);
  assert.match(text, /key=5 clear/);
  assert.match(text, /no key for this channel_post update/);
  assert.doesNotMatch(text, /hunter2/);
});

Deno.test("lazy untouched updates log a skip", async () => {
  const bot = testBot()
    .extend(session({ storage: inMemoryStorage(), lazy: true }))
    .on("message", () => {});
  const lines = await captureLogs(() =>
    bot.updates.handleUpdate(updates.message(6)).then(() => {})
  );
  assert.match(lines.join("\n"), /key=6 skip \(lazy, untouched\)/);
});

Deno.test("logging is off by default", async () => {
  const lines: string[] = [];
  const logger = log as unknown as { log?: (...args: unknown[]) => void };
  logger.log = (...args: unknown[]) => void lines.push(format(...args));
  try {
    const bot = testBot().extend(session({ storage: inMemoryStorage() })).on(
      "message",
      () => {},
    );
    await bot.updates.handleUpdate(updates.message(7));
  } finally {
    delete logger.log;
  }
  assert.deepEqual(lines, []);
});
