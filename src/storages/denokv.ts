/**
 * Deno KV storage: `Deno.openKv()` on Deno and Deno Deploy, `openKv` from the
 * npm package `@deno/kv` on Node. Values keep KV's structured clone (Date,
 * Map, Set, BigInt, typed arrays, nesting); sessions larger than one KV value
 * are split into chunks written in the same atomic commit as their head.
 *
 * Key layout, under `prefix` (default `["gramio-session"]`):
 * - `[...prefix, sessionKey]`: the head, the session itself, or for a large
 *   one a small manifest naming its chunk count;
 * - `[...prefix, 0, sessionKey, i]`: chunk `i` of a large session. A number
 *   part sorts after every string, so listing the heads never reads chunks.
 *
 * @module
 */

import { DefaultDeserializer, serialize } from "node:v8";
import { SessionDataError } from "../errors.ts";
import type { ListableStorage, SetOptions, VersionedStorage, VersionedValue } from "../storage.ts";
import { isThenable } from "../thenable.ts";
import { markReturnsCopies } from "../clone.ts";

/**
 * One part of a Deno KV key. A subset of `Deno.KvKeyPart` and of `@deno/kv`'s
 * `KvKeyPart`, so a prefix typed with it fits both.
 *
 * @example
 * ```ts
 * import type { KvKeyPart } from "@gramio/session";
 *
 * const prefix: KvKeyPart[] = ["my-bot", "sessions", 2];
 * ```
 */
export type KvKeyPart = Uint8Array | string | number | bigint | boolean;

/**
 * The part of a Deno KV database this storage uses, typed structurally so
 * that `Deno.Kv` and `@deno/kv`'s `Kv` (Node) both fit without either's types.
 *
 * @example A database from `@deno/kv` (works on Node and Deno)
 * ```ts
 * import { openKv } from "@deno/kv";
 * import { denoKvStorage, type KvLike } from "@gramio/session";
 *
 * const kv: KvLike = await openKv("sessions.db");
 * const storage = denoKvStorage(kv);
 * ```
 */
export interface KvLike {
  /** Reads one entry; `versionstamp` is `null` when the key is absent. */
  get(
    key: readonly KvKeyPart[],
    options?: { consistency?: "strong" | "eventual" },
  ): Promise<{ value: unknown; versionstamp: string | null }>;
  /** Reads up to 10 entries in one snapshot. Without it, chunks are read one by one. */
  getMany?(
    keys: readonly (readonly KvKeyPart[])[],
    options?: { consistency?: "strong" | "eventual" },
  ): Promise<readonly { value: unknown; versionstamp: string | null }[]>;
  /** Starts an atomic operation. */
  atomic(): {
    check(
      ...checks: { key: readonly KvKeyPart[]; versionstamp: string | null }[]
    ): unknown;
    set(
      key: readonly KvKeyPart[],
      value: unknown,
      options?: { expireIn?: number },
    ): unknown;
    delete(key: readonly KvKeyPart[]): unknown;
    commit(): Promise<{ ok: boolean }>;
  };
  /** Lists the entries under `prefix` that sort before `end`. */
  list(
    selector: { prefix: readonly KvKeyPart[]; end: readonly KvKeyPart[] },
    options?: { consistency?: "strong" | "eventual" },
  ): AsyncIterable<{ key: readonly unknown[] }>;
  /** Closes the database; called by {@linkcode DenoKvStorage.close} on a database the storage opened. */
  close?(): void;
}

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
 * @example
 * ```ts
 * import { denoKvStorage, type DenoKvStorage } from "@gramio/session";
 *
 * const storage: DenoKvStorage<{ count: number }> = denoKvStorage(await Deno.openKv(":memory:"));
 * await storage.set("42", { count: 1 });
 * console.log(await storage.get("42")); // { count: 1 }
 * ```
 */
export interface DenoKvStorage<Value = unknown>
  extends VersionedStorage<Value>, ListableStorage<Value> {
  /** Values keep KV's structured clone: `Date`, `Map`, `Set`... are kept. */
  readonly richValues: true;
  /** The stored session, `undefined` when there is none. */
  get(key: string): Promise<Value | undefined>;
  /**
   * Stores `value` (`options.ttl` becomes KV `expireIn` on every entry).
   * Rejects with a `RangeError` naming the key and sizes when the session does
   * not fit in one atomic commit; the stored session is then left unchanged.
   */
  set(key: string, value: Value, options?: SetOptions): Promise<void>;
  /** Whether a session is stored under `key`. */
  has(key: string): Promise<boolean>;
  /** Removes the session and its chunks in one atomic commit; resolves `true` when there was one. */
  delete(key: string): Promise<boolean>;
  /**
   * Removes the session and its chunks in one atomic commit, only if the head
   * is still at `version` (`null`: only if there is none). Resolves whether it
   * deleted.
   */
  deleteIfVersion(key: string, version: string | null): Promise<boolean>;
  /**
   * Reads the session with its version: the head's versionstamp, with a mark
   * for plain sessions (treat it as opaque).
   */
  getVersioned(key: string): Promise<VersionedValue<Value>>;
  /**
   * Writes only if the head is still at `version` (`atomic().check()`): a
   * version from getVersioned, or a bare versionstamp of the head.
   */
  setIfVersion(
    key: string,
    value: Value,
    version: string | null,
    options?: SetOptions,
  ): Promise<boolean>;
  /**
   * Closes the database if this storage opened it (no `kv` argument); a
   * database passed in belongs to the caller. A later call opens it again.
   */
  close(): Promise<void>;
}

/** Deno KV's largest value, in bytes; chunks are this size. */
const CHUNK_BYTES = 65_536;
/**
 * Chunks per session. One atomic commit holds 819200 bytes of keys and values
 * (measured on Deno 2.9), so 12 full chunks plus the head and keys fit.
 */
const MAX_CHUNKS = 12;
const MAX_SESSION_BYTES = CHUNK_BYTES * MAX_CHUNKS;
/** `getMany` reads at most 10 keys. */
const GET_MANY_LIMIT = 10;
const READ_ATTEMPTS = 5;
/** Key part between the prefix and the session key of chunk entries. */
const CHUNKS_PART = 0;
/**
 * Ends the version of a plain (unchunked) session, after the head's
 * versionstamp: a save on such a version needs no check for chunks. Any other
 * version (a chunked session's, or a bare versionstamp from elsewhere) takes
 * the cautious path that removes chunks left behind.
 */
const PLAIN_MARK = "+plain";
/** Own property that marks a head as the manifest of a chunked session. */
const MANIFEST = "__gramio_session_chunks__";

interface Manifest {
  [MANIFEST]: 1;
  /** Number of chunks. */
  chunks: number;
  /** Serialized size in bytes. */
  bytes: number;
  /** Written with `expireIn`: KV may drop chunks before the head. */
  expires?: true;
}

type Key = readonly KvKeyPart[];
type ExpireOptions = { expireIn: number } | undefined;

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
  const prefix: Key = Object.freeze([
    ...(options.prefix ?? ["gramio-session"]),
  ]);
  if (prefix.length === 0) {
    throw new RangeError(
      "denoKvStorage(): prefix needs at least one part, so sessions do not mix with the database's other keys.",
    );
  }
  const consistency = options.consistency ?? "strong";
  if (consistency !== "strong" && consistency !== "eventual") {
    throw new RangeError(
      `denoKvStorage(): consistency must be "strong" or "eventual", got ${String(consistency)}.`,
    );
  }
  const readOptions = { consistency };
  const chunkRoot: Key = [...prefix, CHUNKS_PART];
  const headKey = (key: string): Key => [...prefix, key];
  const chunkKey = (
    key: string,
    index: number,
  ): Key => [...prefix, CHUNKS_PART, key, index];

  // The database, once known; `opening` while a Promise of it is pending.
  let resolved: KvLike | undefined;
  let opening: Promise<KvLike> | undefined;
  const owned = kv === undefined;
  if (kv !== undefined && !isThenable(kv)) resolved = retryingWhenBusy(kv);
  const database = (): KvLike | Promise<KvLike> => {
    if (resolved) return resolved;
    return opening ??= Promise.resolve(kv ?? openDefaultKv()).then(
      (db) => resolved = retryingWhenBusy(db),
      (error) => {
        opening = undefined; // let the next use try again
        throw error;
      },
    );
  };

  /** Writes head, chunks and deletions of stale chunks in one commit. */
  const commit = (
    db: KvLike,
    key: string,
    head: unknown,
    chunks: readonly Uint8Array[],
    version: string | null | undefined,
    expire: ExpireOptions,
  ): Promise<{ ok: boolean }> => {
    const op = db.atomic();
    if (version !== undefined) {
      op.check({ key: headKey(key), versionstamp: version });
    }
    op.set(headKey(key), head, expire);
    for (let i = 0; i < chunks.length; i++) {
      op.set(chunkKey(key, i), chunks[i], expire);
    }
    for (let i = chunks.length; i < MAX_CHUNKS; i++) {
      op.delete(chunkKey(key, i));
    }
    return op.commit();
  };

  /** `version`: `undefined` writes unconditionally. Resolves whether it wrote. */
  const write = async (
    key: string,
    value: unknown,
    version: string | null | undefined,
    setOptions: SetOptions | undefined,
  ): Promise<boolean> => {
    const db = resolved ?? await database();
    const expire = expireOptions(setOptions?.ttl);
    const plain = version?.endsWith(PLAIN_MARK) === true;
    if (plain) version = version!.slice(0, -PLAIN_MARK.length);
    if (!isManifestLike(value)) {
      // Hot path: the value as is, on the condition that no chunks exist (a
      // check costs less than deleting every possible chunk on each save).
      const op = db.atomic();
      if (version !== undefined) {
        op.check({ key: headKey(key), versionstamp: version });
      }
      // A plain head never has chunks, so checking that it is still the one
      // read proves there are none. Otherwise (a chunked head, none read, or
      // none there: an expired head may leave chunks behind) check the first chunk.
      if (!plain) op.check({ key: chunkKey(key, 0), versionstamp: null });
      op.set(headKey(key), value, expire);
      let result: { ok: boolean } | undefined;
      try {
        result = await op.commit();
      } catch (error) {
        if (!isValueTooLarge(error)) throw error;
      }
      if (result?.ok) return true;
      // A conflict, or chunks of an earlier large value to delete in the same commit.
      if (result) return (await commit(db, key, value, [], version, expire)).ok;
    }
    // Too large for one value, or looks like a manifest: chunks of its
    // serialization, which stays unambiguous.
    const bytes = serializeForChunks(key, value);
    const size = bytes.byteLength;
    if (size > MAX_SESSION_BYTES) {
      throw tooLarge(key, size, `the limit is ${MAX_SESSION_BYTES} bytes`);
    }
    const chunks: Uint8Array[] = [];
    for (let start = 0; start < size; start += CHUNK_BYTES) {
      chunks.push(
        new Uint8Array(
          bytes.buffer,
          bytes.byteOffset + start,
          Math.min(CHUNK_BYTES, size - start),
        ),
      );
    }
    const manifest: Manifest = {
      [MANIFEST]: 1,
      chunks: chunks.length,
      bytes: size,
    };
    if (expire) manifest.expires = true;
    try {
      return (await commit(db, key, manifest, chunks, version, expire)).ok;
    } catch (error) {
      if (isLimitError(error)) {
        // The first line: Node's @deno/kv appends a native backtrace.
        throw tooLarge(
          key,
          size,
          (error as Error).message.split("\n")[0],
          error,
        );
      }
      throw error;
    }
  };

  /** Deletes head and chunks in one commit; `version`: `undefined` deletes unconditionally. */
  const remove = async (key: string, version: string | null | undefined): Promise<boolean> => {
    const db = resolved ?? await database();
    const op = db.atomic();
    if (version !== undefined) {
      const versionstamp = version?.endsWith(PLAIN_MARK)
        ? version.slice(0, -PLAIN_MARK.length)
        : version;
      op.check({ key: headKey(key), versionstamp });
    }
    op.delete(headKey(key));
    for (let i = 0; i < MAX_CHUNKS; i++) op.delete(chunkKey(key, i));
    return (await op.commit()).ok;
  };

  /** Chunk bytes if every chunk belongs to the head at `versionstamp`, else `undefined`. */
  const readChunks = async (
    db: KvLike,
    key: string,
    manifest: Manifest,
    versionstamp: string,
    options: { consistency: "strong" | "eventual" },
  ): Promise<Uint8Array | undefined> => {
    const batches: Promise<
      readonly { value: unknown; versionstamp: string | null }[]
    >[] = [];
    for (let first = 0; first < manifest.chunks; first += GET_MANY_LIMIT) {
      const keys: Key[] = [];
      for (
        let i = first;
        i < Math.min(first + GET_MANY_LIMIT, manifest.chunks);
        i++
      ) keys.push(chunkKey(key, i));
      batches.push(
        db.getMany
          ? db.getMany(keys, options)
          : Promise.all(keys.map((chunk) => db.get(chunk, options))),
      );
    }
    const bytes = new Uint8Array(manifest.bytes);
    let offset = 0;
    for (const batch of await Promise.all(batches)) {
      for (const entry of batch) {
        // All entries of one commit share its versionstamp: an older or newer
        // chunk means a write happened between our reads.
        if (
          entry.versionstamp !== versionstamp ||
          !(entry.value instanceof Uint8Array)
        ) return undefined;
        if (offset + entry.value.byteLength > bytes.byteLength) {
          return undefined;
        }
        bytes.set(entry.value, offset);
        offset += entry.value.byteLength;
      }
    }
    return offset === bytes.byteLength ? bytes : undefined;
  };

  const read = async (key: string): Promise<VersionedValue<Value>> => {
    const db = resolved ?? await database();
    let stable: string | undefined;
    for (let attempt = 1;; attempt++) {
      // Retries read the primary: a replica may lag between head and chunks.
      const options = attempt === 1 ? readOptions : STRONG;
      const head = await db.get(headKey(key), options).catch((error) => {
        // A value KV stored but cannot read back (one saved nested too deep).
        if (!/could not deserialize/i.test(String((error as Error)?.message))) throw error;
        throw new SessionDataError(key, `undecodable (Deno KV: ${(error as Error).message})`);
      });
      if (head.versionstamp === null) {
        return { value: undefined, version: null };
      }
      if (!isManifestLike(head.value)) {
        return { value: head.value as Value, version: head.versionstamp + PLAIN_MARK };
      }
      const manifest = validManifest(key, head.value);
      const bytes = await readChunks(
        db,
        key,
        manifest,
        head.versionstamp,
        options,
      );
      if (bytes) {
        return {
          value: deserializeChunks(key, bytes) as Value,
          version: head.versionstamp,
        };
      }
      if (options.consistency === "strong" && stable === head.versionstamp) {
        // The same head on two strong reads around a failed chunk read: no
        // write happened in between, the chunks are gone. KV drops expired
        // entries one by one, so an expiring session may lose chunks first.
        if (manifest.expires) {
          return { value: undefined, version: head.versionstamp };
        }
        const where = formatKey([...chunkRoot, key]);
        throw new SessionDataError(
          key,
          `damaged (Deno KV: its head lists ${manifest.chunks} chunks under ${where}, ` +
            "but some are missing or from another write)",
        );
      }
      if (attempt >= READ_ATTEMPTS) {
        throw new Error(
          `Deno KV storage: no consistent read of session "${key}" after ${READ_ATTEMPTS} attempts: ` +
            "it was rewritten during every read.",
        );
      }
      if (options.consistency === "strong") stable = head.versionstamp;
    }
  };

  // Every read deserializes afresh and every write serializes: no copies needed.
  return markReturnsCopies({
    name: "deno-kv",
    richValues: true,
    async get(key: string): Promise<Value | undefined> {
      return (await read(key)).value;
    },
    async set(key: string, value: Value, options?: SetOptions): Promise<void> {
      await write(key, value, undefined, options);
    },
    async has(key: string): Promise<boolean> {
      const db = resolved ?? await database();
      return (await db.get(headKey(key), readOptions)).versionstamp !== null;
    },
    async delete(key: string): Promise<boolean> {
      const db = resolved ?? await database();
      // Whether a session was there (@gramio/storage's contract): the head
      // read, then deleted only if it is still that head.
      for (let attempt = 1; attempt < READ_ATTEMPTS; attempt++) {
        const { versionstamp } = await db.get(headKey(key), STRONG);
        if (await remove(key, versionstamp)) return versionstamp !== null;
      }
      await remove(key, undefined); // rewritten during every read: something was there
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
      const db = resolved ?? await database();
      const depth = prefix.length;
      // `end` stops before the chunk entries; other shapes under the prefix
      // (a nested prefix, non-string parts) are not sessions of this storage.
      for await (
        const entry of db.list({ prefix, end: chunkRoot }, readOptions)
      ) {
        const part = entry.key[depth];
        if (entry.key.length === depth + 1 && typeof part === "string") {
          yield part;
        }
      }
    },
    async close(): Promise<void> {
      if (!owned || !opening) return;
      const pending = opening;
      opening = undefined;
      resolved = undefined;
      let db: KvLike;
      try {
        db = await pending;
      } catch {
        return; // never opened
      }
      db.close?.();
    },
  });
}

const STRONG = { consistency: "strong" } as const;

/** Attempts of one KV call while SQLite reports the file busy. */
const BUSY_ATTEMPTS = 20;

/**
 * Several processes on one local KV file (two bot instances, a cron job)
 * make SQLite answer "database is locked" while another one writes. That is
 * transient: retry with a short growing backoff instead of failing the update.
 * An atomic operation is recorded and replayed on a new one for each attempt.
 */
function retryingWhenBusy(kv: KvLike): KvLike {
  const retry = async <T>(call: () => Promise<T>): Promise<T> => {
    for (let attempt = 1;; attempt++) {
      try {
        return await call();
      } catch (error) {
        if (attempt >= BUSY_ATTEMPTS || !isBusy(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.min(2 * attempt, 25)));
      }
    }
  };
  const wrapped: KvLike = {
    get: (key, options) => retry(() => kv.get(key, options)),
    atomic() {
      const steps: Array<(op: ReturnType<KvLike["atomic"]>) => void> = [];
      const recorder = {
        check: (
          ...checks: {
            key: readonly KvKeyPart[];
            versionstamp: string | null;
          }[]
        ) => {
          steps.push((op) => op.check(...checks));
          return recorder;
        },
        set: (
          key: readonly KvKeyPart[],
          value: unknown,
          options?: { expireIn?: number },
        ) => {
          steps.push((op) => op.set(key, value, options));
          return recorder;
        },
        delete: (key: readonly KvKeyPart[]) => {
          steps.push((op) => op.delete(key));
          return recorder;
        },
        commit: () =>
          retry(() => {
            const op = kv.atomic();
            for (const step of steps) step(op);
            return op.commit();
          }),
      };
      return recorder;
    },
    list: (selector, options) => kv.list(selector, options),
    close: kv.close ? () => kv.close!() : undefined,
  };
  if (kv.getMany) {
    const getMany = kv.getMany.bind(kv);
    wrapped.getMany = (keys, options) => retry(() => getMany(keys, options));
  }
  return wrapped;
}

function isBusy(error: unknown): boolean {
  return /database is locked|SQLITE_BUSY/i.test(
    String((error as Error)?.message ?? error),
  );
}

function serializeForChunks(key: string, value: unknown): Uint8Array {
  try {
    return serialize(value);
  } catch (error) {
    // Deno Deploy's classic runtime stubs node:v8 ("Not implemented: v8.serialize").
    if (error instanceof Error && /not implemented/i.test(error.message)) {
      throw new RangeError(
        `Deno KV storage: session "${key}" needs splitting into chunks (a KV value holds 65536 bytes), ` +
          "but node:v8 serialize() is not available in this runtime. Keep the session smaller.",
        { cause: error },
      );
    }
    throw error;
  }
}

/**
 * Reads a chunked session. `node:v8` makes each typed array a view into the
 * bytes it reads (the whole session), so each gets its own copy: one small
 * array must not keep, or expose through `.buffer`, every other field.
 */
function deserializeChunks(key: string, bytes: Uint8Array): unknown {
  try {
    const reader = new (OwningDeserializer ??= owningDeserializer())(bytes);
    reader.readHeader();
    return reader.readValue();
  } catch (error) {
    throw new SessionDataError(
      key,
      `undecodable (Deno KV chunks: ${String((error as Error)?.message ?? error).split("\n")[0]})`,
    );
  }
}

let OwningDeserializer: typeof DefaultDeserializer | undefined;

/** Made on first use: runtimes that stub `node:v8` may lack the class. */
function owningDeserializer(): typeof DefaultDeserializer {
  // `_readHostObject` reads typed arrays (Node's format); it is not in the types.
  const readView = (DefaultDeserializer.prototype as unknown as {
    _readHostObject(this: DefaultDeserializer): ArrayBufferView;
  })._readHostObject;
  return class extends DefaultDeserializer {
    _readHostObject(): unknown {
      const view = readView.call(this);
      const buffer = view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength);
      if (view instanceof DataView) return new DataView(buffer);
      return new (view.constructor as new (buffer: ArrayBufferLike) => ArrayBufferView)(buffer);
    }
  };
}

function openDefaultKv(): Promise<KvLike> {
  // Looked up at runtime so that the types, and the npm build, never need Deno's.
  const deno = (globalThis as { Deno?: { openKv?: (path?: string) => Promise<KvLike> } })
    .Deno;
  if (typeof deno?.openKv !== "function") {
    return Promise.reject(
      new Error(
        "denoKvStorage(): Deno.openKv is not available here. On Deno, enable KV with " +
          '"unstable": ["kv"] in deno.json or --unstable-kv; elsewhere pass a kv, e.g. openKv from @deno/kv on Node: ' +
          'denoKvStorage(openKv("sessions.db")).',
      ),
    );
  }
  return deno.openKv();
}

/** A plain object with the manifest marker; a session value like that is stored chunked, so a head like that is always a manifest. */
function isManifestLike(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null &&
    Object.hasOwn(value, MANIFEST);
}

function validManifest(key: string, value: Record<string, unknown>): Manifest {
  const { chunks, bytes } = value;
  if (
    value[MANIFEST] !== 1 || typeof chunks !== "number" ||
    !Number.isInteger(chunks) || chunks < 1 ||
    chunks > MAX_CHUNKS || typeof bytes !== "number" ||
    !Number.isInteger(bytes) || bytes < 1
  ) {
    throw new SessionDataError(
      key,
      `an unknown Deno KV chunk manifest (written by a newer version?): ${
        JSON.stringify({ chunks, bytes, format: value[MANIFEST] })
      }`,
    );
  }
  return value as unknown as Manifest;
}

function expireOptions(ttl: number | undefined): ExpireOptions {
  if (ttl === undefined) return undefined;
  if (!(ttl > 0) || !Number.isFinite(ttl)) {
    throw new RangeError(
      `Deno KV storage: ttl is in milliseconds and must be a positive number, got ${ttl}.`,
    );
  }
  // KV wants a whole number of milliseconds.
  return { expireIn: Math.ceil(ttl) };
}

/** "Value too large (max 65536 bytes)" on Deno, "ValueTooLong" from `@deno/kv` on Node. */
function isValueTooLarge(error: unknown): boolean {
  return error instanceof Error &&
    /value\s?too\s?(?:large|long)/i.test(error.message);
}

/**
 * KV's per-value, per-key and per-commit limits: "Total mutation size too
 * large (max 819200 bytes)", "Too many mutations (max 1000)" on Deno,
 * "AtomicWriteTooLarge", "KeyTooLong" from `@deno/kv` on Node.
 */
function isLimitError(error: unknown): boolean {
  return error instanceof Error &&
    /too\s?(?:large|long|many)/i.test(error.message);
}

function tooLarge(
  key: string,
  size: number,
  limit: string,
  cause?: unknown,
): RangeError {
  return new RangeError(
    `Deno KV storage: session "${key}" is ${size} bytes serialized and does not fit in one atomic commit ` +
      `(${limit}). The stored session was left unchanged; keep large data outside the session.`,
    cause === undefined ? undefined : { cause },
  );
}

function formatKey(key: Key): string {
  return `[${
    key.map((part) => typeof part === "string" ? JSON.stringify(part) : String(part)).join(", ")
  }]`;
}
