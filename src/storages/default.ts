/**
 * The storage used when `session()` gets none: Deno KV where the runtime has
 * it (Deno, Deno Deploy), otherwise memory, with a one-time warning.
 *
 * @module
 */

import type { Storage } from "../storage.ts";
import { denoKvStorage } from "./denokv.ts";
import { inMemoryStorage } from "./memory.ts";

let shared: Storage | undefined;

/** One storage per process, shared by every session plugin without a `storage` option. */
export function defaultStorage(): Storage {
  return shared ??= createDefault();
}

function createDefault(): Storage {
  const deno = (globalThis as { Deno?: { openKv?: unknown } }).Deno;
  // The KV database is opened lazily, on the first session read.
  if (typeof deno?.openKv === "function") return denoKvStorage();
  console.warn(
    "[@gramio/session] No storage given and Deno KV is not available: sessions are kept in memory " +
      "and lost on restart. Pass storage: denoKvStorage(await openKv(path)) (npm @deno/kv), " +
      "redisStorage(client), or inMemoryStorage() to silence this.",
  );
  return inMemoryStorage();
}
