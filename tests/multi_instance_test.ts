/**
 * Two bot instances on one database (two Deno KV handles on one file, or two
 * Redis clients): each has its own in-process lock table, as two processes
 * would, so only compare-and-set stands between them and a lost update.
 */
import assert from "node:assert/strict";
import { denoKvStorage, session, SessionConflictError, type Storage } from "../mod.ts";
import { redisStorage } from "../redis.ts";
import { errorsOf, testBot, updates } from "./support/bot.ts";
import { openIoRedis, openNodeRedis, redisAvailable, testPrefix } from "./support/redis_clients.ts";

const UPDATES_PER_INSTANCE = 150;

/** Both instances hammer one user; every update increments `field(instance)`. */
async function hammer(
  storages: [Storage, Storage],
  field: (instance: number) => "a" | "b",
) {
  const bots = storages.map((storage, instance) =>
    testBot()
      .extend(session({ storage, initial: () => ({ a: 0, b: 0 }) }))
      .on("message", async (context) => {
        const s = context.session;
        const n = s[field(instance)];
        await new Promise((resolve) => setTimeout(resolve, 0));
        s[field(instance)] = n + 1;
      })
  );
  // Interleave the two instances' updates, all in flight at once.
  const work: Promise<unknown>[] = [];
  for (let i = 0; i < UPDATES_PER_INSTANCE; i++) {
    for (const bot of bots) {
      work.push(bot.updates.handleUpdate(updates.message(77)));
    }
  }
  await Promise.all(work);
  const errors = bots.map((bot) => errorsOf(bot));
  for (const error of errors.flat()) {
    assert.ok(error instanceof SessionConflictError, String(error));
  }
  const stored = await storages[0].get("77") as { a: number; b: number };
  return {
    stored,
    conflicts: errors.flat().length,
    conflictsOf: errors.map((list) => list.length),
  };
}

async function withKvFile(
  run: (storages: [Storage, Storage]) => Promise<void>,
) {
  const dir = await Deno.makeTempDir();
  const first = await Deno.openKv(`${dir}/sessions.db`);
  const second = await Deno.openKv(`${dir}/sessions.db`);
  try {
    await run([denoKvStorage(first), denoKvStorage(second)]);
  } finally {
    first.close();
    second.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("two instances on one KV file, same field: count + reported conflicts = updates", async () => {
  await withKvFile(async (storages) => {
    const { stored, conflicts } = await hammer(storages, () => "a");
    assert.equal(
      stored.a + conflicts,
      2 * UPDATES_PER_INSTANCE,
      `count ${stored.a}, conflicts ${conflicts}`,
    );
    assert.ok(conflicts > 0, "the two instances really raced");
  });
});

/**
 * Disjoint changes are merged. Under this much contention a save can still
 * lose the race ten times in a row and give up; it is then reported, so each
 * field's count plus its instance's reported conflicts is exact.
 */
function assertMerged(result: Awaited<ReturnType<typeof hammer>>) {
  const { stored, conflictsOf } = result;
  assert.equal(
    stored.a + conflictsOf[0],
    UPDATES_PER_INSTANCE,
    `a=${stored.a}, reported ${conflictsOf[0]}`,
  );
  assert.equal(
    stored.b + conflictsOf[1],
    UPDATES_PER_INSTANCE,
    `b=${stored.b}, reported ${conflictsOf[1]}`,
  );
}

Deno.test("two instances on one KV file, different fields: merged, and nothing lost silently", async () => {
  await withKvFile(async (storages) => {
    assertMerged(
      await hammer(storages, (instance) => (instance === 0 ? "a" : "b")),
    );
  });
});

Deno.test("two instances on one Redis (ioredis and node-redis): no silent lost update", async (t) => {
  if (!await redisAvailable()) return;
  const [io, node] = await Promise.all([openIoRedis(), openNodeRedis()]);
  const prefix = testPrefix();
  const storages: [Storage, Storage] = [
    redisStorage(io.client, { prefix }),
    redisStorage(node.client, { prefix }),
  ];
  try {
    await t.step("same field", async () => {
      const { stored, conflicts } = await hammer(storages, () => "a");
      assert.equal(stored.a + conflicts, 2 * UPDATES_PER_INSTANCE);
      await storages[0].delete("77");
    });
    await t.step("different fields", async () => {
      assertMerged(
        await hammer(storages, (instance) => (instance === 0 ? "a" : "b")),
      );
      await storages[0].delete("77");
    });
  } finally {
    await Promise.all([io.close(), node.close()]);
  }
});
