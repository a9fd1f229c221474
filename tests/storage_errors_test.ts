/**
 * The storages' error rule (`src/storage.ts`): unusable data is a
 * SessionDataError, misuse a TypeError or RangeError, anything else a
 * SessionStorageError naming the key and operation. Unit tests of the rule,
 * then each adapter over a database or client that fails (fault injection),
 * used directly and through the plugin.
 *
 * @module
 */

import assert from "node:assert/strict";
import { inMemoryStorage, session, SessionDataError, SessionStorageError } from "../mod.ts";
import { type NodeRedisLike, redisStorage } from "../redis.ts";
import { denoKvStorage } from "../src/storages/denokv/mod.ts";
import type { KvLike } from "../src/storages/denokv/kv.ts";
import { storageError, withErrorRule } from "../src/storage.ts";
import { asStorageError } from "../src/session_io.ts";
import { errorsOf, testBot, updates } from "./support/bot.ts";

const down = new Error("connection refused");

Deno.test("storageError: data errors and misuse as they are, anything else wrapped with key and operation", () => {
  const data = new SessionDataError("k", "a number");
  const type = new TypeError("a function");
  const range = new RangeError("too large");
  assert.equal(storageError("read", "k", data), data);
  assert.equal(storageError("write", "k", type), type);
  assert.equal(storageError("write", "k", range), range);
  const wrapped = storageError("delete", "k", down);
  assert.ok(wrapped instanceof SessionStorageError);
  assert.deepEqual([wrapped.operation, wrapped.sessionKey, wrapped.cause], ["delete", "k", down]);
  const once = storageError("read", "k", wrapped);
  assert.equal(once, wrapped, "already wrapped: not wrapped again");
  assert.ok(storageError("read", "k", "a string") instanceof SessionStorageError);
});

Deno.test("SessionStorageError says what failed even when the storage's error has no message", () => {
  const closed = Object.assign(new Error(""), { name: "SocketClosedUnexpectedlyError" });
  assert.match(
    new SessionStorageError("write", "k", closed).message,
    /storage write failed: SocketClosedUnexpectedlyError$/,
  );
  const refused = new AggregateError([
    Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:7201"), { code: "ECONNREFUSED" }),
    new Error("connect ECONNREFUSED ::1:7201"),
  ]);
  Object.assign(refused, { code: "ECONNREFUSED" });
  assert.equal(
    new SessionStorageError("read", "k", refused).message,
    'Session "k": storage read failed: AggregateError: ECONNREFUSED: connect ECONNREFUSED ' +
      "127.0.0.1:7201; connect ECONNREFUSED ::1:7201 (handlers were not run on a blank session; " +
      "nothing was written)",
  );
  assert.match(new SessionStorageError("read", "k", down).message, /failed: connection refused/);
  // An aggregate that holds itself: described, not recursed into forever.
  const looped = new AggregateError([]);
  looped.errors.push(looped);
  assert.match(
    new SessionStorageError("read", "k", looped).message,
    /failed: AggregateError: AggregateError/,
  );
});

Deno.test("withErrorRule: keyed methods, synchronous or not, follow the rule; keys() and the rest are left alone", async () => {
  const storage = withErrorRule({
    get: (_key: string): unknown => {
      throw down;
    },
    has: (_key: string) => Promise.reject(down),
    set: (_key: string, _value: unknown) => {
      throw new TypeError("cannot store");
    },
    delete: (key: string) => key === "x",
    keys: () => {
      throw down;
    },
  });
  assert.throws(
    () => storage.get("a"),
    (error) =>
      error instanceof SessionStorageError && error.operation === "read" && error.cause === down,
  );
  await assert.rejects(
    storage.has("b"),
    (error) => error instanceof SessionStorageError && error.sessionKey === "b",
  );
  assert.throws(() => storage.set("c", 1), TypeError);
  assert.equal(storage.delete("x"), true);
  assert.throws(() => storage.keys(), (error) => error === down);
});

Deno.test("asStorageError: a storage's own SessionStorageError as it is, anything else wrapped", () => {
  const own = new SessionStorageError("read", "k", down);
  assert.equal(asStorageError("read", "k", own), own);
  const type = new TypeError("cannot store");
  const wrapped = asStorageError("write", "k", type);
  assert.ok(wrapped instanceof SessionStorageError);
  assert.equal(wrapped.cause, type);
});

/** A Deno KV database whose every call fails with `down`. */
const deadKv: KvLike = {
  get: () => Promise.reject(down),
  atomic: () => ({
    check: () => undefined,
    set: () => undefined,
    delete: () => undefined,
    commit: () => Promise.reject(down),
  }),
  list: () => ({
    [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(down) }),
  }),
};

/** A node-redis client whose every command fails with `down`. */
const deadRedis: NodeRedisLike = { sendCommand: () => Promise.reject(down) };

for (
  const [name, storage] of [
    ["Deno KV", denoKvStorage(deadKv)],
    ["Redis", redisStorage(deadRedis)],
  ] as const
) {
  Deno.test(`${name} storage: a failing database is a SessionStorageError naming key and operation`, async () => {
    const failed = (operation: string, key: string) => (error: unknown) =>
      error instanceof SessionStorageError && error.operation === operation &&
      error.sessionKey === key && error.cause === down;
    await assert.rejects(storage.get("1"), failed("read", "1"));
    await assert.rejects(storage.getVersioned("2"), failed("read", "2"));
    await assert.rejects(storage.has("3"), failed("read", "3"));
    await assert.rejects(storage.set("4", { count: 1 }), failed("write", "4"));
    await assert.rejects(storage.setIfVersion("5", { count: 1 }, null), failed("write", "5"));
    await assert.rejects(storage.delete("6"), failed("delete", "6"));
    await assert.rejects(storage.deleteIfVersion("7", null), failed("delete", "7"));
  });

  Deno.test(`${name} storage: through the plugin, its SessionStorageError reaches onError once, not wrapped again`, async () => {
    const bot = testBot()
      .extend(session({ storage, initial: () => ({ count: 0 }) }))
      .on("message", (context) => void context.session.count++);
    await bot.updates.handleUpdate(updates.message(8));
    const [error] = errorsOf(bot);
    assert.ok(error instanceof SessionStorageError);
    assert.equal(error.cause, down);
    assert.equal(error.message.match(/storage read failed/g)?.length, 1, error.message);
  });
}

Deno.test("Deno KV storage: rewritten during every read is a SessionStorageError", async () => {
  // Each read of the head sees a new versionstamp, and the chunks never match it.
  let stamp = 0;
  const churning: KvLike = {
    ...deadKv,
    get: (key) =>
      Promise.resolve(
        key.length === 2
          ? {
            value: { __gramio_session_chunks__: 1, chunks: 1, bytes: 4 },
            versionstamp: String(++stamp).padStart(20, "0"),
          }
          : { value: new Uint8Array(4), versionstamp: "0".repeat(20) },
      ),
  };
  await assert.rejects(
    denoKvStorage(churning).get("9"),
    (error) =>
      error instanceof SessionStorageError && error.operation === "read" &&
      /no consistent read/.test(error.message),
  );
});

Deno.test("Deno KV storage: a value no structured clone holds is a TypeError, also when it is chunked", async () => {
  const storage = denoKvStorage(Deno.openKv(":memory:"));
  try {
    await assert.rejects(storage.set("small", { f: () => 1 }), TypeError);
    // Shaped like a chunk manifest: stored through node:v8 chunks, like a large session.
    await assert.rejects(
      storage.set("chunked", { __gramio_session_chunks__: 1, f: () => 1 }),
      (error) => error instanceof TypeError && /"chunked"/.test(error.message),
    );
    assert.equal(await storage.has("chunked"), false);
  } finally {
    await storage.close();
  }
});

Deno.test("in-memory storage: only misuse can fail, as a TypeError", () => {
  assert.throws(() => inMemoryStorage().set("f", { f: () => 1 }), TypeError);
});

Deno.test("every storage refuses a ttl that is not a positive number of milliseconds, writing nothing", async () => {
  const storages = [
    inMemoryStorage(),
    denoKvStorage(Deno.openKv(":memory:")),
    // The commands fail: a refused ttl must be refused before any is sent.
    redisStorage(deadRedis),
  ];
  for (const storage of storages) {
    for (const ttl of [0, -1, NaN, Infinity]) {
      const name = `${storage.name}, ttl ${ttl}`;
      await assert.rejects(
        async () => await storage.set("t", { n: 1 }, { ttl }),
        (error) => error instanceof RangeError && /positive number/.test(error.message),
        name,
      );
      await assert.rejects(
        async () => await storage.setIfVersion("t", { n: 1 }, null, { ttl }),
        RangeError,
        name,
      );
    }
  }
  assert.equal(storages[0].has("t"), false);
  assert.equal(await storages[1].has("t"), false);
  await (storages[1] as ReturnType<typeof denoKvStorage>).close();
});
