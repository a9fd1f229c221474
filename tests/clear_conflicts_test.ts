/**
 * `$clear()` across bot instances: a clear is a conditional write like any
 * save. It never erases another instance's save silently, and a change made
 * after it never merges wiped fields back. Each backend runs with two handles
 * on one database (memory: a second handle with its own lock table; Deno KV:
 * two handles on one file; Redis: two clients), as two processes would.
 */
import assert from "node:assert/strict";
import {
  denoKvStorage,
  inMemoryStorage,
  type Session,
  session,
  SessionConflictError,
  SessionStorageError,
  sessionStore,
  type Storage,
  type VersionedStorage,
} from "../mod.ts";
import { redisStorage } from "../redis.ts";
import { errorsOf, gate, secondHandle, testBot, updates } from "./support/bot.ts";
import { openIoRedis, openNodeRedis, redisAvailable, testPrefix } from "./support/redis_clients.ts";

const redisUp = await redisAvailable();

interface Data {
  count: number;
  history: string[];
}
const initial = (): Data => ({ count: 0, history: [] });

interface Backend {
  name: string;
  ignore?: boolean;
  /** Two instances' storages on one database. */
  open(): Promise<{ storages: [VersionedStorage, VersionedStorage]; close(): Promise<void> }>;
}

const backends: Backend[] = [
  {
    name: "memory",
    open() {
      const shared = inMemoryStorage();
      return Promise.resolve({
        storages: [shared, secondHandle(shared)],
        close: () => Promise.resolve(),
      });
    },
  },
  {
    name: "Deno KV",
    async open() {
      const dir = await Deno.makeTempDir();
      const first = await Deno.openKv(`${dir}/sessions.db`);
      const second = await Deno.openKv(`${dir}/sessions.db`);
      return {
        storages: [denoKvStorage(first), denoKvStorage(second)],
        async close() {
          first.close();
          second.close();
          await Deno.remove(dir, { recursive: true });
        },
      };
    },
  },
  {
    name: "Redis",
    ignore: !redisUp,
    async open() {
      const [io, node] = await Promise.all([openIoRedis(), openNodeRedis()]);
      const prefix = testPrefix();
      const storages: [VersionedStorage, VersionedStorage] = [
        redisStorage(io.client, { prefix }),
        redisStorage(node.client, { prefix }),
      ];
      return {
        storages,
        async close() {
          for await (const key of redisStorage(io.client, { prefix }).keys()) {
            await storages[0].delete(key);
          }
          await Promise.all([io.close(), node.close()]);
        },
      };
    },
  },
];

/**
 * Instance A runs `first` up to a point, instance B handles a whole update
 * (`second`) meanwhile, then A goes on and finishes. Returns A's errors.
 */
async function interleave(
  storages: [Storage, Storage],
  first: (s: Session<Data>, paused: () => Promise<void>) => Promise<void>,
  second: (s: Data) => void,
  onConflict?: "merge" | "error" | "overwrite",
): Promise<unknown[]> {
  const entered = gate();
  const release = gate();
  const a = testBot()
    .extend(session({ storage: storages[0], initial, onConflict }))
    .on("message", (context) =>
      first(context.session, () => {
        entered.open();
        return release.promise;
      }));
  const b = testBot()
    .extend(session({ storage: storages[1], initial, onConflict }))
    .on("message", (context) => second(context.session));
  const running = a.updates.handleUpdate(updates.message(7, "/forget_me"));
  await entered.promise;
  await b.updates.handleUpdate(updates.message(7, "+5"));
  assert.deepEqual(errorsOf(b), []);
  release.open();
  await running;
  return errorsOf(a);
}

function assertClearConflict(errors: unknown[], fields: string[]) {
  assert.equal(errors.length, 1, `one error reaches onError, got ${errors.map(String)}`);
  const error = errors[0];
  assert.ok(error instanceof SessionConflictError, String(error));
  assert.deepEqual(error.fields, fields);
  assert.match(error.message, /\$clear\(\) was not applied/);
}

for (const backend of backends) {
  const test = (name: string, fn: (storages: [VersionedStorage, VersionedStorage]) => unknown) =>
    Deno.test({
      name: `${backend.name}: ${name}`,
      ignore: backend.ignore,
      async fn() {
        const { storages, close } = await backend.open();
        try {
          await fn(storages);
        } finally {
          await close();
        }
      },
    });

  test("a clear never erases another instance's save: the conflict is reported, their +5 kept", async (storages) => {
    await storages[0].set("7", { count: 1, history: ["secret"] });
    const errors = await interleave(
      storages,
      async (s, paused) => {
        await paused();
        await s.$clear();
      },
      (s) => void (s.count += 5),
    );
    assertClearConflict(errors, ["count"]);
    assert.deepEqual(await storages[1].get("7"), { count: 6, history: ["secret"] });
  });

  test("clear then change: a field another instance saved is not merged back", async (storages) => {
    await storages[0].set("7", { count: 0, history: ["secret"] });
    const errors = await interleave(
      storages,
      async (s, paused) => {
        await paused();
        await s.$clear();
        s.count = 1;
      },
      (s) => void s.history.push("more"),
    );
    assertClearConflict(errors, ["history"]);
    // The other instance's save as it was: no merge of cleared and wiped data.
    assert.deepEqual(await storages[1].get("7"), { count: 0, history: ["secret", "more"] });
  });

  test("a clear after another instance deleted the session goes ahead", async (storages) => {
    await storages[0].set("7", { count: 1, history: ["secret"] });
    const entered = gate();
    const release = gate();
    const a = testBot()
      .extend(session({ storage: storages[0], initial }))
      .on("message", async (context) => {
        entered.open();
        await release.promise;
        await context.session.$clear();
        context.session.history.push("fresh start");
      });
    const running = a.updates.handleUpdate(updates.message(7));
    await entered.promise;
    await storages[1].delete("7");
    release.open();
    await running;
    assert.deepEqual(errorsOf(a), []);
    assert.deepEqual(await storages[1].get("7"), { count: 0, history: ["fresh start"] });
  });

  test("deleteIfVersion deletes only the version it was given", async ([storage, other]) => {
    assert.equal(await storage.deleteIfVersion!("1", null), true, "nothing stored, as expected");
    await storage.set("1", { count: 1 });
    const read = await storage.getVersioned("1");
    assert.equal(await storage.deleteIfVersion!("1", null), false);
    await other.set("1", { count: 2 });
    assert.equal(await storage.deleteIfVersion!("1", read.version), false, "stale version");
    assert.deepEqual(await storage.get("1"), { count: 2 });
    const current = await other.getVersioned("1");
    assert.equal(await storage.deleteIfVersion!("1", current.version), true);
    assert.equal(await storage.has("1"), false);
    assert.equal(await storage.deleteIfVersion!("1", current.version), false, "already gone");
  });
}

Deno.test("memory: a clear retries when the other save changed nothing; overwrite deletes anyway", async () => {
  const shared = inMemoryStorage();
  const other = secondHandle(shared);
  await shared.set("7", { count: 1, history: ["secret"] });
  // Rewritten with the same data: a new version, nothing to lose.
  const unchanged = await interleave(
    [shared, other],
    async (s, paused) => {
      await paused();
      await s.$clear();
    },
    () => void other.set("7", { count: 1, history: ["secret"] }),
  );
  assert.deepEqual(unchanged, []);
  assert.equal(shared.has("7"), false);

  await shared.set("7", { count: 1, history: ["secret"] });
  const overwritten = await interleave(
    [shared, other],
    async (s, paused) => {
      await paused();
      await s.$clear();
    },
    (s) => void (s.count += 5),
    "overwrite",
  );
  assert.deepEqual(overwritten, [], "onConflict: overwrite is last-write-wins, clears too");
  assert.equal(shared.has("7"), false);
});

Deno.test('memory: onConflict "error" reports a clear that conflicts', async () => {
  const shared = inMemoryStorage();
  await shared.set("7", { count: 1, history: [] });
  const errors = await interleave(
    [shared, secondHandle(shared)],
    async (s, paused) => {
      await paused();
      await s.$clear();
    },
    (s) => void (s.count += 5),
    "error",
  );
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof SessionConflictError);
  assert.deepEqual(shared.get("7"), { count: 6, history: [] });
});

Deno.test("sessionStore().update: a clear then a change is not merged with another instance's save", async () => {
  const shared = inMemoryStorage();
  await shared.set("9", { count: 0, history: ["secret"] });
  const other = sessionStore<Data>({ storage: secondHandle(shared), initial });
  await assert.rejects(
    sessionStore<Data>({ storage: shared, initial }).update("9", async (s) => {
      await other.update("9", (t) => void t.history.push("more"));
      await s.$clear();
      s.count = 1;
    }),
    (error) => error instanceof SessionConflictError && error.fields.join() === "history",
  );
  assert.deepEqual(shared.get("9"), { count: 0, history: ["secret", "more"] });
});

/** A third-party storage with compare-and-set but no versioned delete. */
function withoutVersionedDelete(storage: VersionedStorage): VersionedStorage {
  const handle = secondHandle(storage);
  delete handle.deleteIfVersion;
  return handle;
}

Deno.test("a storage without deleteIfVersion: a clear stores initial() conditionally, never over another save", async () => {
  const shared = inMemoryStorage();
  await shared.set("7", { count: 1, history: ["secret"] });
  const bot = testBot()
    .extend(session({ storage: withoutVersionedDelete(shared), initial }))
    .on("message", async (context) => await context.session.$clear());
  await bot.updates.handleUpdate(updates.message(7));
  assert.deepEqual(errorsOf(bot), []);
  assert.deepEqual(shared.get("7"), initial(), "the data is gone; initial() is stored instead");

  await shared.set("7", { count: 1, history: ["secret"] });
  const errors = await interleave(
    [withoutVersionedDelete(shared), secondHandle(shared)],
    async (s, paused) => {
      await paused();
      await s.$clear();
    },
    (s) => void (s.count += 5),
  );
  assertClearConflict(errors, ["count"]);
  assert.deepEqual(shared.get("7"), { count: 6, history: ["secret"] });
});

Deno.test({
  name: "Deno KV: deleteIfVersion removes a chunked session's head and chunks in one commit",
  async fn() {
    const kv = await Deno.openKv(":memory:");
    try {
      const storage = denoKvStorage(kv, { prefix: ["clear-test"] });
      const big = { blob: "x".repeat(200_000) };
      await storage.set("big", big);
      const read = await storage.getVersioned("big");
      await storage.set("big", { ...big, n: 1 });
      assert.equal(await storage.deleteIfVersion("big", read.version), false);
      assert.equal((await storage.get("big") as { n: number }).n, 1);
      const current = await storage.getVersioned("big");
      assert.equal(await storage.deleteIfVersion("big", current.version), true);
      const left = [];
      for await (const entry of kv.list({ prefix: ["clear-test"] })) left.push(entry.key);
      assert.deepEqual(left, [], "no head, no chunk left");
    } finally {
      kv.close();
    }
  },
});

Deno.test({
  name: "Redis: deleteIfVersion on a legacy JSON value (SHA-1 version)",
  ignore: !redisUp,
  async fn() {
    const io = await openIoRedis();
    const prefix = testPrefix();
    try {
      const storage = redisStorage(io.client, { prefix });
      await (io.client as { call(...args: string[]): Promise<unknown> })
        .call("SET", prefix + "legacy", JSON.stringify({ count: 3 }));
      const read = await storage.getVersioned("legacy");
      assert.match(read.version!, /^sha1:/);
      assert.equal(await storage.deleteIfVersion("legacy", "sha1:0"), false);
      assert.equal(await storage.deleteIfVersion("legacy", read.version), true);
      assert.equal(await storage.has("legacy"), false);
    } finally {
      await io.close();
    }
  },
});

Deno.test("sessionStore().update(key, (s) => s.$clear()) deletes only what it read; delete() is unconditional", async () => {
  const shared = inMemoryStorage();
  const store = sessionStore<Data>({ storage: shared, initial });
  const other = sessionStore<Data>({ storage: secondHandle(shared), initial });
  await shared.set("9", { count: 1, history: ["secret"] });
  await assert.rejects(
    store.update("9", async (s) => {
      await other.update("9", (t) => void (t.count += 5));
      await s.$clear();
    }),
    (error) => error instanceof SessionConflictError && error.fields.join() === "count",
  );
  assert.deepEqual(shared.get("9"), { count: 6, history: ["secret"] });
  await store.update("9", (s) => s.$clear());
  assert.equal(shared.has("9"), false);
  await shared.set("9", { count: 1, history: [] });
  await store.delete("9");
  assert.equal(shared.has("9"), false);
});

Deno.test("a failing versioned delete reaches onError as a SessionStorageError and keeps the record", async () => {
  const shared = inMemoryStorage();
  await shared.set("7", { count: 1, history: ["secret"] });
  const storage = secondHandle(shared);
  storage.deleteIfVersion = () => Promise.reject(new Error("delete is down"));
  const bot = testBot()
    .extend(session({ storage, initial }))
    .on("message", async (context) => await context.session.$clear());
  await bot.updates.handleUpdate(updates.message(7));
  const [error] = errorsOf(bot);
  assert.ok(error instanceof SessionStorageError, String(error));
  assert.equal(error.operation, "delete");
  assert.match(error.message, /delete is down/);
  assert.deepEqual(shared.get("7"), { count: 1, history: ["secret"] });
});
