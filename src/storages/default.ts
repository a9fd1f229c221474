/**
 * The storage used when `session()` gets none: Deno KV where the runtime has
 * it (Deno, Deno Deploy). On Deno without KV enabled that is an error (memory
 * would lose every session on restart, unnoticed); on Node and Bun it is
 * memory, with a one-time warning that says what to use instead.
 *
 * @module
 */

import { SessionError } from "../errors.ts";
import type { Storage } from "../storage.ts";
import { denoKvStorage } from "./denokv/mod.ts";
import { inMemoryStorage } from "./memory.ts";

let shared: Storage | undefined;

/** One storage per process, shared by every session plugin without a `storage` option. */
export function defaultStorage(): Storage {
  return shared ??= createDefault();
}

interface RuntimeGlobals {
  Deno?: { openKv?: unknown; version?: { deno?: string } };
  Bun?: unknown;
}

function createDefault(): Storage {
  const globals = globalThis as RuntimeGlobals;
  // The KV database is opened lazily, on the first session read.
  if (typeof globals.Deno?.openKv === "function") return denoKvStorage();
  if (typeof globals.Deno?.version?.deno === "string") throw new SessionError(DENO_WITHOUT_KV);
  console.warn(globals.Bun === undefined ? NODE_WARNING : BUN_WARNING);
  return inMemoryStorage();
}

const DENO_WITHOUT_KV =
  "[@gramio/session] No storage option was given, and Deno KV (the default storage) is not enabled, so " +
  'sessions would be lost on every restart. Add "unstable": ["kv"] to your deno.json (or run ' +
  "deno with --unstable-kv). To keep sessions in memory on purpose, pass " +
  "storage: inMemoryStorage().";

const MEMORY = "[@gramio/session] No storage option given: sessions are kept in memory and lost " +
  "on restart.";

const NODE_WARNING = `${MEMORY} For sessions that survive a restart pass ` +
  'storage: denoKvStorage(await openKv("./sessions.db")) (openKv from the npm package @deno/kv), ' +
  "redisStorage(client) from @gramio/session/redis (with ioredis or node-redis), or any " +
  "@gramio/storage adapter. Pass storage: inMemoryStorage() to keep memory and silence this.";

const BUN_WARNING = `${MEMORY} For sessions that survive a restart pass ` +
  "storage: redisStorage(new RedisClient()) (redisStorage from @gramio/session/redis, RedisClient " +
  "from bun), or any @gramio/storage adapter (Deno KV's @deno/kv does not run on Bun). Pass " +
  "storage: inMemoryStorage() to keep memory and silence this.";
