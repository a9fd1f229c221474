/**
 * Redis storage: one factory over any of the client shapes in `clients.ts`.
 * The stored format is in `_format.ts`, the compare-and-set Lua scripts in
 * `_scripts.ts`, listing in `_scan.ts`.
 *
 * @module
 */

import { markReturnsCopies } from "../../returns_copies.ts";
import {
  type AsyncStorage,
  type SetOptions,
  ttlOf,
  type VersionedValue,
  withErrorRule,
} from "../../storage.ts";
import { connectionOf, text } from "./_connection.ts";
import { decode, encode, newVersion, versionOf } from "./_format.ts";
import { scanKeys } from "./_scan.ts";
import { DELETE_IF_VERSION, evalScript, SET_IF_VERSION } from "./_scripts.ts";
import type { RedisClientLike, RedisClusterLike } from "./clients.ts";

/**
 * Options of {@linkcode redisStorage}.
 *
 * @example
 * ```ts
 * import type { RedisStorageOptions } from "@gramio/session/redis";
 *
 * const options: RedisStorageOptions = { prefix: "my-bot:session:" };
 * ```
 */
export interface RedisStorageOptions {
  /**
   * Prepended to every session key to form the Redis key; `keys()` lists only
   * keys under it. Pass `""` to read sessions written by
   * `@gramio/storage-redis`, which used the bare session key.
   *
   * @default {"gramio-session:"}
   */
  prefix?: string;
  /** The `COUNT` hint of each `SCAN` call in `keys()` (on each master of a cluster). @default {100} */
  scanCount?: number;
}

/**
 * A Redis-backed session storage with compare-and-set and listing. On Redis,
 * `options.ttl` becomes `PX`, `has` is `EXISTS`, and `setIfVersion` and
 * `deleteIfVersion` are Lua scripts.
 *
 * @example
 * ```ts
 * import { Redis } from "ioredis";
 * import { type RedisStorage, redisStorage } from "@gramio/session/redis";
 *
 * const storage: RedisStorage = redisStorage(new Redis());
 * ```
 */
export interface RedisStorage<Value = unknown> extends AsyncStorage<Value> {
  /** Values are stored with devalue: `Date`, `Map`, `Set`... are kept. */
  readonly richValues: true;
}

const DEFAULT_PREFIX = "gramio-session:";

/**
 * Creates a session storage on a Redis client you own (connect it first when
 * it is node-redis; close it yourself).
 *
 * Values are serialized with [devalue](https://github.com/sveltejs/devalue),
 * so `Date`, `Map`, `Set`, `BigInt`, `undefined`, `RegExp`, typed arrays and
 * repeated or cyclic references survive, like in Deno KV. Class instances and
 * functions are refused with a `TypeError` when saving. Plain JSON written by
 * `@gramio/storage-redis` is still read (pass `prefix: ""` for its keys).
 *
 * `setIfVersion` and `deleteIfVersion` are atomic Lua compare-and-set
 * scripts, so several bot processes sharing one Redis do not overwrite or
 * delete each other's sessions. `keys()` walks
 * `SCAN MATCH <prefix>*` and yields each key once, without the prefix.
 * Do not also set ioredis' `keyPrefix`: use `prefix` instead.
 *
 * A Redis Cluster client (ioredis `Cluster`, node-redis `createCluster()`)
 * works the same way: every command touches one key, so each save runs on the
 * master that owns the key's slot, and `keys()` scans every master (it throws
 * while the cluster's masters change, rather than list too few sessions).
 *
 * @example With ioredis
 * ```ts
 * import { Redis } from "ioredis";
 * import { Bot } from "gramio";
 * import { session } from "@gramio/session";
 * import { redisStorage } from "@gramio/session/redis";
 *
 * const bot = new Bot("TOKEN").extend(
 *   session({
 *     storage: redisStorage(new Redis("redis://127.0.0.1:6379")),
 *     initial: () => ({ count: 0 }),
 *   }),
 * );
 * ```
 *
 * @example With node-redis and a prefix
 * ```ts
 * import { createClient } from "redis";
 * import { redisStorage } from "@gramio/session/redis";
 *
 * const client = await createClient({ url: "redis://127.0.0.1:6379" }).connect();
 * const storage = redisStorage(client, { prefix: "my-bot:session:" });
 * ```
 *
 * @example With a Redis Cluster (node-redis; ioredis: `new Cluster([...])`)
 * ```ts
 * import { createCluster } from "redis";
 * import { redisStorage } from "@gramio/session/redis";
 *
 * const cluster = await createCluster({
 *   rootNodes: [{ url: "redis://127.0.0.1:7101" }],
 * }).connect();
 * const storage = redisStorage(cluster);
 * ```
 *
 * @example With Bun's built-in client
 * ```ts ignore
 * import { redisStorage } from "@gramio/session/redis";
 *
 * const storage = redisStorage(Bun.redis);
 * ```
 */
export function redisStorage<Value = unknown>(
  client: RedisClientLike | RedisClusterLike,
  options: RedisStorageOptions = {},
): RedisStorage<Value> {
  const connection = connectionOf(client);
  const { command } = connection;
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const scanCount = String(options.scanCount ?? 100);

  const read = async (key: string): Promise<string | null> =>
    text(await command(["GET", prefix + key]));

  // Every read parses afresh and every write stringifies: no copies needed.
  return markReturnsCopies(withErrorRule({
    name: "redis",
    richValues: true,
    async get(key) {
      const raw = await read(key);
      return raw === null ? undefined : decode(key, raw) as Value;
    },
    async set(key, value, setOptions) {
      const args = ["SET", prefix + key, encode(key, value, newVersion())];
      const ms = px(setOptions);
      if (ms !== undefined) args.push("PX", ms);
      await command(args);
    },
    async has(key) {
      return Number(await command(["EXISTS", prefix + key])) > 0;
    },
    async delete(key) {
      return Number(await command(["DEL", prefix + key])) > 0;
    },
    async getVersioned(key): Promise<VersionedValue<Value>> {
      const raw = await read(key);
      if (raw === null) return { value: undefined, version: null };
      const version = versionOf(raw);
      return {
        value: decode(key, raw) as Value,
        version: typeof version === "string" ? version : await version,
      };
    },
    async setIfVersion(key, value, version, setOptions): Promise<boolean> {
      const written = await evalScript(command, SET_IF_VERSION, [
        "1",
        prefix + key,
        version ?? "",
        encode(key, value, newVersion()),
        px(setOptions) ?? "",
      ]);
      return Number(written) === 1;
    },
    async deleteIfVersion(key, version): Promise<boolean> {
      const deleted = await evalScript(command, DELETE_IF_VERSION, [
        "1",
        prefix + key,
        version ?? "",
      ]);
      return Number(deleted) === 1;
    },
    async *keys(): AsyncIterable<string> {
      if (prefix === "") {
        throw new RangeError(
          'redisStorage: keys() needs a prefix. With prefix "" it would list every key in the database, ' +
            "other applications' included, and sessionStore() would rewrite them. Move the sessions under a " +
            'prefix (e.g. copy each key K to "gramio-session:K") and pass it.',
        );
      }
      yield* scanKeys(connection, prefix, scanCount);
    },
  }));
}

/** `options.ttl` as `PX` milliseconds, `undefined` for none; a `RangeError` unless positive. */
function px(options: SetOptions | undefined): string | undefined {
  const ttl = ttlOf(options, "redisStorage");
  // PX must be an integer.
  return ttl === undefined ? undefined : String(Math.ceil(ttl));
}
