/**
 * Redis storage for `@gramio/session`: works with an
 * [ioredis](https://github.com/redis/ioredis) client, a
 * [node-redis](https://github.com/redis/node-redis) client (npm `redis`), their
 * Redis Cluster clients (ioredis `Cluster`, node-redis `createCluster()`) or
 * Bun's built-in `RedisClient`, none of which this module depends on.
 *
 * Sessions keep `Date`, `Map`, `Set` and `BigInt` values (serialized with
 * devalue), writes from several bot processes are checked with an atomic
 * compare-and-set, and sessions saved as JSON by `@gramio/storage-redis` stay
 * readable.
 *
 * @example
 * ```ts
 * import { Redis } from "ioredis";
 * import { Bot } from "gramio";
 * import { session } from "@gramio/session";
 * import { redisStorage } from "@gramio/session/redis";
 *
 * const bot = new Bot("TOKEN")
 *   .extend(
 *     session({
 *       key: "session",
 *       storage: redisStorage(new Redis("redis://127.0.0.1:6379"), {
 *         prefix: "my-bot:session:",
 *       }),
 *       initial: () => ({ visits: 0, firstSeen: new Date() }),
 *     }),
 *   )
 *   .on("message", (context) => context.send(`visit #${++context.session.visits}`));
 * ```
 *
 * @module
 */

export {
  type RedisStorage,
  redisStorage,
  type RedisStorageOptions,
} from "./src/storages/redis/mod.ts";
export type {
  BunRedisLike,
  IoRedisClusterLike,
  IoRedisLike,
  NodeRedisClusterLike,
  NodeRedisLike,
  RedisClientLike,
  RedisClusterLike,
} from "./src/storages/redis/clients.ts";
// The storage contract the Redis storage implements, so this entry point
// documents itself on its own.
export type {
  AsyncStorage,
  ListableStorage,
  MaybePromise,
  SetOptions,
  Storage,
  VersionedStorage,
  VersionedValue,
} from "./src/storage.ts";
