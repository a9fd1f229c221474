/**
 * Type tests, run by `deno check .`: this package's storages fit
 * `@gramio/storage`'s `Storage`, the type `@gramio/scenes`, rate limiters and
 * other GramIO plugins take, with no cast. `@gramio/storage` cannot be
 * installed here, so its interface (storages repo, `packages/core/src/types.ts`,
 * 2.x) and scenes' `ScenesStorage` are written out in
 * `support/gramio_storage.ts`. Nothing here runs.
 */
import { Redis } from "ioredis";
import { denoKvStorage, inMemoryStorage, session, type Storage } from "../mod.ts";
import { redisStorage } from "../redis.ts";
import type { GramioStorage, ScenesStorage, ScenesStorageData } from "./support/gramio_storage.ts";

/** Stands for `scenes([...], { storage })`. */
declare function scenes(list: unknown[], options?: { storage?: ScenesStorage }): void;

declare const kv: Deno.Kv;
const redis = new Redis({ lazyConnect: true });

// The plain contract: every storage of this package fits it as it is.
const memory: GramioStorage = inMemoryStorage();
const denoKv: GramioStorage = denoKvStorage(kv);
const viaRedis: GramioStorage = redisStorage(redis);
void [memory, denoKv, viaRedis];

// Handed straight to scenes, the value type is inferred from scenes' own.
scenes([], { storage: inMemoryStorage() });
scenes([], { storage: denoKvStorage(kv, { prefix: ["my-bot", "scenes"] }) });
scenes([], { storage: redisStorage(redis, { prefix: "my-bot:scenes:" }) });

// One storage object shared by sessions and scenes: name scenes' value type.
const shared = denoKvStorage<ScenesStorageData>(kv);
scenes([], { storage: shared });
session({ storage: shared, initial: () => ({ count: 0 }) });
const sharedMemory = inMemoryStorage<ScenesStorageData>();
scenes([], { storage: sharedMemory });
session({ storage: sharedMemory });

// The methods' results are what @gramio/storage promises.
const deleted: Promise<boolean> = denoKvStorage(kv).delete("42");
const deletedNow: boolean = inMemoryStorage().delete("42");
const setNow: void = inMemoryStorage().set("42", { count: 1 });
const setLater: Promise<void> = denoKvStorage(kv).set("42", { count: 1 });
void [deleted, deletedNow, setNow, setLater];

// A value type that is not scenes' is still refused.
// @ts-expect-error: a storage of numbers cannot hold scene records
scenes([], { storage: inMemoryStorage<number>() });

// And @gramio/storage adapters (JSON-only, no richValues flag) still fit the plugin.
declare const adapter: GramioStorage;
const asSessionStorage: Storage = adapter;
session({ storage: adapter });
void asSessionStorage;
