/**
 * Redis Cluster, with ioredis `Cluster` and node-redis `createCluster()`:
 * several bot instances on the shared test cluster (`scripts/redis_cluster.sh
 * start`, ports 7101-7106), and a failover on a private cluster (7201-7206)
 * that this file starts, kills a master of, and stops.
 */
import assert from "node:assert/strict";
import { Bot, type TelegramUpdate } from "gramio";
import { session, SessionConflictError, SessionStorageError } from "../mod.ts";
import { type IoRedisClusterLike, type RedisStorage, redisStorage } from "../redis.ts";
import { errorsOf, testBot, updates } from "./support/bot.ts";
import {
  type OpenCluster,
  openIoRedisCluster,
  openNodeRedisCluster,
  redisClusterAvailable,
  startRedisCluster,
  testPrefix,
} from "./support/redis_clients.ts";

const available = await redisClusterAvailable();

interface Counter {
  count: number;
  seen: Set<number>;
  last: Date;
}

const initial = (): Counter => ({ count: 0, seen: new Set(), last: new Date(0) });

/** Counts, remembers the update id and the time: a torn session would break count === seen.size. */
async function count(context: { session: Counter; update?: TelegramUpdate }) {
  const s = context.session;
  const n = s.count;
  await new Promise((resolve) => setTimeout(resolve, 0)); // let the other instance interleave
  s.count = n + 1;
  s.seen.add(context.update!.update_id);
  s.last = new Date(1_700_000_000_000 + n);
}

async function removeAll(storage: RedisStorage) {
  for await (const key of storage.keys()) await storage.delete(key);
}

const flavors: Array<{
  name: string;
  open: () => Promise<OpenCluster>;
  /** A client of the failover test's private cluster, with the client's default retries. */
  openFailover: (node: string) => Promise<OpenCluster>;
}> = [
  {
    name: "ioredis Cluster",
    open: () => openIoRedisCluster(),
    openFailover: (node) => openIoRedisCluster(node),
  },
  {
    name: "node-redis createCluster",
    open: () => openNodeRedisCluster(),
    openFailover: (node) => openNodeRedisCluster(node),
  },
];

const USERS = 24;
const UPDATES_PER_USER = 10;

for (const { name, open } of flavors) {
  Deno.test({
    name:
      `Redis Cluster (${name}): two bot instances, ${USERS} users: count + reported conflicts = updates sent; Date/Set round-trip; keys() lists every session once`,
    ignore: !available,
    async fn() {
      const clients: OpenCluster[] = [await open(), await open()];
      const prefix = testPrefix();
      const storages = clients.map(({ client }) => redisStorage(client, { prefix, scanCount: 5 }));
      try {
        const bots = storages.map((storage) =>
          testBot().extend(session({ storage, initial })).on("message", count)
        );
        const sent = new Map<string, number[]>();
        const work: Promise<unknown>[] = [];
        for (let round = 0; round < UPDATES_PER_USER; round++) {
          for (let user = 1; user <= USERS; user++) {
            const update = updates.message(user);
            const ids = sent.get(String(user)) ?? [];
            sent.set(String(user), [...ids, update.update_id]);
            work.push(bots[(round + user) % 2].updates.handleUpdate(update));
          }
        }
        await Promise.all(work);

        const errors = bots.flatMap((bot) => errorsOf(bot));
        for (const error of errors) assert.ok(error instanceof SessionConflictError, String(error));
        const conflicts = new Map<string, number>();
        for (const error of errors as SessionConflictError[]) {
          conflicts.set(error.sessionKey!, (conflicts.get(error.sessionKey!) ?? 0) + 1);
        }
        let stored = 0;
        for (const [user, ids] of sent) {
          const value = await storages[1].get(user) as Counter;
          assert.ok(
            value.seen instanceof Set && value.last instanceof Date,
            "Set and Date survive",
          );
          assert.equal(value.seen.size, value.count, `user ${user}: not torn`);
          for (const id of value.seen) assert.ok(ids.includes(id));
          assert.equal(value.count + (conflicts.get(user) ?? 0), ids.length, `user ${user}`);
          stored += value.count;
        }
        assert.equal(stored + errors.length, USERS * UPDATES_PER_USER);
        assert.ok(errors.length > 0, "the two instances really raced");

        // Every master is scanned (the keys spread over all three), each key listed once.
        for (const storage of storages) {
          const listed = await Array.fromAsync(storage.keys());
          assert.equal(listed.length, USERS);
          assert.deepEqual(new Set(listed), new Set(sent.keys()));
        }

        // The versioned delete script is routed by its key too.
        const { version } = await storages[0].getVersioned("1");
        assert.equal(await storages[1].deleteIfVersion("1", "stale"), false);
        assert.equal(await storages[1].deleteIfVersion("1", version), true);
        assert.equal(await storages[0].has("1"), false);
      } finally {
        await removeAll(storages[0]);
        for (const client of clients) await client.close();
      }
    },
  });
}

Deno.test({
  name:
    "Redis Cluster keys(): a client that misses a master (stale view during a failover) throws instead of listing too few",
  ignore: !available,
  fn: () =>
    onIoRedisCluster(async (cluster, storage, prefix) => {
      await Promise.all(Array.from({ length: 12 }, (_, i) => storage.set(`user:${i}`, i)));
      // Fault injection on a real cluster: the client's list of masters lacks one of them.
      const stale: IoRedisClusterLike = {
        call: (command, ...args) => cluster.call(command, ...args),
        nodes: (role) => cluster.nodes(role).slice(1),
      };
      await assert.rejects(
        Array.fromAsync(redisStorage(stale, { prefix }).keys()),
        /1 master\(s\) owning slots are not among the client's nodes.*call keys\(\) again/,
      );
      assert.equal((await Array.fromAsync(storage.keys())).length, 12);
    }),
});

Deno.test({
  name:
    "Redis Cluster (ioredis): commands sent while one waits leave in one write per master; each keeps its own reply",
  ignore: !available,
  fn: () =>
    onIoRedisCluster(async (cluster, storage) => {
      const keys = Array.from({ length: 60 }, (_, i) => `user:${i}`);
      await Promise.all(keys.map((key, i) => storage.set(key, { i })));
      // Each master's socket writes to the kernel: one `_write` per chunk, one `_writev` per corked batch.
      let writes = 0;
      const masters = cluster.nodes("master");
      assert.equal(masters.length, 3);
      for (const node of masters) {
        const stream =
          (node as unknown as { stream: Record<string, (...args: unknown[]) => unknown> })
            .stream;
        for (const name of ["_write", "_writev"]) {
          const original = stream[name];
          stream[name] = function (this: unknown, ...args: unknown[]) {
            writes++;
            return original.apply(this, args);
          };
        }
      }
      const read = await Promise.all(keys.map((key) => storage.getVersioned(key)));
      assert.ok(writes <= 6, `${writes} socket writes for ${keys.length} reads on 3 masters`);
      assert.deepEqual(read.map(({ value }) => value), keys.map((_, i) => ({ i })));
      writes = 0;
      const saved = await Promise.all(
        read.map(({ version }, i) =>
          storage.setIfVersion(keys[i], { i: -i }, i === 5 ? "stale" : version)
        ),
      );
      assert.ok(writes <= 6, `${writes} socket writes for ${keys.length} saves on 3 masters`);
      assert.deepEqual(saved, keys.map((_, i) => i !== 5));
      assert.deepEqual(await storage.get(keys[4]), { i: -4 });
      assert.deepEqual(await storage.get(keys[5]), { i: 5 });
    }),
});

/** Runs `test` with an ioredis Cluster client and a storage on it under a fresh prefix; cleans up. */
async function onIoRedisCluster(
  test: (
    cluster: IoRedisClusterLike,
    storage: ReturnType<typeof redisStorage>,
    prefix: string,
  ) => Promise<void>,
): Promise<void> {
  const { client, close } = await openIoRedisCluster();
  const cluster = client as IoRedisClusterLike;
  const prefix = testPrefix();
  const storage = redisStorage(cluster, { prefix });
  try {
    await test(cluster, storage, prefix);
  } finally {
    await removeAll(storage);
    await close();
  }
}

/** Masters of the private cluster (as `CLUSTER NODES` on `port` reports them) that have a live replica. */
async function mastersWithReplica(port: number): Promise<number[]> {
  const { stdout } = await new Deno.Command("redis-cli", {
    args: ["-h", "127.0.0.1", "-p", String(port), "cluster", "nodes"],
    stdout: "piped",
  }).output();
  const nodes = new TextDecoder().decode(stdout).trim().split("\n").map((line) => {
    const [id, address, flags, masterId] = line.split(" ");
    return { id, port: Number(address.split(/[:@]/)[1]), flags, masterId };
  });
  const up = nodes.filter((node) => !node.flags.includes("fail"));
  return up
    .filter((node) => node.flags.includes("master"))
    .filter((master) => up.some((node) => node.masterId === master.id))
    .map((master) => master.port);
}

/** Until this holds or `ms` pass; whether it held. */
async function eventually(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const stop = performance.now() + ms;
  while (performance.now() < stop) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

// Parallel checkouts on one machine each pick their own ports (REDIS_FAILOVER_PORT).
const FAILOVER_PORT = Number(Deno.env.get("REDIS_FAILOVER_PORT") ?? 7201);
const FAILOVER_USERS = 24;
const RECOVERY_DEADLINE_MS = 15_000;

Deno.test({
  name:
    "Redis Cluster failover (ioredis, then node-redis): a master killed under load gives SessionStorageErrors, no lost or torn session, and updates succeed after promotion",
  // Killing a master of the shared cluster would break other tests: this one starts its own.
  ignore: !available,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const cluster = await startRedisCluster(FAILOVER_PORT, 500);
    if (!cluster) return;
    try {
      const alive = new Set(cluster.pids.keys());
      for (const { name, openFailover } of flavors) {
        await t.step(name, async () => {
          const { client, close } = await openFailover(`127.0.0.1:${[...alive][0]}`);
          const storage = redisStorage(client, { prefix: testPrefix() });
          const failed = new Map<number, { error: unknown; at: number }>();
          const bot = new Bot("1:test", {
            info: { id: 1, is_bot: true, first_name: "Test", username: "test_bot" },
          }).extend(session({ storage, initial })).on("message", count);
          bot.onError(({ context, error }) => {
            const id = (context as { update?: TelegramUpdate }).update!.update_id;
            failed.set(id, { error, at: performance.now() });
          });
          const sent = new Map<string, number[]>();
          const wave = () =>
            Promise.all(Array.from({ length: FAILOVER_USERS }, (_, i) => {
              const update = updates.message(i + 1);
              const user = String(i + 1);
              sent.set(user, [...(sent.get(user) ?? []), update.update_id]);
              return bot.updates.handleUpdate(update);
            }));
          try {
            for (let i = 0; i < 5; i++) await wave();
            assert.equal(failed.size, 0, "no failure before the kill");

            const [victim] = await mastersWithReplica([...alive][0]);
            assert.ok(victim, "a master with a replica to kill");
            // Killed while a wave is in flight: some of its saves may be on the wire.
            const inFlight = wave();
            Deno.kill(cluster.pids.get(victim)!, "SIGKILL");
            alive.delete(victim);
            const killedAt = performance.now();
            await inFlight;

            // Updates keep coming while the cluster fails over, until 10 waves in a row succeed.
            let clean = 0;
            let waves = 0;
            let slowest = performance.now() - killedAt; // the wave in flight at the kill

            while (clean < 10) {
              assert.ok(
                performance.now() - killedAt < RECOVERY_DEADLINE_MS,
                `no recovery within ${RECOVERY_DEADLINE_MS} ms`,
              );
              const before = failed.size;
              const waveStart = performance.now();
              await wave();
              slowest = Math.max(slowest, performance.now() - waveStart);
              waves++;
              clean = failed.size === before ? clean + 1 : 0;
            }
            assert.ok(
              await eventually(
                async () => !(await mastersWithReplica([...alive][0])).includes(victim),
                5000,
              ),
              "the replica was promoted",
            );

            // Failures were reported as storage errors (or as conflicts if a save
            // was retried by the client after it had landed), never swallowed.
            for (const { error } of failed.values()) {
              assert.ok(
                error instanceof SessionStorageError || error instanceof SessionConflictError,
                String(error),
              );
              // Each says what failed, even where the client's error has no message.
              if (error instanceof SessionStorageError) {
                assert.match(error.message, /storage (read|write) failed: \S/, error.message);
              }
            }
            const listed = await Array.fromAsync(storage.keys());
            assert.deepEqual(new Set(listed), new Set(sent.keys()), "keys() after the failover");
            let total = 0;
            for (const [user, ids] of sent) {
              const value = await storage.get(user) as Counter;
              assert.equal(value.seen.size, value.count, `user ${user}: not torn`);
              for (const id of ids) {
                assert.ok(
                  value.seen.has(id) || failed.has(id),
                  `update ${id} of user ${user}: neither saved nor reported`,
                );
              }
              total += ids.length;
            }
            const times = [...failed.values()].map(({ at }) => Math.round(at - killedAt));
            console.log(
              `[failover ${name}] master ${victim} killed: ${failed.size} of ${total} updates ` +
                `failed, ${
                  times.length ? `${Math.min(...times)} to ${Math.max(...times)} ms` : "never"
                } after the kill; every later update succeeded (${waves} waves of ` +
                `${FAILOVER_USERS} after the kill, the slowest took ${Math.round(slowest)} ms)`,
            );
          } finally {
            await removeAll(storage);
            await close();
          }
        });
      }
    } finally {
      await cluster.stop();
    }
  },
});
