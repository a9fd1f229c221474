import assert from "node:assert/strict";
import { inMemoryStorage, type Migrations, session, SessionError } from "../mod.ts";
import { ENVELOPE_MARK } from "../src/record.ts";
import { errorsOf, mapStorage, testBot, updates } from "./support/bot.ts";

/** A clock the test moves by hand. */
function manualClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

Deno.test("ttl: a session not saved for ttl ms reads as initial() again", async () => {
  const clock = manualClock();
  const storage = mapStorage(); // a plain storage: expiry works through the stored stamp
  const seen: number[] = [];
  const bot = testBot()
    .extend(
      session({
        storage,
        ttl: 1000,
        clock: clock.now,
        initial: () => ({ count: 0 }),
      }),
    )
    .on("message", (context) => {
      seen.push(++context.session.count);
    });
  await bot.updates.handleUpdate(updates.message(1));
  clock.advance(999);
  await bot.updates.handleUpdate(updates.message(1)); // saved again: the ttl restarts
  clock.advance(999);
  await bot.updates.handleUpdate(updates.message(1));
  clock.advance(1000);
  await bot.updates.handleUpdate(updates.message(1));
  assert.deepEqual(seen, [1, 2, 3, 1]);
  const stored = storage.map.get("1") as Record<string, unknown>;
  assert.equal(stored[ENVELOPE_MARK], 1);
  assert.equal(stored.expiresAt, clock.now() + 1000);
});

Deno.test("ttl: read-only updates do not extend a session; storage is told the ttl", async () => {
  const clock = manualClock();
  const ttls: Array<number | undefined> = [];
  const inner = inMemoryStorage({ clock: clock.now });
  const storage = {
    ...inner,
    set: (key: string, value: unknown, options?: { ttl?: number }) => {
      ttls.push(options?.ttl);
      return inner.set(key, value, options);
    },
    setIfVersion: (
      key: string,
      value: unknown,
      version: string | null,
      options?: { ttl?: number },
    ) => {
      ttls.push(options?.ttl);
      return inner.setIfVersion(key, value, version, options);
    },
  };
  let last = -1;
  const bot = testBot()
    .extend(
      session({
        storage,
        ttl: 500,
        clock: clock.now,
        initial: () => ({ count: 0 }),
      }),
    )
    .command("bump", (context) => void context.session.count++)
    .on("message", (context) => void (last = context.session.count));
  const bump = () =>
    updates.message(2, "/bump", 2, {
      entities: [{ type: "bot_command", offset: 0, length: 5 }],
    });
  await bot.updates.handleUpdate(bump());
  clock.advance(400);
  await bot.updates.handleUpdate(updates.message(2, "read"));
  assert.equal(last, 1);
  clock.advance(200);
  await bot.updates.handleUpdate(updates.message(2, "read"));
  assert.equal(
    last,
    0,
    "expired 500 ms after the last save, reads did not extend it",
  );
  assert.deepEqual(ttls, [500]);
});

Deno.test("ttl: turning ttl on keeps plain stored sessions; turning it off keeps enveloped ones", async () => {
  const storage = inMemoryStorage();
  await storage.set("3", { count: 7 });
  let seen = -1;
  const withTtl = testBot()
    .extend(session({ storage, ttl: 60_000, initial: () => ({ count: 0 }) }))
    .on("message", (context) => void (seen = ++context.session.count));
  await withTtl.updates.handleUpdate(updates.message(3));
  assert.equal(seen, 8);
  const withoutTtl = testBot()
    .extend(session({ storage, initial: () => ({ count: 0 }) }))
    .on("message", (context) => void (seen = ++context.session.count));
  await withoutTtl.updates.handleUpdate(updates.message(3));
  assert.equal(seen, 9);
  assert.deepEqual(await storage.get("3"), { count: 9 });
});

Deno.test("ttl must be a positive number of milliseconds", () => {
  assert.throws(
    () => session({ storage: inMemoryStorage(), ttl: 0 }),
    /positive number/,
  );
  assert.throws(
    () => session({ storage: inMemoryStorage(), ttl: -5 }),
    /positive number/,
  );
});

interface V2 {
  fruit: { apples: number };
  pears: number;
  log: string[];
}

const migrations: Migrations = {
  2: (old: { fruit: { apples: number } }) => ({ ...old, pears: 0 }),
  1: (old: { apples: number }) => ({ fruit: { apples: old.apples } }),
  10: (old: V2) => ({ ...old, log: [...(old.log ?? []), "10"] }),
  10.1: (old: V2) => ({ ...old, log: [...old.log, "10.1"] }),
};

Deno.test("migrations run in numeric order (10.1 after 10) and the result is saved", async () => {
  const storage = inMemoryStorage();
  await storage.set("4", { apples: 3 }); // data from before migrations: version 0
  let seen: unknown;
  const bot = testBot()
    .extend(session({
      storage,
      migrations,
      initial: (): V2 => ({ fruit: { apples: 0 }, pears: 0, log: [] }),
    }))
    .on("message", (context) => {
      seen = { ...context.session };
    });
  await bot.updates.handleUpdate(updates.message(4));
  assert.deepEqual(errorsOf(bot), []);
  assert.deepEqual(seen, {
    fruit: { apples: 3 },
    pears: 0,
    log: ["10", "10.1"],
  });
  assert.deepEqual(await storage.get("4"), {
    [ENVELOPE_MARK]: 1,
    version: 10.1,
    data: { fruit: { apples: 3 }, pears: 0, log: ["10", "10.1"] },
  });
});

Deno.test("migrations: only newer versions run; new sessions are saved at the newest version", async () => {
  const storage = inMemoryStorage();
  await storage.set("5", {
    [ENVELOPE_MARK]: 1,
    version: 10,
    data: { fruit: { apples: 1 }, pears: 2, log: ["10"] },
  });
  const bot = testBot()
    .extend(
      session({
        storage,
        migrations,
        initial: (): V2 => ({ fruit: { apples: 0 }, pears: 0, log: [] }),
      }),
    )
    .on("message", (context) => void context.session.pears++);
  await bot.updates.handleUpdate(updates.message(5));
  await bot.updates.handleUpdate(updates.message(6));
  assert.deepEqual(await storage.get("5"), {
    [ENVELOPE_MARK]: 1,
    version: 10.1,
    data: { fruit: { apples: 1 }, pears: 3, log: ["10", "10.1"] },
  });
  assert.deepEqual(await storage.get("6"), {
    [ENVELOPE_MARK]: 1,
    version: 10.1,
    data: { fruit: { apples: 0 }, pears: 1, log: [] },
  });
});

Deno.test("migrations: a stored version newer than the code is an error and data stays untouched", async () => {
  const storage = inMemoryStorage();
  const future = {
    [ENVELOPE_MARK]: 1,
    version: 11,
    data: { shape: "from the future" },
  };
  await storage.set("7", future);
  let ran = false;
  const bot = testBot()
    .extend(session({ storage, migrations, initial: () => ({}) }))
    .on("message", () => void (ran = true));
  await bot.updates.handleUpdate(updates.message(7));
  assert.equal(ran, false);
  const [error] = errorsOf(bot);
  assert.ok(error instanceof SessionError);
  assert.match(
    error.message,
    /data version 11, newer than the newest migration here \(10\.1\)/,
  );
  assert.deepEqual(await storage.get("7"), future);
});

Deno.test("migrations: bad version keys are refused when session() is called", () => {
  const named = { one: (data: object) => data } as unknown as Migrations; // versions are numbers
  assert.throws(() => session({ storage: inMemoryStorage(), migrations: named }), /not a version/);
  assert.throws(
    () => session({ storage: inMemoryStorage(), migrations: { 0: (data: object) => data } }),
    /not a version/,
  );
});
