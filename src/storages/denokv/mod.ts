/**
 * Deno KV storage: `Deno.openKv()` on Deno and Deno Deploy, `openKv` from the
 * npm package `@deno/kv` on Node. Values keep KV's structured clone (Date,
 * Map, Set, BigInt, typed arrays, nesting); sessions larger than one KV value
 * are split into chunks written in the same atomic commit as their head (key
 * layout in `_keys.ts`, chunks in `_chunks.ts`).
 *
 * @module
 */

import { markReturnsCopies } from "../../returns_copies.ts";
import {
  type AsyncStorage,
  type SetOptions,
  type VersionedValue,
  withErrorRule,
} from "../../storage.ts";
import { LazyKv } from "./_database.ts";
import { keyLayout } from "./_keys.ts";
import { READ_ATTEMPTS, readSession, STRONG } from "./_read.ts";
import { removeSession, writeSession } from "./_write.ts";
import type { KvKeyPart, KvLike } from "./kv.ts";

/**
 * Options of {@linkcode denoKvStorage}.
 *
 * @example
 * ```ts
 * import { denoKvStorage, type DenoKvStorageOptions } from "@gramio/session";
 *
 * const options: DenoKvStorageOptions = { prefix: ["my-bot", "sessions"], consistency: "eventual" };
 * const storage = denoKvStorage(await Deno.openKv(":memory:"), options);
 * ```
 */
export interface DenoKvStorageOptions {
  /**
   * The KV key prefix of every entry this storage writes; at least one part.
   * Two storages with different prefixes share a database without seeing each
   * other's sessions. Default `["gramio-session"]`.
   */
  prefix?: readonly KvKeyPart[];
  /**
   * Read consistency. `"eventual"` may read a stale session from a nearby
   * replica on Deno Deploy (faster, but saves then conflict more often);
   * writes are always checked against the primary. Default `"strong"`.
   */
  consistency?: "strong" | "eventual";
}

/**
 * A session storage on Deno KV, with compare-and-set (versionstamps) and
 * listing. Created by {@linkcode denoKvStorage}.
 *
 * On Deno KV: `set` turns `options.ttl` into `expireIn` on every entry and
 * rejects with a `RangeError` naming the key and sizes when the session does
 * not fit in one atomic commit (the stored session is then left unchanged);
 * `delete` and `deleteIfVersion` remove the session and its chunks in one
 * atomic commit; a version is the head's versionstamp with a mark for plain
 * sessions, and `setIfVersion` also takes a bare versionstamp of the head.
 *
 * @example
 * ```ts
 * import { denoKvStorage, type DenoKvStorage } from "@gramio/session";
 *
 * const storage: DenoKvStorage<{ count: number }> = denoKvStorage(await Deno.openKv(":memory:"));
 * await storage.set("42", { count: 1 });
 * console.log(await storage.get("42")); // { count: 1 }
 * ```
 */
export interface DenoKvStorage<Value = unknown> extends AsyncStorage<Value> {
  /** Values keep KV's structured clone: `Date`, `Map`, `Set`... are kept. */
  readonly richValues: true;
  /**
   * Closes the database if this storage opened it (no `kv` argument); a
   * database passed in belongs to the caller. A later call opens it again.
   */
  close(): Promise<void>;
}

/**
 * Creates a session storage on Deno KV.
 *
 * `kv` is a database, a Promise of one, or omitted: then `Deno.openKv()` is
 * called once, on first use (the project's database on Deno Deploy). Small
 * sessions are stored as they are; larger ones (up to 786432 bytes
 * serialized) are split into chunks and written, replaced and deleted in one
 * atomic commit with their head, and read back with a check that every chunk
 * belongs to the head that was read. Class instances come back as plain
 * objects, as with any structured clone.
 *
 * @example On Deno (needs `"unstable": ["kv"]` in deno.json or `--unstable-kv`)
 * ```ts
 * import { Bot } from "gramio";
 * import { denoKvStorage, session } from "@gramio/session";
 *
 * const bot = new Bot("TOKEN").extend(
 *   session({
 *     storage: denoKvStorage(Deno.openKv("./sessions.db"), { prefix: ["my-bot"] }),
 *     initial: () => ({ count: 0 }),
 *   }),
 * );
 * ```
 *
 * @example On Node, with the npm package `@deno/kv`
 * ```ts
 * import { openKv } from "@deno/kv";
 * import { denoKvStorage } from "@gramio/session";
 *
 * const storage = denoKvStorage(openKv("./sessions.db"));
 * await storage.set("42", { seen: new Date() });
 * ```
 */
export function denoKvStorage<Value = unknown>(
  kv?: KvLike | Promise<KvLike>,
  options: DenoKvStorageOptions = {},
): DenoKvStorage<Value> {
  const keys = keyLayout(options.prefix ?? ["gramio-session"]);
  const consistency = options.consistency ?? "strong";
  if (consistency !== "strong" && consistency !== "eventual") {
    throw new RangeError(
      `denoKvStorage(): consistency must be "strong" or "eventual", got ${String(consistency)}.`,
    );
  }
  const readOptions = { consistency };
  const database = new LazyKv(kv);
  const read = async (key: string): Promise<VersionedValue<Value>> =>
    readSession(database.resolved ?? await database.open(), keys, key, readOptions) as Promise<
      VersionedValue<Value>
    >;
  const write = async (
    key: string,
    value: Value,
    version: string | null | undefined,
    setOptions: SetOptions | undefined,
  ): Promise<boolean> =>
    writeSession(database.resolved ?? await database.open(), keys, key, value, version, setOptions);
  const remove = async (key: string, version: string | null | undefined): Promise<boolean> =>
    removeSession(database.resolved ?? await database.open(), keys, key, version);

  // Every read deserializes afresh and every write serializes: no copies needed.
  return markReturnsCopies(withErrorRule({
    name: "deno-kv",
    richValues: true,
    async get(key: string): Promise<Value | undefined> {
      return (await read(key)).value;
    },
    async set(key: string, value: Value, options?: SetOptions): Promise<void> {
      await write(key, value, undefined, options);
    },
    async has(key: string): Promise<boolean> {
      const db = database.resolved ?? await database.open();
      return (await db.get(keys.head(key), readOptions)).versionstamp !== null;
    },
    async delete(key: string): Promise<boolean> {
      const db = database.resolved ?? await database.open();
      // Whether a session was there (@gramio/storage's contract): the head
      // read, then deleted only if it is still that head.
      for (let attempt = 1; attempt < READ_ATTEMPTS; attempt++) {
        const { versionstamp } = await db.get(keys.head(key), STRONG);
        if (await removeSession(db, keys, key, versionstamp)) return versionstamp !== null;
      }
      await removeSession(db, keys, key, undefined); // rewritten during every read: something was there
      return true;
    },
    deleteIfVersion(key: string, version: string | null): Promise<boolean> {
      return remove(key, version);
    },
    getVersioned: read,
    setIfVersion(
      key: string,
      value: Value,
      version: string | null,
      options?: SetOptions,
    ): Promise<boolean> {
      return write(key, value, version, options);
    },
    async *keys(): AsyncIterable<string> {
      const db = database.resolved ?? await database.open();
      const depth = keys.prefix.length;
      // `end` stops before the chunk entries; other shapes under the prefix
      // (a nested prefix, non-string parts) are not sessions of this storage.
      for await (
        const entry of db.list({ prefix: keys.prefix, end: keys.chunkRoot }, readOptions)
      ) {
        const part = entry.key[depth];
        if (entry.key.length === depth + 1 && typeof part === "string") {
          yield part;
        }
      }
    },
    close: () => database.close(),
  }));
}
