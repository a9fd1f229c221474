// Nothing waits forever, and late work cannot take the process down: the
// lock wait bound (lockTimeout) and use of ctx.session after its update ended.
import assert from "node:assert/strict";
import createDebug from "debug";
import { format } from "node:util";
import { inMemoryStorage, session, SessionConflictError, SessionError } from "../mod.ts";
import { log } from "../src/log.ts";
import {
  countingStorage,
  errorsOf,
  gate,
  testBot,
  totals,
  updates,
  within,
} from "./support/bot.ts";
import { captureWarnings } from "./support/console.ts";

type Counter = { session: { n: number; by?: string; a?: number; b?: number } };

Deno.test("lockTimeout: a handler that never finishes delays the user's next update once, by the bound", async () => {
  const storage = inMemoryStorage();
  let starts = 0;
  const bot = testBot()
    .extend(session({ storage, lockTimeout: 20, initial: () => ({ n: 0 }) }))
    .on("message", async (context) => {
      const s = (context as unknown as Counter).session;
      s.n++;
      starts++;
      if (context.text === "hang") await new Promise(() => {}); // never settles
    });
  const warnings = await captureWarnings(async () => {
    void bot.updates.handleUpdate(updates.message(31, "hang"));
    const waited = performance.now();
    await within(bot.updates.handleUpdate(updates.message(31, "next")));
    assert.ok(performance.now() - waited >= 20);
    // The stuck update no longer holds the session: waiting for it again
    // would warn again.
    await within(bot.updates.handleUpdate(updates.message(31, "more")));
  });
  assert.equal(starts, 3);
  assert.deepEqual(await storage.get("31"), { n: 2 });
  assert.deepEqual(errorsOf(bot), []);
  assert.equal(warnings.length, 1, warnings.join("\n"));
  assert.match(
    warnings[0],
    /update \d+ \(message\) held session "31" for more than 20 ms \(lockTimeout\) while update \d+ \(message\) waited/,
  );
});

Deno.test("lockTimeout: the holder that lost the lock saves by compare-and-set when it finishes", async () => {
  for (const [field, expectConflict] of [["b", false], ["a", true]] as const) {
    const storage = inMemoryStorage();
    const slow = gate();
    const bot = testBot()
      .extend(session({ storage, lockTimeout: 10, initial: () => ({ n: 0 }) }))
      .on("message", async (context) => {
        const s = (context as unknown as Counter).session;
        if (context.text === "slow") {
          s.a = 1;
          await slow.promise;
          return;
        }
        s[field] = 2;
      });
    await captureWarnings(async () => {
      const first = bot.updates.handleUpdate(updates.message(32, "slow"));
      await within(bot.updates.handleUpdate(updates.message(32, "fast")));
      slow.open();
      await within(first);
    });
    if (expectConflict) {
      // Both changed "a": the later save is reported, never silently lost.
      assert.deepEqual(await storage.get("32"), { n: 0, a: 2 });
      const [error] = errorsOf(bot);
      assert.ok(error instanceof SessionConflictError);
      assert.deepEqual(error.fields, ["a"]);
    } else {
      assert.deepEqual(await storage.get("32"), { n: 0, a: 1, b: 2 });
      assert.deepEqual(errorsOf(bot), []);
    }
  }
});

Deno.test("a wait names the update holding the session when it starts (DEBUG=gramio:session)", async () => {
  const lines: string[] = [];
  const logger = log as unknown as { log?: (...args: unknown[]) => void };
  const previous = createDebug.disable();
  createDebug.enable("gramio:session");
  logger.log = (...args: unknown[]) => void lines.push(format(...args));
  try {
    const holding = gate();
    const release = gate();
    const bot = testBot()
      .extend(session({ storage: inMemoryStorage(), initial: () => ({ n: 0 }) }))
      .on("message", async (context) => {
        if (context.text !== "hold") return;
        holding.open();
        await release.promise;
      });
    const first = updates.message(33, "hold");
    const held = bot.updates.handleUpdate(first);
    await holding.promise;
    const second = bot.updates.handleUpdate(updates.message(33, "wait"));
    // While the first still holds it, the log already says who the second waits for.
    const waitLine = lines.find((line) => /waits for/.test(line));
    assert.ok(waitLine, lines.join("\n"));
    assert.match(waitLine, new RegExp(`key=33 waits for update ${first.update_id} \\(message\\)`));
    release.open();
    await within(Promise.all([held, second]));
  } finally {
    delete logger.log;
    createDebug.disable();
    if (previous) createDebug.enable(previous);
  }
});

Deno.test("lockTimeout is validated", () => {
  for (const lockTimeout of [0, -1, Number.NaN]) {
    assert.throws(() => session({ lockTimeout }), RangeError);
  }
  session({ lockTimeout: Infinity });
});

Deno.test("a forgotten await touching an eager session from a timer: reported with its stack, nothing written, process alive", async () => {
  const storage = countingStorage(inMemoryStorage());
  const lateDone = gate();
  const bot = testBot()
    .extend(session({ storage, initial: () => ({ n: 0 }) }))
    .on("message", (context) => {
      const ctx = context as unknown as Counter;
      ctx.session.n = 1;
      setTimeout(function lateWork() {
        ctx.session.n++; // after the update: must not throw here
        ctx.session = { n: 99 };
        lateDone.open();
      }, 0);
    });
  await bot.updates.handleUpdate(updates.message(34));
  await within(lateDone.promise);
  assert.deepEqual(await storage.get("34"), { n: 1 });
  assert.equal(totals(storage.calls).writes, 1);
  const errors = errorsOf(bot);
  assert.equal(errors.length, 1, "reported once, not on every use");
  const [error] = errors;
  assert.ok(error instanceof SessionError);
  assert.match(error.message, /used after its update had finished/);
  assert.match(error.message, /a plugin registered after session\(\)/);
  assert.match(error.stack ?? "", /lateWork/);
});

Deno.test("a forgotten await with a lazy session: resolves (loaded, or read without a lock), writes nothing", async () => {
  const storage = countingStorage(inMemoryStorage());
  await storage.set("35", { n: 5 });
  const seen: number[] = [];
  const lateDone = gate();
  const bot = testBot()
    .extend(session({ storage, lazy: true, initial: () => ({ n: 0 }) }))
    .on("message", async (context) => {
      const ctx = context as unknown as { session: Promise<{ n: number }>; text?: string };
      if (context.text === "loaded") (await ctx.session).n++;
      setTimeout(async function lateWork() {
        const s = await ctx.session; // after the update: must not reject here
        seen.push(s.n);
        s.n = 100;
        if (seen.length === 2) lateDone.open();
      }, 0);
    });
  await bot.updates.handleUpdate(updates.message(35, "loaded")); // saves n: 6
  await bot.updates.handleUpdate(updates.message(35, "untouched"));
  await within(lateDone.promise);
  // The first saw its own session as the update left it; the second, never
  // loaded, a read of what is stored.
  assert.deepEqual(seen.sort(), [6, 6]);
  assert.deepEqual(await storage.get("35"), { n: 6 });
  assert.equal(totals(storage.calls).writes, 2); // the setup and the "loaded" update
  assert.equal(errorsOf(bot).length, 2);
  for (const error of errorsOf(bot)) assert.match(String(error), /after its update had finished/);
  // The late read took no lock: the next update runs at once.
  await within(bot.updates.handleUpdate(updates.message(35, "next")), 500);
});
