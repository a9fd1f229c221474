import assert from "node:assert/strict";
import {
  inMemoryStorage,
  session,
  SessionConflictError,
  SessionDataError,
  SessionStorageError,
  sessionStore,
  type Storage,
  type VersionedStorage,
} from "../mod.ts";
import {
  countingStorage,
  errorsOf,
  gate,
  secondHandle,
  testBot,
  totals,
  updates,
  within,
} from "./support/bot.ts";

/** Fault injection: a real storage whose chosen method throws. */
function failing(inner: Storage, method: "get" | "set" | "delete"): Storage {
  const storage: Storage = {
    get: (key) => inner.get(key),
    set: (key, value, options) => inner.set(key, value, options),
    has: (key) => inner.has(key),
    delete: (key) => inner.delete(key),
  };
  storage[method] = () => Promise.reject(new Error(`${method} is down`));
  return storage;
}

Deno.test("a failing read: handlers never run on a blank session and nothing is written", async () => {
  const inner = countingStorage(inMemoryStorage());
  await inner.set("1", { count: 41 });
  inner.calls.set = 0;
  let ran = false;
  const bot = testBot()
    .extend(
      session({
        storage: failing(inner, "get"),
        initial: () => ({ count: 0 }),
      }),
    )
    .on("message", (context) => {
      ran = true;
      context.session.count++;
    });
  await bot.updates.handleUpdate(updates.message(1));
  assert.equal(ran, false);
  assert.equal(totals(inner.calls).writes, 0);
  assert.deepEqual(await inner.get("1"), { count: 41 });
  const [error] = errorsOf(bot);
  assert.ok(error instanceof SessionStorageError);
  assert.equal(error.sessionKey, "1");
  assert.equal(error.operation, "read");
  assert.match(error.message, /get is down/);
});

Deno.test("a failing read in lazy mode rejects the awaited session inside the handler", async () => {
  const bot = testBot()
    .extend(
      session({
        storage: failing(inMemoryStorage(), "get"),
        lazy: true,
        initial: () => ({ count: 0 }),
      }),
    )
    .on("message", async (context) => {
      (await context.session).count++;
    });
  await bot.updates.handleUpdate(updates.message(2));
  assert.ok(errorsOf(bot)[0] instanceof SessionStorageError);
});

Deno.test("a failing write is reported, not swallowed", async () => {
  const bot = testBot()
    .extend(
      session({
        storage: failing(inMemoryStorage(), "set"),
        initial: () => ({ count: 0 }),
      }),
    )
    .on("message", (context) => {
      context.session.count++;
    });
  await bot.updates.handleUpdate(updates.message(3));
  const [error] = errorsOf(bot);
  assert.ok(error instanceof SessionStorageError);
  assert.equal(error.operation, "write");
  // The lock is free again.
  await bot.updates.handleUpdate(updates.message(3));
  assert.equal(errorsOf(bot).length, 2);
});

Deno.test("a synchronous storage that throws: same guarantees, and the key is free again", async () => {
  // The in-memory storage answers without promises, so loads and saves run
  // without them too; a synchronous throw must take the same paths as a rejection.
  const inner = inMemoryStorage();
  await inner.set("4", { count: 41 });
  const broken = { read: true, write: false };
  const storage: VersionedStorage = {
    ...inner,
    getVersioned(key) {
      if (broken.read) throw new Error("read is down");
      return inner.getVersioned(key);
    },
    setIfVersion(key, value, version, options) {
      if (broken.write) throw new Error("write is down");
      return inner.setIfVersion(key, value, version, options);
    },
  };
  let ran = 0;
  const bot = testBot()
    .extend(session({ storage, initial: () => ({ count: 0 }) }))
    .on("message", (context) => {
      ran++;
      context.session.count++;
    });
  await bot.updates.handleUpdate(updates.message(4));
  assert.equal(ran, 0);
  broken.read = false;
  broken.write = true;
  await bot.updates.handleUpdate(updates.message(4));
  assert.equal(ran, 1);
  broken.write = false;
  await within(bot.updates.handleUpdate(updates.message(4)));
  assert.deepEqual(
    errorsOf(bot).map((error) => (error as SessionStorageError).operation),
    ["read", "write"],
  );
  assert.deepEqual(await inner.get("4"), { count: 42 });
});

Deno.test("a stored value that is not an object is an error and is left as it is", async () => {
  const storage = inMemoryStorage();
  await storage.set("4", 12345);
  let ran = false;
  const bot = testBot()
    .extend(session({ storage, initial: () => ({ count: 0 }) }))
    .on("message", () => {
      ran = true;
    });
  await bot.updates.handleUpdate(updates.message(4));
  assert.equal(ran, false);
  assert.ok(errorsOf(bot)[0] instanceof SessionDataError);
  assert.match((errorsOf(bot)[0] as Error).message, /onInvalidData: "reset"/);
  assert.equal(await storage.get("4"), 12345);
});

Deno.test("onInvalidData: reset starts such sessions from initial()", async () => {
  const storage = inMemoryStorage();
  await storage.set("5", "garbage");
  const bot = testBot()
    .extend(
      session({
        storage,
        onInvalidData: "reset",
        initial: () => ({ count: 0 }),
      }),
    )
    .on("message", (context) => {
      context.session.count++;
    });
  await bot.updates.handleUpdate(updates.message(5));
  assert.deepEqual(errorsOf(bot), []);
  assert.deepEqual(await storage.get("5"), { count: 1 });
});

/** Runs update A on instance 1 up to a gate, a full update on instance 2, then lets A finish. */
async function interleave(
  onConflict: "merge" | "error" | "overwrite" | undefined,
  first: (s: { a: number; b: number }) => void,
  second: (s: { a: number; b: number }) => void,
) {
  const shared = inMemoryStorage();
  await shared.set("7", { a: 0, b: 0 });
  const paused = gate();
  const one = testBot()
    .extend(
      session({ storage: shared, onConflict, initial: () => ({ a: 0, b: 0 }) }),
    )
    .on("message", async (context) => {
      first(context.session);
      await paused.promise;
    });
  const two = testBot()
    .extend(
      session({
        storage: secondHandle(shared),
        onConflict,
        initial: () => ({ a: 0, b: 0 }),
      }),
    )
    .on("message", (context) => second(context.session));
  const running = one.updates.handleUpdate(updates.message(7));
  await new Promise((resolve) => setTimeout(resolve, 0));
  await two.updates.handleUpdate(updates.message(7));
  paused.open();
  await running;
  return {
    stored: await shared.get("7"),
    errors: [...errorsOf(one), ...errorsOf(two)],
  };
}

Deno.test("cross-instance conflict on different fields merges both changes", async () => {
  const { stored, errors } = await interleave(
    undefined,
    (s) => s.a++,
    (s) => s.b++,
  );
  assert.deepEqual(errors, []);
  assert.deepEqual(stored, { a: 1, b: 1 });
});

Deno.test("cross-instance conflict on the same field is reported, never silently lost", async () => {
  const { stored, errors } = await interleave(
    undefined,
    (s) => s.a += 10,
    (s) => s.a += 1,
  );
  assert.deepEqual(
    stored,
    { a: 1, b: 0 },
    "the write that landed first is kept",
  );
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof SessionConflictError);
  assert.deepEqual((errors[0] as SessionConflictError).fields, ["a"]);
});

Deno.test("onConflict: error reports even disjoint changes; overwrite keeps last write", async () => {
  const strict = await interleave("error", (s) => s.a++, (s) => s.b++);
  assert.ok(strict.errors[0] instanceof SessionConflictError);
  assert.deepEqual(strict.stored, { a: 0, b: 1 });
  const lastWins = await interleave(
    "overwrite",
    (s) => s.a += 10,
    (s) => s.a += 1,
  );
  assert.deepEqual(lastWins.errors, []);
  assert.deepEqual(lastWins.stored, { a: 10, b: 0 });
});

/**
 * Fault injection: a real storage whose first call of `method` does not
 * settle until `answer()` (then it is made for real); later calls go through.
 */
function stalling(
  inner: VersionedStorage,
  method: "getVersioned" | "setIfVersion" | "delete" | "deleteIfVersion",
) {
  const stalled = gate();
  let stalls = 1;
  const storage = secondHandle(inner);
  const real = storage[method] as (...args: unknown[]) => unknown;
  (storage as unknown as Record<string, unknown>)[method] = (...args: unknown[]) =>
    stalls-- > 0 ? stalled.promise.then(() => real(...args)) : real(...args);
  return { storage, answer: stalled.open };
}

Deno.test("a read that never answers fails after storageTimeout; nothing is written, and the key is free again", async () => {
  const inner = countingStorage(inMemoryStorage());
  await inner.set("11", { count: 41 });
  inner.calls.set = 0;
  const { storage, answer } = stalling(inner, "getVersioned");
  let ran = 0;
  const bot = testBot()
    .extend(session({ storage, storageTimeout: 50, initial: () => ({ count: 0 }) }))
    .on("message", (context) => {
      ran++;
      context.session.count++;
    });
  await within(bot.updates.handleUpdate(updates.message(11)));
  assert.equal(ran, 0, "handlers never run on a blank session");
  const [error] = errorsOf(bot);
  assert.ok(error instanceof SessionStorageError);
  assert.equal(error.operation, "read");
  assert.equal(error.sessionKey, "11");
  assert.match(error.message, /storage read failed: timed out after 50 ms/);
  answer(); // the late answer is ignored
  await within(bot.updates.handleUpdate(updates.message(11)));
  assert.equal(ran, 1);
  assert.equal(totals(inner.calls).writes, 1);
  assert.deepEqual(await inner.get("11"), { count: 42 });
});

Deno.test("a write that never answers fails after storageTimeout, and the key is free again", async () => {
  const inner = inMemoryStorage();
  const { storage } = stalling(inner, "setIfVersion");
  const bot = testBot()
    .extend(session({ storage, storageTimeout: 50, initial: () => ({ count: 0 }) }))
    .on("message", (context) => void context.session.count++);
  await within(bot.updates.handleUpdate(updates.message(12)));
  const [error] = errorsOf(bot);
  assert.ok(error instanceof SessionStorageError);
  assert.equal(error.operation, "write");
  assert.match(error.message, /timed out after 50 ms/);
  await within(bot.updates.handleUpdate(updates.message(12)));
  assert.equal(errorsOf(bot).length, 1);
  assert.deepEqual(await inner.get("12"), { count: 1 });
});

Deno.test("a delete that never answers fails after storageTimeout ($clear and sessionStore)", async () => {
  const inner = inMemoryStorage();
  await inner.set("13", { count: 5 });
  const cleared = stalling(inner, "deleteIfVersion");
  const bot = testBot()
    .extend(session({ storage: cleared.storage, storageTimeout: 50, initial: () => ({}) }))
    .on("message", (context) => context.session.$clear());
  await within(bot.updates.handleUpdate(updates.message(13)));
  const [error] = errorsOf(bot);
  assert.ok(error instanceof SessionStorageError);
  assert.equal(error.operation, "delete");
  assert.match(error.message, /timed out after 50 ms/);

  const deleted = stalling(inner, "delete");
  const store = sessionStore({ storage: deleted.storage, storageTimeout: 50 });
  await within(assert.rejects(
    store.delete("13"),
    (error) => error instanceof SessionStorageError && error.operation === "delete",
  ));
  const read = stalling(inner, "getVersioned");
  const reader = sessionStore({ storage: read.storage, storageTimeout: 50 });
  await within(assert.rejects(
    reader.get("13"),
    (error) => error instanceof SessionStorageError && error.operation === "read",
  ));
  // Both keys are free again.
  assert.deepEqual(await within(reader.get("13")), { count: 5 });
  await within(store.delete("13"));
  assert.equal(await inner.get("13"), undefined);
});

Deno.test("storageTimeout must be a positive number of milliseconds", () => {
  for (const storageTimeout of [0, -1, NaN, Infinity, 2 ** 31, "10" as unknown as number]) {
    assert.throws(
      () => session({ storage: inMemoryStorage(), storageTimeout }),
      (error) =>
        error instanceof RangeError && /storageTimeout is in milliseconds/.test(error.message),
      String(storageTimeout),
    );
  }
  assert.throws(() => sessionStore({ storage: inMemoryStorage(), storageTimeout: 0 }), RangeError);
});

Deno.test("a storage that answers synchronously starts no timer", async () => {
  const bot = testBot()
    .extend(session({ storage: inMemoryStorage(), initial: () => ({ count: 0 }) }))
    .on("message", (context) => void context.session.count++);
  const original = globalThis.setTimeout;
  let timers = 0;
  globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
    timers++;
    return original(...args);
  }) as typeof setTimeout;
  try {
    await bot.updates.handleUpdate(updates.message(14));
  } finally {
    globalThis.setTimeout = original;
  }
  assert.deepEqual(errorsOf(bot), []);
  assert.equal(timers, 0);
});

Deno.test("calls that answer within storageTimeout never time out, however long the run", async () => {
  const inner = inMemoryStorage();
  const slow = secondHandle(inner);
  const later = <T>(value: T | Promise<T>) =>
    new Promise<T>((resolve) => setTimeout(() => resolve(value), 5));
  slow.getVersioned = (key) => later(inner.getVersioned(key));
  slow.setIfVersion = (key, value, version, options) =>
    later(inner.setIfVersion(key, value, version, options));
  const bot = testBot()
    .extend(session({ storage: slow, storageTimeout: 50, initial: () => ({ count: 0 }) }))
    .on("message", (context) => void context.session.count++);
  const start = performance.now();
  let handled = 0;
  // Several timeouts long, with calls in flight all the time (two users at once).
  while (performance.now() - start < 300) {
    await Promise.all([15, 16].map((user) => bot.updates.handleUpdate(updates.message(user))));
    handled++;
  }
  assert.deepEqual(errorsOf(bot), []);
  assert.deepEqual(await inner.get("15"), { count: handled });
});
