// Deno KV on Node: denoKvStorage over npm @deno/kv (native SQLite), from the
// built package. Each test uses a fresh database file in a temp dir.
// Node only: @deno/kv refuses to open a database on Bun without custom V8
// codecs (Bun's node:v8 writes JavaScriptCore's format).
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { openKv } from "@deno/kv";
import { denoKvStorage, session } from "@gramio/session";
import { message, testBot } from "./support/bot.mjs";

let dir;
let files = 0;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "gramio-session-kv-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});
const dbPath = () => join(dir, `kv-${++files}.sqlite`);

test("KV storage round-trips Date, Map, Set and BigInt values", async () => {
  const kv = await openKv(dbPath());
  try {
    const storage = denoKvStorage(kv);
    const value = {
      seen: new Date(1_700_000_000_000),
      tags: new Map([["a", 1], ["b", 2]]),
      ids: new Set([1n, 2n]),
      nested: { list: [1, "two", null] },
    };
    await storage.set("42", value);
    const back = await storage.get("42");
    assert.ok(back.seen instanceof Date);
    assert.ok(back.tags instanceof Map);
    assert.deepEqual(back, value);
    assert.equal(await storage.has("42"), true);
    const keys = [];
    for await (const key of storage.keys()) keys.push(key); // Array.fromAsync needs Node 22
    assert.deepEqual(keys, ["42"]);
    await storage.delete("42");
    assert.equal(await storage.get("42"), undefined);
  } finally {
    kv.close();
  }
});

test("KV storage: compare-and-set rejects a stale version", async () => {
  const kv = await openKv(dbPath());
  try {
    const storage = denoKvStorage(kv);
    assert.equal(await storage.setIfVersion("k", { n: 1 }, null), true);
    const { value, version } = await storage.getVersioned("k");
    assert.deepEqual(value, { n: 1 });
    assert.equal(await storage.setIfVersion("k", { n: 2 }, version), true);
    assert.equal(
      await storage.setIfVersion("k", { n: 3 }, version),
      false,
      "stale version must lose",
    );
    assert.equal(
      await storage.setIfVersion("k", { n: 4 }, null),
      false,
      "null means must not exist",
    );
    assert.deepEqual(await storage.get("k"), { n: 2 });
  } finally {
    kv.close();
  }
});

test("KV storage: a session larger than one KV value is chunked and read back", async () => {
  const kv = await openKv(dbPath());
  try {
    const storage = denoKvStorage(kv);
    const big = { text: "x".repeat(200_000), when: new Date(7) };
    await storage.set("big", big);
    assert.deepEqual(await storage.get("big"), big);
    await storage.set("big", { small: true });
    assert.deepEqual(await storage.get("big"), { small: true });
  } finally {
    kv.close();
  }
});

test("the counter bot's sessions persist across closing and reopening the database", async () => {
  const path = dbPath();
  const run = async (updates) => {
    const kv = await openKv(path);
    try {
      const replies = [];
      const bot = testBot()
        .extend(session({
          key: "sessionKey",
          storage: denoKvStorage(kv, { prefix: ["counter"] }),
          initial: () => ({ apple: 1, since: new Date(0) }),
        }))
        .on("message", (context) => {
          replies.push(
            `${context.senderId}: apple count is ${++context.sessionKey.apple}`,
          );
          assert.ok(context.sessionKey.since instanceof Date);
        });
      for (const from of updates) await bot.updates.handleUpdate(message(from));
      assert.deepEqual(bot.errors, []);
      return replies;
    } finally {
      kv.close();
    }
  };
  assert.deepEqual(await run([1, 1, 2]), [
    "1: apple count is 2",
    "1: apple count is 3",
    "2: apple count is 2",
  ]);
  assert.deepEqual(await run([1, 2]), [
    "1: apple count is 4",
    "2: apple count is 3",
  ]);
});
