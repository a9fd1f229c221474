// session() with a plugin whose handlers wait for a later update of the same
// user (@gramio/prompt: `await ctx.prompt(...)`), in both extend orders, eager
// and lazy, on real GramIO bots (tests/support/prompt_like.ts plays prompt).
import assert from "node:assert/strict";
import type { Bot } from "gramio";
import { inMemoryStorage, session, SessionConflictError, type Storage } from "../mod.ts";
import { errorsOf, gate, mapStorage, testBot, updates, within } from "./support/bot.ts";
import { type PromptAnswer, promptLike } from "./support/prompt_like.ts";

interface Profile {
  name?: string;
  step?: string;
  seen?: number;
  messages?: number;
}

type Order = "session first" | "prompt first";

/** What a session-using middleware before prompt sees: the lazy case that used to hang. */
type Before = "nothing" | "a derive that counts updates";

interface Scenario {
  order: Order;
  lazy: boolean;
  before: Before;
  storage: Storage;
  promptName?: string;
  lockTimeout?: number;
}

/**
 * /start asks for a name and waits; the answer is greeted; any other message
 * counts and answers with the stored name. `asked` opens when the question is
 * pending, so the answer is sent then (as a user would).
 */
function promptBot(scenario: Scenario) {
  const replies: string[] = [];
  const asked = { gate: gate() };
  const prompt = promptLike({
    name: scenario.promptName,
    send: (_ctx, text) => void replies.push(text),
    onPending: () => asked.gate.open(),
  });
  const sessions = session<Profile, "session", boolean>({
    storage: scenario.storage,
    lazy: scenario.lazy,
    initial: () => ({}),
    lockTimeout: scenario.lockTimeout,
  });
  type Ctx = {
    text?: string;
    session: Profile | Promise<Profile>;
    prompt(text: string): Promise<PromptAnswer>;
  };
  const data = async (ctx: Ctx) => await ctx.session;
  // deno-lint-ignore no-explicit-any
  let bot: Bot<any, any> = testBot();
  const counter = (b: typeof bot) =>
    scenario.before === "nothing" ? b : b.use(async (context, next) => {
      const s = await data(context as unknown as Ctx);
      s.seen = (s.seen ?? 0) + 1;
      return next();
    });
  bot = scenario.order === "session first"
    ? counter(bot.extend(sessions)).extend(prompt)
    : counter(bot.extend(prompt).extend(sessions));
  bot
    .command("start", async (context) => {
      const ctx = context as unknown as Ctx;
      (await data(ctx)).step = "asked";
      const answer = await ctx.prompt("What is your name?");
      const s = await data(ctx);
      s.name = answer.text;
      s.step = "done";
      replies.push(`Hi, ${answer.text}!`);
    })
    .on("message", async (context) => {
      const s = await data(context as unknown as Ctx);
      s.messages = (s.messages ?? 0) + 1;
      replies.push(`Hello again, ${s.name}`);
    });
  return { bot, replies, asked };
}

const SCENARIOS: Array<Omit<Scenario, "storage">> = [];
for (const order of ["session first", "prompt first"] as const) {
  for (const lazy of [false, true]) {
    for (const before of ["nothing", "a derive that counts updates"] as const) {
      SCENARIOS.push({ order, lazy, before });
    }
  }
}

for (const scenario of SCENARIOS) {
  const name = `${scenario.order}, ${
    scenario.lazy ? "lazy" : "eager"
  }, ${scenario.before} before prompt`;
  Deno.test(`prompt (${name}): the answer reaches the waiting handler and every change is saved`, async () => {
    const storage = inMemoryStorage();
    const { bot, replies, asked } = promptBot({ ...scenario, storage });
    const start = bot.updates.handleUpdate(updates.message(7, "/start", 7, {
      entities: [{ type: "bot_command", offset: 0, length: 6 }],
    }));
    await within(asked.gate.promise);
    // The answer, while /start still holds the session: it used to wait for
    // that lock forever.
    await within(bot.updates.handleUpdate(updates.message(7, "Alice")));
    await within(start);
    await within(bot.updates.handleUpdate(updates.message(7, "hi again")));
    assert.deepEqual(errorsOf(bot), []);
    assert.deepEqual(replies, ["What is your name?", "Hi, Alice!", "Hello again, Alice"]);
    const counted = scenario.before === "nothing" ? {} : {
      // /start, the answer (when it passes the counter) and "hi again".
      seen: scenario.order === "session first" ? 3 : 2,
    };
    assert.deepEqual(await storage.get("7"), {
      step: "done",
      name: "Alice",
      messages: 1,
      ...counted,
    });
  });
}

Deno.test("prompt, session first, a storage without compare-and-set: the answer's change is merged, not overwritten", async () => {
  for (const lazy of [false, true]) {
    const storage = mapStorage();
    const { bot, replies, asked } = promptBot({
      order: "session first",
      lazy,
      before: "a derive that counts updates",
      storage,
    });
    const start = bot.updates.handleUpdate(updates.message(8, "/start", 8, {
      entities: [{ type: "bot_command", offset: 0, length: 6 }],
    }));
    await within(asked.gate.promise);
    await within(bot.updates.handleUpdate(updates.message(8, "Bob")));
    await within(start);
    assert.deepEqual(errorsOf(bot), []);
    assert.deepEqual(replies, ["What is your name?", "Hi, Bob!"]);
    // The answer saved seen: 2 while /start waited; /start's save kept it.
    assert.deepEqual(storage.map.get("8"), { seen: 2, step: "done", name: "Bob" });
  }
});

Deno.test("prompt, session first: the same field changed by the waiting handler and by the answer is reported", async () => {
  const storage = inMemoryStorage();
  const asked = gate();
  const bot = testBot()
    .extend(session({ storage, initial: () => ({ step: "idle" }) }))
    .use((context, next) => {
      // Every update marks its step: the answer changes the field /start changed.
      (context as unknown as { session: { step: string } }).session.step = "answering";
      return next();
    })
    .extend(promptLike({ send: () => {}, onPending: () => asked.open() }))
    .command("start", async (context) => {
      context.session.step = "asked";
      await (context as unknown as { wait(): Promise<PromptAnswer> }).wait();
      context.session.step = "done";
    });
  const start = bot.updates.handleUpdate(updates.message(9, "/start", 9, {
    entities: [{ type: "bot_command", offset: 0, length: 6 }],
  }));
  await within(asked.promise);
  await within(bot.updates.handleUpdate(updates.message(9, "answer")));
  await within(start);
  // The answer saved first; /start's change to the same field is not silently lost.
  assert.deepEqual(await storage.get("9"), { step: "answering" });
  const [error] = errorsOf(bot);
  assert.ok(error instanceof SessionConflictError, String(error));
  assert.deepEqual(error.fields, ["step"]);
});

Deno.test("prompt installed: two quick messages of one user with a slow handler still take turns", async () => {
  for (const order of ["session first", "prompt first"] as const) {
    const storage = inMemoryStorage();
    const prompt = promptLike({ send: () => {} });
    const sessions = session({ storage, initial: () => ({ count: 0 }) });
    const base = testBot();
    const bot = order === "session first"
      ? base.extend(sessions).extend(prompt)
      : base.extend(prompt).extend(sessions);
    bot.on("message", async (context) => {
      const s = (context as unknown as { session: { count: number } }).session;
      const n = s.count;
      await new Promise((resolve) => setTimeout(resolve, 5));
      s.count = n + 1;
    });
    await within(Promise.all([
      bot.updates.handleUpdate(updates.message(10, "one")),
      bot.updates.handleUpdate(updates.message(10, "two")),
      bot.updates.handleUpdate(updates.message(10, "three")),
    ]));
    assert.deepEqual(errorsOf(bot), [], order);
    assert.deepEqual(await storage.get("10"), { count: 3 }, order);
  }
});

Deno.test("a waiting plugin the session does not know: the answer arrives after lockTimeout and is saved", async () => {
  const storage = inMemoryStorage();
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => void warnings.push(args.join(" "));
  try {
    const { bot, replies, asked } = promptBot({
      order: "session first",
      lazy: false,
      before: "nothing",
      storage,
      promptName: "my-own-wait-plugin",
      lockTimeout: 30,
    });
    const started = performance.now();
    const start = bot.updates.handleUpdate(updates.message(11, "/start", 11, {
      entities: [{ type: "bot_command", offset: 0, length: 6 }],
    }));
    await within(asked.gate.promise);
    await within(bot.updates.handleUpdate(updates.message(11, "Carol")));
    await within(start);
    assert.ok(performance.now() - started >= 30, "the answer waited for the bound");
    assert.deepEqual(errorsOf(bot), []);
    assert.deepEqual(replies, ["What is your name?", "Hi, Carol!"]);
    assert.deepEqual(await storage.get("11"), { step: "done", name: "Carol" });
    assert.equal(warnings.length, 1, warnings.join("\n"));
    assert.match(warnings[0], /update \d+ \(message\) held session "11" for more than 30 ms/);
    assert.match(warnings[0], /lockTimeout/);
  } finally {
    console.warn = warn;
  }
});

Deno.test("prompt, session first: a conversation of two questions keeps every step and every answer's change", async () => {
  for (const lazy of [false, true]) {
    const storage = inMemoryStorage();
    let pending = gate();
    type Form = { seen?: number; name?: string; age?: string; step?: string };
    const bot = testBot()
      .extend(session<Form, "session", boolean>({ storage, lazy, initial: () => ({}) }))
      .use(async (context, next) => {
        const s = await (context as unknown as { session: Form | Promise<Form> }).session;
        s.seen = (s.seen ?? 0) + 1;
        return next();
      })
      .extend(promptLike({ send: () => {}, onPending: () => pending.open() }))
      .command("start", async (context) => {
        const ctx = context as unknown as {
          session: Form | Promise<Form>;
          prompt(text: string): Promise<PromptAnswer>;
        };
        (await ctx.session).step = "name";
        (await ctx.session).name = (await ctx.prompt("Name?")).text;
        (await ctx.session).step = "age";
        (await ctx.session).age = (await ctx.prompt("Age?")).text;
        (await ctx.session).step = "done";
      });
    const start = bot.updates.handleUpdate(updates.message(12, "/start", 12, {
      entities: [{ type: "bot_command", offset: 0, length: 6 }],
    }));
    for (const answer of ["Dana", "42"]) {
      await within(pending.promise);
      pending = gate();
      await within(bot.updates.handleUpdate(updates.message(12, answer)));
    }
    await within(start);
    assert.deepEqual(errorsOf(bot), []);
    assert.deepEqual(await storage.get("12"), { seen: 3, step: "done", name: "Dana", age: "42" });
  }
});
