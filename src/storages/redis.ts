import { SessionDataError } from "../errors.ts";
import { markReturnsCopies, namedArrayKeys, setOwn } from "../clone.ts";
import {
  defaultStringifyOperations,
  parse,
  type ParseOperations,
  stringify,
  type StringifyOperations,
} from "devalue";
import type { ListableStorage, SetOptions, VersionedStorage, VersionedValue } from "../storage.ts";

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
 * A Redis-backed session storage with compare-and-set and listing.
 *
 * @example
 * ```ts
 * import { Redis } from "ioredis";
 * import { type RedisStorage, redisStorage } from "@gramio/session/redis";
 *
 * const storage: RedisStorage = redisStorage(new Redis());
 * ```
 */
export interface RedisStorage<Value = unknown>
  extends VersionedStorage<Value>, ListableStorage<Value> {
  /** Values are stored with devalue: `Date`, `Map`, `Set`... are kept. */
  readonly richValues: true;
  /** The stored value, or `undefined` when there is none. */
  get(key: string): Promise<Value | undefined>;
  /** Stores `value`; `options.ttl` becomes `PX`. */
  set(key: string, value: Value, options?: SetOptions): Promise<void>;
  /** Whether a value is stored under `key` (`EXISTS`). */
  has(key: string): Promise<boolean>;
  /** Removes the value; resolves `true` when there was one. */
  delete(key: string): Promise<boolean>;
  /** Reads a value with its version token. */
  getVersioned(key: string): Promise<VersionedValue<Value>>;
  /** Writes only if the stored version is still `version` (Lua script); resolves whether it wrote. */
  setIfVersion(
    key: string,
    value: Value,
    version: string | null,
    options?: SetOptions,
  ): Promise<boolean>;
  /** Deletes only if the stored version is still `version` (Lua script); resolves whether it deleted. */
  deleteIfVersion(key: string, version: string | null): Promise<boolean>;
}

/*
 * Stored format: MARKER + version + ":" + devalue.stringify(value). JSON text
 * never starts with "d", so a value without the marker is a plain
 * JSON.stringify() from @gramio/storage-redis and is read with JSON.parse.
 * The version is a random token written with every value (no ABA: a value
 * rewritten after a read never gets the version back). A legacy value has no
 * token; its version is "sha1:" + the SHA-1 of the stored string, computed the
 * same way here and in the Lua script.
 */
const MARKER = "dv1:";
const DEFAULT_PREFIX = "gramio-session:";

// KEYS[1]: key; ARGV[1]: expected version ("" = must not exist). Returns 0
// unless the stored version is the expected one.
const CHECK_VERSION = `
local cur = redis.call('GET', KEYS[1])
if not cur then
  if ARGV[1] ~= '' then return 0 end
else
  if ARGV[1] == '' then return 0 end
  local version
  if string.sub(cur, 1, 4) == '${MARKER}' then
    local stop = string.find(cur, ':', 5, true)
    if stop then version = string.sub(cur, 5, stop - 1) end
  end
  if not version then version = 'sha1:' .. redis.sha1hex(cur) end
  if version ~= ARGV[1] then return 0 end
end
`;

// After CHECK_VERSION. ARGV[2]: stored string, ARGV[3]: PX milliseconds
// ("" = no expiry). Returns 1 when written.
const SET_IF_VERSION = CHECK_VERSION + `
if ARGV[3] == '' then
  redis.call('SET', KEYS[1], ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return 1
`;

// After CHECK_VERSION. Returns 1 when deleted (or nothing was there, as expected).
const DELETE_IF_VERSION = CHECK_VERSION + `
redis.call('DEL', KEYS[1])
return 1
`;

type Command = (args: string[]) => Promise<unknown>;

/** How to reach the server: `command` routes by key; `masters` lists one command per master of a cluster. */
interface Connection {
  command: Command;
  masters?: () => Promise<Command[]>;
}

/** The key a command is routed by: after `EVALSHA sha numkeys`, else the first argument. */
function routingKey(args: string[]): string | undefined {
  return args[0] === "EVALSHA" || args[0] === "EVAL" ? args[3] : args[1];
}

function connectionOf(client: RedisClientLike | RedisClusterLike): Connection {
  // ioredis also has a `sendCommand`, taking a Command object: check `call` first.
  if (typeof (client as Partial<IoRedisLike>).call === "function") {
    const io = client as IoRedisLike;
    const command: Command = (args) => io.call(args[0], ...args.slice(1));
    if (typeof (client as Partial<IoRedisClusterLike>).nodes !== "function") return { command };
    const cluster = client as IoRedisClusterLike;
    const nodeCommands = () =>
      cluster.nodes("master").map((node): Command => (args) =>
        node.call(args[0], ...args.slice(1))
      );
    return {
      command,
      async masters() {
        // Before the first command ioredis knows no nodes yet: one round trip connects it.
        if (cluster.nodes("master").length === 0) await command(["PING"]);
        return nodeCommands();
      },
    };
  }
  if (typeof (client as Partial<NodeRedisLike>).sendCommand === "function") {
    const cluster = client as Partial<NodeRedisClusterLike>;
    if (Array.isArray(cluster.masters) && typeof cluster.nodeClient === "function") {
      const nodeRedis = client as NodeRedisClusterLike;
      return {
        // Always the master (isReadonly false): a replica could return a stale version.
        command: (args) => nodeRedis.sendCommand(routingKey(args), false, args),
        masters: () =>
          Promise.all(nodeRedis.masters.map(async (master): Promise<Command> => {
            const node = await nodeRedis.nodeClient(master);
            return (args) => node.sendCommand(args);
          })),
      };
    }
    const node = client as NodeRedisLike;
    return { command: (args) => node.sendCommand(args) };
  }
  if (typeof (client as Partial<BunRedisLike>).send === "function") {
    const bun = client as BunRedisLike;
    return { command: (args) => bun.send(args[0], args.slice(1)) };
  }
  throw new TypeError(
    "redisStorage: expected an ioredis (Redis or Cluster), node-redis (client or cluster) or Bun RedisClient client",
  );
}

/**
 * One command per master of the cluster, checked against the slot map the
 * cluster itself reports: a client whose view is stale (a failover it has not
 * noticed yet) would otherwise scan too few nodes and list too few sessions.
 */
async function scanTargets(masters: () => Promise<Command[]>): Promise<Command[]> {
  const nodes = await masters();
  if (nodes.length === 0) {
    throw new Error(
      "redisStorage keys(): the cluster client knows no masters; connect it before listing",
    );
  }
  const slots = await nodes[0](["CLUSTER", "SLOTS"]) as unknown[][];
  const owners = new Set(slots.map((range) => text((range[2] as unknown[])[2])));
  const ids = await Promise.all(nodes.map((node) => node(["CLUSTER", "MYID"])));
  const targets = nodes.filter((_, i) => owners.delete(text(ids[i])));
  if (owners.size > 0) {
    throw new Error(
      `redisStorage keys(): ${owners.size} master(s) owning slots are not among the client's nodes ` +
        "(a failover or resharding in progress?); call keys() again once the cluster is stable",
    );
  }
  return targets;
}

function text(reply: unknown): string | null {
  if (reply === null || reply === undefined) return null;
  if (typeof reply === "string") return reply;
  if (reply instanceof Uint8Array) return new TextDecoder().decode(reply);
  return String(reply);
}

function hex(bytes: ArrayBuffer): string {
  return Array.from(
    new Uint8Array(bytes),
    (byte) => byte.toString(16).padStart(2, "0"),
  ).join("");
}

async function sha1(data: string): Promise<string> {
  return hex(
    await crypto.subtle.digest("SHA-1", new TextEncoder().encode(data)),
  );
}

function newVersion(): string {
  return hex(crypto.getRandomValues(new Uint8Array(8)).buffer);
}

/** Where the devalue payload starts, or -1 for a legacy JSON value. */
function payloadStart(raw: string): number {
  if (!raw.startsWith(MARKER)) return -1;
  const stop = raw.indexOf(":", MARKER.length);
  return stop === -1 ? -1 : stop + 1;
}

/*
 * devalue refuses an own key "__proto__" (JSON.parse makes one from user
 * input; memory and KV store it). It is written as "\u0001__proto__", and a
 * key of that form gets one more "\u0001", so that every key reads back as
 * itself, "__proto__" as an own field (never the prototype).
 */
const ESCAPE = "\u0001";

function isProtoLike(key: string): boolean {
  if (!key.endsWith("__proto__")) return false;
  for (let i = 0; i < key.length - 9; i++) if (key[i] !== ESCAPE) return false;
  return true;
}

const stringifyOperations: Partial<StringifyOperations> = {
  shapeOf(value) {
    const shape = defaultStringifyOperations.shapeOf(value);
    if (!("keys" in shape) || !shape.keys.some(isProtoLike)) return shape;
    return { ...shape, keys: shape.keys.map((key) => isProtoLike(key) ? ESCAPE + key : key) };
  },
  get: (value, key) =>
    (value as Record<string, unknown>)[
      typeof key === "string" && key.charCodeAt(0) === 1 ? key.slice(1) : key as string
    ],
  lengthOf(array) {
    // devalue would drop an array's named properties silently.
    const named = namedArrayKeys(array as unknown[]);
    if (named) {
      throw new TypeError(
        `an array has named properties (${named.join(", ")}), which Redis storage cannot keep; ` +
          "use an object for them",
      );
    }
    return (array as unknown[]).length;
  },
};

const parseOperations: Partial<ParseOperations> = {
  set(target, key, value) {
    if (typeof key === "string" && key.charCodeAt(0) === 1 && isProtoLike(key)) {
      setOwn(target as Record<string, unknown>, key.slice(1), value);
    } else (target as Record<PropertyKey, unknown>)[key as PropertyKey] = value;
  },
};

function decode(key: string, raw: string): unknown {
  const start = payloadStart(raw);
  try {
    return start === -1
      ? JSON.parse(raw)
      : parse(raw.slice(start), undefined, { operations: parseOperations });
  } catch (error) {
    // Left as it is: the plugin reports it, or starts afresh with onInvalidData: "reset".
    throw new SessionDataError(key, `undecodable (${(error as Error).message})`);
  }
}

async function versionOf(raw: string): Promise<string> {
  const start = payloadStart(raw);
  return start === -1 ? `sha1:${await sha1(raw)}` : raw.slice(MARKER.length, start - 1);
}

function encode(key: string, value: unknown, version: string): string {
  try {
    return MARKER + version + ":" +
      stringify(value, undefined, { operations: stringifyOperations });
  } catch (error) {
    throw new TypeError(
      `redisStorage: cannot store the session "${key}": ${(error as Error).message}`,
      { cause: error },
    );
  }
}

function px(options: SetOptions | undefined): string | undefined {
  const ttl = options?.ttl;
  if (ttl === undefined || !Number.isFinite(ttl)) return undefined;
  // PX must be a positive integer; a ttl <= 0 means "already expired".
  return String(Math.max(1, Math.ceil(ttl)));
}

function globEscape(literal: string): string {
  return literal.replace(/[*?[\]\\]/g, "\\$&");
}

/** SHA-1 of each Lua script, for EVALSHA. */
const scriptShas = new Map<string, Promise<string>>();

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
  const match = globEscape(prefix) + "*";

  const read = async (key: string): Promise<string | null> =>
    text(await command(["GET", prefix + key]));

  const evalScript = async (script: string, args: string[]): Promise<unknown> => {
    let scriptSha = scriptShas.get(script);
    if (!scriptSha) scriptShas.set(script, scriptSha = sha1(script));
    try {
      return await command(["EVALSHA", await scriptSha, ...args]);
    } catch (error) {
      if (!String((error as Error)?.message ?? error).includes("NOSCRIPT")) {
        throw error;
      }
      // Not cached on this server yet (restart, SCRIPT FLUSH): EVAL loads it.
      return await command(["EVAL", script, ...args]);
    }
  };

  // Every read parses afresh and every write stringifies: no copies needed.
  return markReturnsCopies({
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
      return { value: decode(key, raw) as Value, version: await versionOf(raw) };
    },
    async setIfVersion(key, value, version, setOptions): Promise<boolean> {
      const written = await evalScript(SET_IF_VERSION, [
        "1",
        prefix + key,
        version ?? "",
        encode(key, value, newVersion()),
        px(setOptions) ?? "",
      ]);
      return Number(written) === 1;
    },
    async deleteIfVersion(key, version): Promise<boolean> {
      const deleted = await evalScript(DELETE_IF_VERSION, ["1", prefix + key, version ?? ""]);
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
      // A cluster: every master in turn, each in COUNT-sized batches. SCAN may
      // return a key twice (rehashing, a slot moving between masters): remember
      // what was yielded.
      const nodes = connection.masters ? await scanTargets(connection.masters) : [command];
      const seen = new Set<string>();
      let node = 0;
      let cursor = "0";
      do {
        const reply = await nodes[node]([
          "SCAN",
          cursor,
          "MATCH",
          match,
          "COUNT",
          scanCount,
        ]) as [unknown, unknown[]];
        cursor = text(reply[0]) ?? "0";
        for (const item of reply[1]) {
          const key = text(item)?.slice(prefix.length);
          if (key === undefined || seen.has(key)) continue;
          seen.add(key);
          yield key;
        }
      } while (cursor !== "0" || ++node < nodes.length);
    },
  });
}
