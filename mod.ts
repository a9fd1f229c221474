/**
 * Sessions for [GramIO](https://gramio.dev) bots: `ctx.session` holds
 * per-user data that survives restarts, is saved only when it changed, never
 * loses an update of the same user, and costs nothing in lazy mode when a
 * handler does not use it. Deno KV is the default storage.
 *
 * @example
 * ```ts
 * import { Bot } from "gramio";
 * import { session } from "@gramio/session";
 *
 * const bot = new Bot("TOKEN")
 *   .extend(session({ key: "sessionKey", initial: () => ({ apple: 1 }) }))
 *   .on("message", (context) => {
 *     return context.send(`apple count is ${++context.sessionKey.apple}`);
 *   });
 * ```
 *
 * @module
 */

export { session, type SessionPlugin } from "./src/plugin.ts";
export { type SessionStore, sessionStore } from "./src/session_store.ts";
export type {
  Session,
  SessionAssignment,
  SessionOptions,
  SessionProperty,
  SessionValue,
} from "./src/options.ts";
export {
  keyOf,
  type KeyPart,
  perBusinessConnection,
  perChat,
  perTopic,
  perUser,
  perUserInChat,
  type SessionContext,
  type SessionKeyResolver,
} from "./src/keys.ts";
export type { ConflictPolicy } from "./src/conflict.ts";
export type { Migration, Migrations } from "./src/migrations.ts";
export {
  SessionConflictError,
  SessionDataError,
  SessionError,
  SessionStorageError,
} from "./src/errors.ts";
export {
  type AsyncStorage,
  isListableStorage,
  isVersionedStorage,
  type ListableStorage,
  type MaybePromise,
  type SetOptions,
  type Storage,
  type VersionedStorage,
  type VersionedValue,
} from "./src/storage.ts";
export { type InMemoryStorage, inMemoryStorage } from "./src/storages/memory.ts";
export {
  type DenoKvStorage,
  denoKvStorage,
  type DenoKvStorageOptions,
} from "./src/storages/denokv/mod.ts";
export type { KvKeyPart, KvLike } from "./src/storages/denokv/kv.ts";
