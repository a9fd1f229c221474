import assert from "node:assert/strict";
import { redisStorage } from "../redis.ts";
import { sessionStore } from "../mod.ts";
import type { BunRedisLike, NodeRedisLike, RedisClientLike } from "../redis.ts";
import {
  type OpenClient,
  openIoRedis,
  openNodeRedis,
  redisAvailable,
  testPrefix,
} from "./support/redis_clients.ts";

const available = await redisAvailable();
const ignore = !available;

const flavors: Array<() => Promise<OpenClient>> = [openIoRedis, openNodeRedis];

/** Sends one raw command through whichever client it is. */
function raw(client: RedisClientLike, ...args: string[]): Promise<unknown> {
  if ("call" in client) return client.call(args[0], ...args.slice(1));
  if ("sendCommand" in client) return client.sendCommand(args);
  return client.send(args[0], args.slice(1));
}

/** Deletes every key under `prefix` (listed by the storage under test). */
async function cleanUp(client: RedisClientLike, prefix: string) {
  for await (const key of redisStorage(client, { prefix }).keys()) {
    await raw(client, "DEL", prefix + key);
  }
}

function richValue() {
  return {
    when: new Date("2024-02-29T12:34:56.789Z"),
    tags: new Set(["a", "b"]),
    scores: new Map<string, bigint>([["alice", 2n ** 70n]]),
    big: -12345678901234567890n,
    nested: { list: [1, { deep: new Date(0) }], missing: undefined },
    text: "ünïcödé \u2028 </script>",
  };
}

for (const open of flavors) {
  const name = open === openIoRedis ? "ioredis" : "node-redis";

  Deno.test({
    name: `redisStorage (${name})`,
    ignore,
    async fn(t) {
      const { client, close } = await open();
      const prefix = testPrefix();
      const storage = redisStorage(client, { prefix });
      try {
        await t.step(
          "round-trips Date, Map, Set, BigInt and nesting",
          async () => {
            await storage.set("rich", richValue());
            assert.deepEqual(await storage.get("rich"), richValue());
            const stored = await raw(client, "GET", prefix + "rich");
            assert.match(String(stored), /^dv1:[0-9a-f]{16}:\[/);
            const { value, version } = await storage.getVersioned("rich");
            assert.deepEqual(value, richValue());
            assert.match(String(version), /^[0-9a-f]{16}$/);
          },
        );

        await t.step("uses the default prefix", async () => {
          const plain = redisStorage(client);
          const key = crypto.randomUUID();
          await plain.set(key, 1);
          try {
            assert.equal(
              await raw(client, "EXISTS", `gramio-session:${key}`),
              1,
            );
          } finally {
            await plain.delete(key);
          }
        });

        await t.step(
          "reads JSON written by @gramio/storage-redis",
          async () => {
            const legacy = { apple: 3, nested: { list: [1, "two", null] } };
            await raw(client, "SET", prefix + "legacy", JSON.stringify(legacy));
            assert.deepEqual(await storage.get("legacy"), legacy);
            assert.equal(await storage.has("legacy"), true);

            // Its version is the SHA-1 of the stored text, computed the same
            // way by the client and by the Lua script.
            const { value, version } = await storage.getVersioned("legacy");
            assert.deepEqual(value, legacy);
            assert.match(String(version), /^sha1:[0-9a-f]{40}$/);
            assert.equal(
              await storage.setIfVersion("legacy", { apple: 4 }, "sha1:0"),
              false,
            );
            assert.equal(
              await storage.setIfVersion("legacy", { apple: 4 }, version),
              true,
            );
            assert.deepEqual(await storage.get("legacy"), { apple: 4 });
          },
        );

        await t.step("ttl becomes PX", async () => {
          await storage.set("ttl", 1, { ttl: 60_000 });
          const pttl = Number(await raw(client, "PTTL", prefix + "ttl"));
          assert.ok(pttl > 0 && pttl <= 60_000, `PTTL ${pttl}`);

          await storage.set("ttl", 2);
          assert.equal(Number(await raw(client, "PTTL", prefix + "ttl")), -1);

          const { version } = await storage.getVersioned("ttl");
          assert.equal(
            await storage.setIfVersion("ttl", 3, version, { ttl: 30_000 }),
            true,
          );
          const casPttl = Number(await raw(client, "PTTL", prefix + "ttl"));
          assert.ok(casPttl > 0 && casPttl <= 30_000, `PTTL ${casPttl}`);

          // A fractional ttl is rounded up (PX takes an integer).
          await storage.set("ttl", 4, { ttl: 1_500.5 });
          const rounded = Number(await raw(client, "PTTL", prefix + "ttl"));
          assert.ok(rounded > 0 && rounded <= 1_501, `PTTL ${rounded}`);
        });

        await t.step("setIfVersion compares and sets", async () => {
          assert.equal(await storage.setIfVersion("cas", { n: 1 }, null), true);
          assert.equal(
            await storage.setIfVersion("cas", { n: 9 }, null),
            false,
          );

          const first = await storage.getVersioned("cas");
          assert.deepEqual(first.value, { n: 1 });
          assert.equal(
            await storage.setIfVersion("cas", { n: 2 }, first.version),
            true,
          );
          const second = await storage.getVersioned("cas");
          assert.notEqual(second.version, first.version);
          assert.equal(
            await storage.setIfVersion("cas", { n: 3 }, first.version),
            false,
          );
          assert.deepEqual(await storage.get("cas"), { n: 2 });

          // A plain set also changes the version.
          await storage.set("cas", { n: 4 });
          assert.equal(
            await storage.setIfVersion("cas", { n: 5 }, second.version),
            false,
          );

          // A version for a key that is gone is a conflict too.
          await storage.delete("cas");
          assert.equal(
            await storage.setIfVersion("cas", { n: 6 }, second.version),
            false,
          );
          assert.equal(await storage.has("cas"), false);
        });

        await t.step("falls back to EVAL on NOSCRIPT", async () => {
          // Fault injection: the server "forgot" the script once (restart,
          // SCRIPT FLUSH). Flushing the shared Redis for real would disturb
          // other users of it.
          let evalsha = 0;
          const forgetful: NodeRedisLike = {
            sendCommand(args) {
              if (args[0] === "EVALSHA" && evalsha++ === 0) {
                return Promise.reject(
                  new Error("NOSCRIPT No matching script. Please use EVAL."),
                );
              }
              return raw(client, ...args);
            },
          };
          const flaky = redisStorage(forgetful, { prefix });
          assert.equal(await flaky.setIfVersion("flush", 1, null), true);
          assert.equal(await flaky.setIfVersion("flush", 2, null), false);
          assert.equal(evalsha, 2);
          assert.equal(await storage.get("flush"), 1);
        });

        await t.step("does not retry other script errors", async () => {
          const broken: NodeRedisLike = {
            sendCommand: (args) =>
              args[0] === "EVALSHA"
                ? Promise.reject(new Error("BUSY Redis is busy"))
                : raw(client, ...args),
          };
          await assert.rejects(
            redisStorage(broken, { prefix }).setIfVersion("busy", 1, null),
            /BUSY/,
          );
          assert.equal(await storage.has("busy"), false);
        });

        await t.step("accepts Bun's send(command, args) shape", async () => {
          // Bun itself is tested elsewhere; this checks the adapter's argument split.
          const seen: string[] = [];
          const bunShaped: BunRedisLike = {
            send: (command, args) => {
              seen.push(command);
              return raw(client, command, ...args);
            },
          };
          const viaSend = redisStorage(bunShaped, { prefix });
          await viaSend.set("bun", { at: new Date(1) }, { ttl: 10_000 });
          assert.deepEqual(await storage.get("bun"), { at: new Date(1) });
          const { version } = await viaSend.getVersioned("bun");
          assert.equal(await viaSend.setIfVersion("bun", 2, version), true);
          assert.equal(await viaSend.has("bun"), true);
          assert.deepEqual(
            await Array.fromAsync(viaSend.keys()),
            await Array.fromAsync(storage.keys()),
          );
          assert.equal(await viaSend.delete("bun"), true);
          assert.deepEqual(
            [...new Set(seen)].sort(),
            ["DEL", "EVALSHA", "EXISTS", "GET", "SCAN", "SET"],
          );
        });

        await t.step("delete and has", async () => {
          await storage.set("gone", { x: 1 });
          assert.equal(await storage.has("gone"), true);
          assert.equal(await storage.delete("gone"), true);
          assert.equal(await storage.delete("gone"), false);
          assert.equal(await storage.has("gone"), false);
          assert.equal(await storage.get("gone"), undefined);
        });

        await t.step("refuses values devalue cannot store", async () => {
          class Point {
            x = 1;
          }
          await assert.rejects(
            storage.set("bad", { p: new Point() }),
            (error: Error) => error instanceof TypeError && /"bad"/.test(error.message),
          );
          assert.equal(await storage.has("bad"), false);
          const list = Object.assign([1, 2], { note: "named" });
          await assert.rejects(
            storage.set("bad", { list }),
            (error: Error) =>
              error instanceof TypeError && /"bad"/.test(error.message) &&
              /named properties \(note\)/.test(error.message),
          );
          assert.equal(await storage.has("bad"), false);
        });

        await t.step(
          "stores an own __proto__ key (JSON.parse of user input) as a field, polluting nothing",
          async () => {
            const input = JSON.parse(
              '{"__proto__": {"polluted": 1}, "\\u0001__proto__": 2, "list": [{"__proto__": 3}]}',
            );
            await storage.set("proto", input);
            const read = await storage.get("proto") as Record<string, unknown>;
            assert.equal(Object.getPrototypeOf(read), Object.prototype);
            assert.deepEqual(Object.keys(read), ["__proto__", "\u0001__proto__", "list"]);
            assert.deepEqual(Object.getOwnPropertyDescriptor(read, "__proto__")?.value, {
              polluted: 1,
            });
            assert.equal(read["\u0001__proto__"], 2);
            assert.ok(Object.hasOwn((read.list as object[])[0], "__proto__"));
            assert.equal(({} as Record<string, unknown>).polluted, undefined);

            // A legacy JSON record with such a key can be changed again.
            await raw(client, "SET", prefix + "legacy", '{"__proto__": {"a": 1}, "n": 1}');
            const legacy = await storage.getVersioned("legacy");
            const changed = legacy.value as Record<string, unknown>;
            changed.n = 2;
            assert.equal(await storage.setIfVersion("legacy", changed, legacy.version), true);
            const after = await storage.get("legacy") as Record<string, unknown>;
            assert.equal(after.n, 2);
            assert.deepEqual(Object.getOwnPropertyDescriptor(after, "__proto__")?.value, { a: 1 });
            // Through the plugin too.
            await sessionStore<{ n: number }>({ storage }).update("legacy", (s) => void s.n++);
            assert.equal((await storage.get("legacy") as { n: number }).n, 3);
          },
        );

        await t.step(
          "keys() refuses an empty prefix: it would list other applications' keys",
          async () => {
            const bare = redisStorage(client, { prefix: "" });
            await assert.rejects(
              async () => {
                for await (const _ of sessionStore({ storage: bare }).keys()) break;
              },
              /keys\(\) needs a prefix/,
            );
            await assert.rejects(
              async () => {
                for await (const _ of bare.keys()) break;
              },
              (error: Error) =>
                error instanceof RangeError && /other applications/.test(error.message),
            );
            // Reading and writing a named key still work, for @gramio/storage-redis data.
            const key = prefix + "bare";
            await bare.set(key, { n: 1 });
            assert.deepEqual(await storage.get("bare"), { n: 1 });
          },
        );
      } finally {
        await cleanUp(client, prefix);
        await close();
      }
    },
  });
}

Deno.test({
  name: "redisStorage keys() escapes glob characters in the prefix",
  ignore,
  async fn() {
    const { client, close } = await openIoRedis();
    const base = testPrefix();
    const prefix = `${base}s[ab]*?\\:`;
    try {
      const storage = redisStorage(client, { prefix, scanCount: 7 });
      const expected = new Set<string>();
      for (let i = 0; i < 60; i++) expected.add(`user:${i}`);
      expected.add("");
      expected.add("with*star");
      await Promise.all([...expected].map((key) => storage.set(key, 1)));
      // Decoys that an unescaped `s[ab]*?\:*` pattern would match.
      await raw(client, "SET", `${base}sa-decoy`, "1");
      await raw(client, "SET", `${base}sbXY:z`, "1");

      const listed: string[] = [];
      for await (const key of storage.keys()) listed.push(key);
      assert.equal(listed.length, expected.size, "each key once");
      assert.deepEqual(new Set(listed), expected);
    } finally {
      await cleanUp(client, base);
      await close();
    }
  },
});

Deno.test({
  name: "redisStorage setIfVersion conflicts between ioredis and node-redis",
  ignore,
  async fn() {
    const io = await openIoRedis();
    const node = await openNodeRedis();
    const prefix = testPrefix();
    try {
      const a = redisStorage(io.client, { prefix });
      const b = redisStorage(node.client, { prefix });

      await a.set("shared", richValue());
      const fromA = await a.getVersioned("shared");
      const fromB = await b.getVersioned("shared");
      assert.equal(fromA.version, fromB.version);
      assert.deepEqual(fromB.value, richValue());

      assert.equal(
        await a.setIfVersion("shared", { by: "a" }, fromA.version),
        true,
      );
      assert.equal(
        await b.setIfVersion("shared", { by: "b" }, fromB.version),
        false,
      );
      assert.deepEqual(await b.get("shared"), { by: "a" });

      // Both race from the same version: exactly one wins.
      const base = await b.getVersioned("shared");
      const results = await Promise.all([
        a.setIfVersion("shared", { by: "a2" }, base.version),
        b.setIfVersion("shared", { by: "b2" }, base.version),
      ]);
      assert.equal(results.filter(Boolean).length, 1);
      const winner = results[0] ? "a2" : "b2";
      assert.deepEqual(await a.get("shared"), { by: winner });

      // "Must not exist" races the same way.
      const created = await Promise.all([
        a.setIfVersion("fresh", 1, null),
        b.setIfVersion("fresh", 2, null),
      ]);
      assert.equal(created.filter(Boolean).length, 1);
    } finally {
      await cleanUp(io.client, prefix);
      await io.close();
      await node.close();
    }
  },
});

Deno.test({
  name:
    "redisStorage on ioredis: commands sent while one waits leave in one socket write; each keeps its own reply or error",
  ignore,
  async fn() {
    const { client, close } = await openIoRedis();
    const prefix = testPrefix();
    // The socket's writes to the kernel: one `_write` per chunk, one `_writev` per corked batch.
    const stream =
      (client as unknown as { stream: Record<string, (...args: unknown[]) => unknown> })
        .stream;
    let writes = 0;
    const counted = (name: string) => {
      const original = stream[name];
      if (typeof original !== "function") return;
      stream[name] = function (this: unknown, ...args: unknown[]) {
        writes++;
        return original.apply(this, args);
      };
    };
    counted("_write");
    counted("_writev");
    try {
      const storage = redisStorage(client, { prefix });
      const keys = Array.from({ length: 50 }, (_, i) => `user:${i}`);
      await Promise.all(keys.map((key, i) => storage.set(key, { i })));
      await raw(client, "RPUSH", prefix + "a-list", "x"); // not a string: GET answers WRONGTYPE

      // One update at a time: each command is written at once.
      writes = 0;
      for (const key of keys.slice(0, 5)) await storage.getVersioned(key);
      assert.equal(writes, 5);

      // Reads of updates in flight at once: the first is written, the rest wait for the end of the turn.
      writes = 0;
      const read = await Promise.all(keys.map((key) => storage.getVersioned(key)));
      assert.ok(writes <= 3, `${writes} socket writes for ${keys.length} reads`);
      assert.deepEqual(read.map(({ value }) => value), keys.map((_, i) => ({ i })));

      // Their saves, sent together: each compare-and-set answers for itself.
      writes = 0;
      const saved = await Promise.all(
        read.map(({ version }, i) =>
          storage.setIfVersion(keys[i], { i: -i }, i === 7 ? "stale" : version)
        ),
      );
      assert.ok(writes <= 3, `${writes} socket writes for ${keys.length} saves`);
      assert.deepEqual(saved, keys.map((_, i) => i !== 7));
      assert.deepEqual(await storage.get(keys[9]), { i: -9 });
      assert.deepEqual(await storage.get(keys[7]), { i: 7 });

      // An error in the batch is that command's alone.
      const mixed = await Promise.allSettled([
        storage.get(keys[1]),
        storage.get("a-list"),
        storage.get(keys[2]),
      ]);
      assert.deepEqual(mixed.map(({ status }) => status), ["fulfilled", "rejected", "fulfilled"]);
      assert.match(String((mixed[1] as PromiseRejectedResult).reason), /WRONGTYPE/);
      assert.deepEqual((mixed[2] as PromiseFulfilledResult<unknown>).value, { i: -2 });
    } finally {
      await cleanUp(client, prefix);
      await close();
    }
  },
});

Deno.test("redisStorage rejects an object that is no Redis client", () => {
  assert.throws(
    () => redisStorage({} as unknown as RedisClientLike),
    TypeError,
  );
});
