/**
 * Rate of session updates on a Redis Cluster against a single Redis, in one
 * run: a real GramIO bot, `UPDATES` message updates over `USERS` users with
 * `IN_FLIGHT` handled at once, each reading its count, awaiting and writing
 * count + 1 (a compare-and-set Lua script per save). Each target runs
 * `ROUNDS` times, in a new order each round; the median is printed, with the
 * cluster/single ratio per client. Every user's final count is checked.
 *
 * Needs Redis on 127.0.0.1:6379 and the cluster of `scripts/redis_cluster.sh
 * start` (127.0.0.1:7101-7106; the nodes run on the same machine).
 *
 *   deno run -A bench/redis_cluster.ts [updates] [users] [in-flight] [rounds]
 */

import { Bot, type TelegramUpdate } from "gramio";
import { session } from "../mod.ts";
import { type RedisStorage, redisStorage } from "../redis.ts";
import {
  type OpenClient,
  type OpenCluster,
  openIoRedis,
  openIoRedisCluster,
  openNodeRedis,
  openNodeRedisCluster,
} from "../tests/support/redis_clients.ts";

const UPDATES = Number(Deno.args[0] ?? 5_000);
const USERS = Number(Deno.args[1] ?? 500);
const IN_FLIGHT = Number(Deno.args[2] ?? 100);
const ROUNDS = Number(Deno.args[3] ?? 5);

const targets: Array<{ name: string; open: () => Promise<OpenClient | OpenCluster> }> = [
  { name: "ioredis, single Redis", open: openIoRedis },
  { name: "ioredis, Cluster (3 masters)", open: () => openIoRedisCluster() },
  { name: "node-redis, single Redis", open: openNodeRedis },
  { name: "node-redis, createCluster (3 masters)", open: () => openNodeRedisCluster() },
];

function update(i: number): TelegramUpdate {
  const user = 1 + (i % USERS);
  return {
    update_id: i + 1,
    message: {
      message_id: i + 1,
      date: 1_700_000_000,
      chat: { id: user, type: "private", first_name: "U" },
      from: { id: user, is_bot: false, first_name: "U" },
      text: "bench",
    },
  };
}

/** Updates per second of one run on a fresh prefix; throws if any count is off. */
async function run(open: () => Promise<OpenClient | OpenCluster>): Promise<number> {
  const { client, close } = await open();
  const storage: RedisStorage = redisStorage(client, {
    prefix: `gramio-session-bench:${crypto.randomUUID()}:`,
  });
  const errors: unknown[] = [];
  const bot = new Bot("1:bench", { info: { id: 1, is_bot: true, first_name: "Bench" } })
    .extend(session({ storage, initial: () => ({ count: 0 }) }))
    .on("message", async (context) => {
      const n = context.session.count;
      await Promise.resolve();
      context.session.count = n + 1;
    })
    .onError(({ error }) => void errors.push(error));
  try {
    let next = 0;
    const started = performance.now();
    await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
      while (next < UPDATES) await bot.updates.handleUpdate(update(next++));
    }));
    const rate = UPDATES / ((performance.now() - started) / 1000);
    if (errors.length) throw new Error(`${errors.length} errors, first: ${errors[0]}`);
    const expected = (user: number) =>
      Math.floor(UPDATES / USERS) + (user <= UPDATES % USERS ? 1 : 0);
    for (let user = 1; user <= USERS; user++) {
      const value = await storage.get(String(user)) as { count: number } | undefined;
      if (value?.count !== expected(user)) throw new Error(`user ${user}: ${value?.count}`);
    }
    return rate;
  } finally {
    for await (const key of storage.keys()) await storage.delete(key);
    await close();
  }
}

const rates = new Map(targets.map(({ name }) => [name, [] as number[]]));
await run(targets[0].open); // warm-up (JIT, script cache)
for (let round = 0; round < ROUNDS; round++) {
  const order = [...targets].sort(() => Math.random() - 0.5);
  for (const { name, open } of order) rates.get(name)!.push(await run(open));
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1];
console.log(
  `${UPDATES} updates, ${USERS} users, ${IN_FLIGHT} in flight, median of ${ROUNDS} rounds:`,
);
for (const { name } of targets) {
  const values = rates.get(name)!;
  console.log(
    `${name.padEnd(40)} ${Math.round(median(values)).toString().padStart(6)} updates/s  (${
      values.map((value) => Math.round(value)).join(", ")
    })`,
  );
}
for (const client of ["ioredis", "node-redis"]) {
  const [single, cluster] = targets.filter(({ name }) => name.startsWith(client + ","))
    .map(({ name }) => median(rates.get(name)!));
  console.log(`${client}: cluster / single = ${(cluster / single).toFixed(2)}`);
}
