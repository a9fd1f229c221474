/**
 * The options shared by the `session()` plugin and the sessions API outside
 * updates (`sessionStore()`), and their validation into one runtime.
 *
 * @module
 */

import type { SessionContext, SessionKeyResolver } from "./keys.ts";
import type { ConflictPolicy } from "./conflict.ts";
import { type KeyedLock, lockFor } from "./lock.ts";
import { createMigrator, type Migrations, type Migrator } from "./migrations.ts";
import type { Storage } from "./storage.ts";
import { defaultStorage } from "./storages/default.ts";
import { DEFAULT_STORAGE_TIMEOUT } from "./storage_timeout.ts";

/** A session object: the data plus `$clear()`, which is never stored. */
export type Session<Data> = Data & {
  /** Deletes the stored session; the object reads as `initial()` again, and later changes are saved. */
  $clear(): Promise<void>;
};

/** What `ctx[key]` is: the session, or in lazy mode a Promise of it. */
export type SessionValue<Data, Lazy extends boolean> = Lazy extends true ? Promise<Session<Data>>
  : Session<Data>;

/**
 * What `ctx[key] = value` accepts: new session data (stored as the update's
 * own copy; in lazy mode without reading the old session), or `null` /
 * `undefined`, which clears it like `$clear()`. TypeScript can give a property
 * a write type of its own only under a fixed name, so the default key
 * `"session"` accepts this; a custom key accepts what it reads.
 *
 * @example
 * ```ts
 * import type { SessionAssignment } from "@gramio/session";
 *
 * const reset: SessionAssignment<{ apple: number }> = null; // clears, like $clear()
 * const fresh: SessionAssignment<{ apple: number }> = { apple: 1 };
 * console.log(reset, fresh);
 * ```
 */
export type SessionAssignment<Data> = Data | null | undefined;

/**
 * The context property a session plugin adds: read as `Value`, assigned as
 * `Assign` under the default key `"session"` (TypeScript keeps separate get
 * and set types only for a property declared by name, never for one made by a
 * mapped type), and as `Value` under any other key.
 *
 * @example
 * ```ts
 * import type { Session, SessionProperty } from "@gramio/session";
 *
 * type Data = { apple: number };
 * declare const ctx: SessionProperty<"session", Session<Data>, Data | null>;
 * ctx.session = { apple: 2 }; // no $clear needed to assign
 * await ctx.session.$clear();
 * ```
 */
export type SessionProperty<Key extends string, Value, Assign = Value> = [Key] extends ["session"]
  ? {
    get session(): Value;
    set session(value: Assign);
  }
  : { [K in Key]: Value };

/** The options of {@linkcode session}. */
export interface SessionOptions<
  Data extends object,
  Key extends string = "session",
  Lazy extends boolean = false,
> {
  /** The context property that holds the session. Default `"session"`. */
  key?: Key;
  /**
   * The session of a user who has none yet (or whose session was cleared or
   * expired). Sync or async. A new session is stored only once a handler
   * changes it. Default: `{}`.
   */
  initial?: (ctx: SessionContext) => Data | Promise<Data>;
  /**
   * Where sessions live. Default: Deno KV (`Deno.openKv()`) where it exists,
   * otherwise in memory, with a warning.
   */
  storage?: Storage;
  /**
   * Which updates share a session. Default: {@linkcode perUser}, the sender's
   * id. Return `undefined` for "no session" (then `ctx[key]` throws if
   * touched); build keys with `keyOf`, which does that when a part is
   * missing (`` keyOf`chat:${ctx.chatId}` ``). A key with `undefined`, `null`
   * or `NaN` as a whole part (`"chat:undefined"`) is treated as no key, with
   * an error that says so. See also `perChat`, `perUserInChat`, `perTopic`,
   * `perBusinessConnection`.
   */
  getSessionKey?: SessionKeyResolver;
  /**
   * Load the session only when a handler awaits `ctx[key]`. An update that
   * never touches it makes no storage call and takes no lock.
   */
  lazy?: Lazy;
  /**
   * Milliseconds after the last save at which a session reads as absent
   * (`initial()` again). Enforced on read for every storage; storages that
   * can also drop expired data (Deno KV, Redis) are told to.
   */
  ttl?: number;
  /**
   * When another process saved the same session during this update (storages
   * with compare-and-set only). `"merge"` (default): keep both when they
   * changed different top-level fields, else raise `SessionConflictError`.
   * `"error"`: always raise. `"overwrite"`: last write wins.
   */
  onConflict?: ConflictPolicy;
  /**
   * A stored value that is not an object: `"error"` (default) raises
   * `SessionDataError` and leaves it; `"reset"` treats it as absent.
   */
  onInvalidData?: "error" | "reset";
  /**
   * Upgrades of stored data, by version number. See {@linkcode Migrations}.
   */
  migrations?: Migrations;
  /**
   * Milliseconds a storage call (read, write, delete) may take. One that has
   * not answered by then (checked by one shared timer: at most a quarter
   * later) fails with `SessionStorageError` ("timed out"), and the session's
   * lock is released, so a hung storage cannot hold a user's updates forever.
   * Calls that answer synchronously (in memory) are not timed. Default
   * 10 000 (10 s).
   */
  storageTimeout?: number;
  /** The clock for `ttl`, in milliseconds since the epoch. Default `Date.now`; tests inject one. */
  clock?: () => number;
  /**
   * Milliseconds an update waits for an earlier update of the same session
   * key before it goes on anyway. Default 10 000. The earlier update (a
   * handler that never finishes, or one waiting for a later message of the
   * same user) then loses the lock and saves by compare-and-set if it ever
   * finishes, and a warning names both updates. `Infinity` waits forever.
   */
  lockTimeout?: number;
}

/** Default {@linkcode SessionOptions.lockTimeout}: far above a normal handler, short enough to notice. */
export const DEFAULT_LOCK_TIMEOUT = 10_000;

/** Settings shared by every update of one session plugin: the options, validated. */
export interface SessionRuntime {
  /** The context property (the `key` option). */
  readonly property: string;
  /** Whether the property is a Promise of the session, loaded on first use. */
  readonly lazy: boolean;
  readonly storage: Storage;
  readonly lock: KeyedLock;
  readonly initial: (ctx: object) => unknown;
  readonly ttl: number | undefined;
  readonly clock: () => number;
  readonly onConflict: ConflictPolicy;
  readonly resetInvalid: boolean;
  /** Milliseconds a storage call may take before it fails (`storageTimeout`). */
  readonly storageTimeout: number;
  /** Upgrades stored data to the current version; see migrations.ts. */
  readonly migrate: Migrator["migrate"] | undefined;
  /** The `migrations` version new data is saved at. */
  readonly dataVersion: number | undefined;
  /** Milliseconds a holder may keep a key while others wait (`lockTimeout`). */
  readonly lockTimeout: number;
}

/** Validates options once and builds what every update of the session shares. */
export function createRuntime<Data extends object>(
  options: SessionOptions<Data, string, boolean>,
): SessionRuntime {
  const property = options.key ?? "session";
  const storage = options.storage ?? defaultStorage();
  const migrator = options.migrations ? createMigrator(options.migrations) : undefined;
  return {
    property,
    lazy: options.lazy === true,
    storage,
    lock: lockFor(storage),
    initial: (options.initial ?? (() => ({}))) as (ctx: object) => unknown,
    ttl: validTtl(options.ttl),
    clock: options.clock ?? Date.now,
    onConflict: validConflictPolicy(options.onConflict),
    resetInvalid: options.onInvalidData === "reset",
    storageTimeout: validStorageTimeout(options.storageTimeout),
    migrate: migrator?.migrate,
    dataVersion: migrator?.version,
    lockTimeout: validLockTimeout(options.lockTimeout),
  };
}

function validLockTimeout(timeout: number | undefined): number {
  if (timeout === undefined) return DEFAULT_LOCK_TIMEOUT;
  if (typeof timeout !== "number" || !(timeout > 0)) {
    throw new RangeError(
      `session({ lockTimeout }): lockTimeout is in milliseconds and must be a positive number ` +
        `(Infinity to wait forever), got ${String(timeout)}.`,
    );
  }
  return timeout;
}

function validTtl(ttl: number | undefined): number | undefined {
  if (ttl === undefined) return undefined;
  if (typeof ttl !== "number" || !(ttl > 0) || !Number.isFinite(ttl)) {
    throw new RangeError(
      `session({ ttl }): ttl is in milliseconds and must be a positive number, got ${String(ttl)}.`,
    );
  }
  return ttl;
}

/** The longest delay `setTimeout` keeps (about 24.8 days); longer ones fire at once. */
const MAX_TIMER_DELAY = 2 ** 31 - 1;

function validStorageTimeout(ms: number | undefined): number {
  if (ms === undefined) return DEFAULT_STORAGE_TIMEOUT;
  if (typeof ms !== "number" || !(ms > 0) || !(ms <= MAX_TIMER_DELAY)) {
    throw new RangeError(
      `session({ storageTimeout }): storageTimeout is in milliseconds and must be a positive number up to ` +
        `${MAX_TIMER_DELAY} (about 24 days), got ${String(ms)}.`,
    );
  }
  return ms;
}

function validConflictPolicy(
  policy: ConflictPolicy | undefined,
): ConflictPolicy {
  if (policy === undefined) return "merge";
  if (policy === "merge" || policy === "error" || policy === "overwrite") {
    return policy;
  }
  throw new TypeError(
    `session({ onConflict }): expected "merge", "error" or "overwrite", got ${
      JSON.stringify(policy)
    }.`,
  );
}
