/**
 * The Redis clients {@linkcode redisStorage} accepts, matched by shape so that
 * none of them is a dependency: ioredis (`Redis`, `Cluster`), node-redis
 * (`createClient()`, `createCluster()`) and Bun's built-in `RedisClient`.
 *
 * @module
 */

/**
 * The part of an [ioredis](https://github.com/redis/ioredis) client (`Redis`)
 * that {@linkcode redisStorage} uses: `call(command, ...args)`.
 *
 * @example
 * ```ts
 * import { Redis } from "ioredis";
 * import type { IoRedisLike } from "@gramio/session/redis";
 *
 * const client: IoRedisLike = new Redis("redis://127.0.0.1:6379");
 * ```
 */
export interface IoRedisLike {
  /** Sends any command; ioredis resolves with the decoded reply. */
  call(command: string, ...args: string[]): Promise<unknown>;
}

/**
 * The part of a [node-redis](https://github.com/redis/node-redis) client
 * (npm `redis` v4 and later, `createClient()`) that {@linkcode redisStorage}
 * uses: `sendCommand([command, ...args])`.
 *
 * @example
 * ```ts
 * import { createClient } from "redis";
 * import type { NodeRedisLike } from "@gramio/session/redis";
 *
 * const client: NodeRedisLike = createClient({ url: "redis://127.0.0.1:6379" });
 * ```
 */
export interface NodeRedisLike {
  /** Sends any command, given as `[name, ...args]`. */
  sendCommand(args: string[]): Promise<unknown>;
}

/**
 * The part of Bun's built-in `RedisClient` (`Bun.redis`, `new RedisClient()`)
 * that {@linkcode redisStorage} uses: `send(command, args)`.
 *
 * @example
 * ```ts ignore
 * import { RedisClient } from "bun";
 * import type { BunRedisLike } from "@gramio/session/redis";
 *
 * const client: BunRedisLike = new RedisClient("redis://127.0.0.1:6379");
 * ```
 */
export interface BunRedisLike {
  /** Sends any command with its arguments. */
  send(command: string, args: string[]): Promise<unknown>;
}

/**
 * The part of an ioredis `Cluster` that {@linkcode redisStorage} uses: `call`
 * (ioredis routes each command to the master that owns its key's slot) and
 * `nodes("master")`, whose every node `keys()` scans.
 *
 * @example
 * ```ts
 * import { Cluster } from "ioredis";
 * import type { IoRedisClusterLike } from "@gramio/session/redis";
 *
 * const cluster: IoRedisClusterLike = new Cluster([{ host: "127.0.0.1", port: 7101 }]);
 * ```
 */
export interface IoRedisClusterLike extends IoRedisLike {
  /** The cluster's nodes with that role, each a client of its own. */
  nodes(role: "master"): IoRedisLike[];
}

/**
 * The part of a node-redis cluster (`createCluster()`) that
 * {@linkcode redisStorage} uses: `sendCommand(firstKey, isReadonly, args)`,
 * routed by `firstKey`, and `masters` with `nodeClient(master)`, whose every
 * master `keys()` scans.
 *
 * @example
 * ```ts
 * import { createCluster } from "redis";
 * import type { NodeRedisClusterLike } from "@gramio/session/redis";
 *
 * const cluster: NodeRedisClusterLike = await createCluster({
 *   rootNodes: [{ url: "redis://127.0.0.1:7101" }],
 * }).connect();
 * ```
 */
export interface NodeRedisClusterLike {
  /** Sends `args` to the node that owns `firstKey`'s slot. */
  sendCommand(
    firstKey: string | undefined,
    isReadonly: boolean | undefined,
    args: string[],
  ): Promise<unknown>;
  /** The cluster's masters, as the client currently knows them. */
  readonly masters: readonly unknown[];
  /** The connected client of one node from `masters`. */
  nodeClient(node: unknown): Promise<NodeRedisLike> | NodeRedisLike;
}

/**
 * A single-node Redis client {@linkcode redisStorage} accepts: ioredis,
 * node-redis or Bun's `RedisClient`, matched by shape so none of them is a
 * dependency. Cluster clients are {@linkcode RedisClusterLike}.
 *
 * @example
 * ```ts
 * import { Redis } from "ioredis";
 * import type { RedisClientLike } from "@gramio/session/redis";
 *
 * const client: RedisClientLike = new Redis();
 * ```
 */
export type RedisClientLike = IoRedisLike | NodeRedisLike | BunRedisLike;

/**
 * A Redis Cluster client {@linkcode redisStorage} accepts: ioredis `Cluster`
 * or node-redis `createCluster()`, matched by shape.
 *
 * @example
 * ```ts
 * import { Cluster } from "ioredis";
 * import type { RedisClusterLike } from "@gramio/session/redis";
 *
 * const cluster: RedisClusterLike = new Cluster([{ host: "127.0.0.1", port: 7101 }]);
 * ```
 */
export type RedisClusterLike = IoRedisClusterLike | NodeRedisClusterLike;
